"""Builds the conversation components once at start-up: rules, NLU, answers, dialogs, fulfilment."""
from __future__ import annotations

from bot.services import Services


def build_router(services: Services):
    """Load every policy pack and model; raises (and the server refuses to start) on a broken pack."""
    from bot.answers import QuestionAnswerer
    from bot.conversation import Router
    from bot.fulfilment import Fulfilment
    from bot.nlu import Nlu
    from bot.rules import RuleEngine
    from dialogs import EnrollmentDialogs

    settings = services.settings
    engine = RuleEngine.load(settings.policies_dir)
    aliases = {sid: list(engine.pack(sid).aliases) for sid in engine.scheme_ids}
    nlu = Nlu.load(settings.policies_dir, settings.data_dir / "jieba-cache", scheme_aliases=aliases)
    qa = QuestionAnswerer(engine, nlu)
    fulfilment = Fulfilment(services, engine)
    dialogs = EnrollmentDialogs(engine, settings.policies_dir, submitter=fulfilment)
    services.extras.update(engine=engine, nlu=nlu, qa=qa, dialogs=dialogs, fulfilment=fulfilment)
    return Router(nlu, qa, dialogs)
