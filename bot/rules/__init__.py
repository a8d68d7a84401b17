"""Rule engine: loads the policy packs in policies/*.yaml and answers eligibility, reimbursement,
fee, calendar and procedure questions from them. Policy numbers live only in the packs."""
from bot.rules.engine import RuleEngine
from bot.rules.errors import PolicyError, UnknownScheme
from bot.rules.facts import FACTS
from bot.rules.model import (CalendarEvent, EligibilityResult, FeeResult, FeeTier, ProcedureItem,
                             ReimbursementResult, RuleRef, SchemePack, Window, WindowInfo)

__all__ = ["RuleEngine", "PolicyError", "UnknownScheme", "FACTS", "CalendarEvent", "EligibilityResult",
           "FeeResult", "FeeTier", "ProcedureItem", "ReimbursementResult", "RuleRef", "SchemePack", "Window",
           "WindowInfo"]
