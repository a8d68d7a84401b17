"""Builds the conversation components once at start-up: rules, NLU, answers, dialogs, fulfilment."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.services import Services


@dataclass(frozen=True)
class Understanding:
    """The parts that hold no conversation state and are slow to load (the NLU's dictionary): loaded
    once, they can serve several bots, e.g. the evaluation's fresh store per question."""

    engine: Any
    nlu: Any
    qa: Any


def load_understanding(settings: Settings) -> Understanding:
    """Load every policy pack and model; raises (and the server refuses to start) on a broken pack."""
    from bot.answers import QuestionAnswerer
    from bot.nlu import Nlu
    from bot.rules import RuleEngine

    engine = RuleEngine.load(settings.policies_dir)
    aliases = {sid: list(engine.pack(sid).aliases) for sid in engine.scheme_ids}
    cities = {sid: engine.pack(sid).city for sid in engine.scheme_ids}
    nlu = Nlu.load(settings.policies_dir, settings.data_dir / "jieba-cache", scheme_aliases=aliases, scheme_cities=cities)
    return Understanding(engine, nlu, QuestionAnswerer(engine, nlu))


def build_router(services: Services, understanding: Understanding | None = None):
    from bot.conversation import Router
    from bot.fulfilment import Fulfilment
    from dialogs import EnrollmentDialogs

    settings = services.settings
    u = understanding or load_understanding(settings)
    fulfilment = Fulfilment(services, u.engine)
    dialogs = EnrollmentDialogs(u.engine, settings.policies_dir, submitter=fulfilment)
    services.extras.update(engine=u.engine, nlu=u.nlu, qa=u.qa, dialogs=dialogs, fulfilment=fulfilment)
    return Router(u.nlu, u.qa, dialogs)
