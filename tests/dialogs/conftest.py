"""A guardian chatting with EnrollmentDialogs over a real SQLite store, the real rule engine and the
shipped forms. `Chat.say` plays one turn the way the router does (session loaded and saved)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.clock import SHANGHAI, Clock
from bot.config import ROOT, Settings
from bot.rules import RuleEngine
from bot.services import Services, build_services
from bot.store.sqlite import SQLiteStore
from bot.turn import Incoming, Turn
from dialogs import DialogReply, EnrollmentDialogs

POLICIES = ROOT / "policies"
_ENGINE = RuleEngine.load(POLICIES)


@dataclass
class FakeUnderstanding:
    intent: str
    confidence: float
    slots: dict = field(default_factory=dict)


def understand(text: str) -> FakeUnderstanding:
    """Stands in for bot.nlu: a few question words are questions, "参保:<scheme>" enrols."""
    if text.startswith("参保:") or text == "我要参保":
        return FakeUnderstanding("enroll", 1.0, {"scheme": text[3:]} if ":" in text else {})
    if any(w in text for w in ("报销", "多少钱", "费用", "截止", "材料")):
        return FakeUnderstanding("fee", 0.9)
    return FakeUnderstanding("unclear", 0.1)


class Chat:
    def __init__(self, services: Services, dialogs: EnrollmentDialogs, user: str = "o-guardian-1") -> None:
        self.services, self.dialogs, self.user = services, dialogs, user
        self.replies: list[DialogReply] = []
        self.digressions = 0

    @property
    def now(self) -> dt.datetime:
        return self.services.clock.now()

    async def turn(self, text: str = "", kind: str = "text", **incoming: Any) -> tuple[Turn, int]:
        session, version = await self.services.sessions.load(self.user)
        msg = Incoming(user_id=self.user, kind=kind, text=text, **incoming)
        return Turn(incoming=msg, session=session, services=self.services, now=self.now), version

    async def say(self, text: str = "", kind: str = "text", **incoming: Any) -> str:
        turn, version = await self.turn(text, kind, **incoming)
        if self.dialogs.is_active(turn.session):
            reply = await self.dialogs.handle(turn, understand)
        elif text in ("我要参保", "再办一个") or text.startswith("参保:"):
            scheme = text.split(":", 1)[1] if text.startswith("参保:") else None
            reply = await self.dialogs.start(turn, scheme)
        elif text == "进度":
            reply = DialogReply(await self.dialogs.progress(turn))
        else:
            reply = DialogReply("（路由器回答）", digression=True)
        await self.services.sessions.save(self.user, turn.session, version)
        self.replies.append(reply)
        if reply.digression:
            self.digressions += 1
            return "（回答）\n\n" + reply.text
        return reply.text

    async def session(self) -> dict:
        return (await self.services.sessions.load(self.user))[0]

    async def form_open(self) -> bool:
        """A form is being filled (one that ended at a dead end stays reopenable for one message, but
        is no longer open)."""
        return bool(((await self.session()).get("enroll") or {}).get("form"))


@pytest.fixture(scope="session")
def engine() -> RuleEngine:
    return _ENGINE


@pytest.fixture
def clock() -> Clock:
    return Clock(dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI))


@pytest.fixture
async def services(tmp_path: Path, clock: Clock):
    store = SQLiteStore(str(tmp_path / "bot.db"))
    settings = Settings(data_dir=tmp_path, data_key="0" * 64, policies_dir=POLICIES)
    services = build_services(settings, store=store, clock=clock)
    yield services
    await store.close()


@pytest.fixture(scope="session")
def dialogs(engine: RuleEngine) -> EnrollmentDialogs:
    """Shared like in the bot: all per-guardian state lives in the session, none in the dialogs."""
    return EnrollmentDialogs(engine, POLICIES)


@pytest.fixture
def chat(services: Services, dialogs: EnrollmentDialogs) -> Chat:
    return Chat(services, dialogs)
