"""The embedded default pre-review: checks the application against the rules and the school rosters.

The real platform checks 在籍在册 data uploaded by schools and the insurance registers; here the
imported school rosters and the rule engine stand in for them. The checks are passed in as
callables so this module knows nothing of the bot's repositories or rule engine.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from integrations.enrollment.base import APPROVED, REJECTED, ReviewResult

RosterLookup = Callable[[str], Awaitable[list[dict[str, Any]]]]  # ID number -> roster entries (any school)
SchoolHasRoster = Callable[[str], Awaitable[bool]]  # school code -> has the school uploaded a roster?
RuleCheck = Callable[[dict[str, Any]], str | None]  # application -> refusal reason, or None when eligible
RosterRequired = Callable[[dict[str, Any]], bool]  # application -> must the child be on a roster?

OFFLINE = "请联系学校线下办理"


class RosterReview:
    def __init__(self, roster_lookup: RosterLookup, school_has_roster: SchoolHasRoster,
                 rule_check: RuleCheck | None = None, roster_required: RosterRequired | None = None) -> None:
        self.roster_lookup, self.school_has_roster = roster_lookup, school_has_roster
        self.rule_check = rule_check or (lambda application: None)
        self.roster_required = roster_required or (lambda application: False)

    async def submit(self, application: dict[str, Any]) -> ReviewResult:
        reference = "PR" + str(application.get("id", ""))
        reason = self.rule_check(application)
        if reason:
            return ReviewResult(REJECTED, reason, reference)
        reason = await self._roster_reason(application)
        if reason:
            return ReviewResult(REJECTED, reason, reference)
        return ReviewResult(APPROVED, "", reference)

    async def result(self, application: dict[str, Any]) -> ReviewResult:
        return await self.submit(application)  # decided at once: polling just reviews again

    async def _roster_reason(self, application: dict[str, Any]) -> str | None:
        child = application.get("child") or {}
        school_code = str(application.get("school_code") or "")
        needs_roster = self.roster_required(application) or (
            bool(school_code) and await self.school_has_roster(school_code))
        if not needs_roster:
            return None
        id_number = str(child.get("id_number") or "")
        entries = await self.roster_lookup(id_number) if id_number else []
        if school_code:
            entries = [e for e in entries if str(e.get("school_code")) == school_code]
        if not entries:
            school = application.get("school_name") or "所选学校"
            return f"{school}上传的在籍名单中没有找到该儿童，{OFFLINE}。"
        roster_name = str(entries[0].get("name") or "").strip()
        if roster_name and child.get("name") and roster_name != str(child["name"]).strip():
            return f"儿童姓名与学校上传的在籍名单不一致，请核对后重新申请，或{OFFLINE}。"
        return None
