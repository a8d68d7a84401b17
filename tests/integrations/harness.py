"""The bot under test and what the dialog would do, shared by the integration tests."""
from __future__ import annotations

import base64
import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any

from bot.clock import SHANGHAI, Clock
from bot.config import Settings
from bot.delivery import outbox
from bot.fulfilment import Fulfilment
from bot.services import Services, build_services
from bot.turn import Incoming, Turn
from dialogs.validators import generate_id_number

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI)
SCHEME = "sh-child-fund"
SCHOOL = "310104001"
LINK_RE = re.compile(r'<a href="([^"]+)">')
_seq = itertools.count(1)


class Bot:
    """A bot under test: `services`, `fulfilment`, the clock, and what the dialog would do."""

    def __init__(self, services: Services, fulfilment: Fulfilment) -> None:
        self.services, self.fulfilment = services, fulfilment
        self.clock: Clock = services.clock

    async def enrol_child(self, user: str = "", *, on_roster: bool = True, scheme: str = SCHEME,
                          **fields: Any) -> dict[str, Any]:
        """Store an application as the dialog does (status submitted); the child is put on the roster."""
        n = next(_seq)
        user = user or f"o-guardian-{n}"
        child = {"name": fields.pop("child_name", f"测试儿童{n}"),
                 "id_number": generate_id_number(dt.date(2016, 3, 1), "男", seq=n)}
        if on_roster:
            await self.services.roster.replace_school(SCHOOL, "徐汇区测试小学", [
                *(await self._roster_entries()), {"name": child["name"], "id_number": child["id_number"], "class_name": "三(2)班"}],
                self.clock.now())
        data = {"child": child, "school_code": SCHOOL, "school_name": "徐汇区测试小学", "amount_fen": 15000,
                "exempt": False, "details": {"in_school": True, "school_city": "上海", "school_stage": "primary",
                                            "roster_uploaded": True, "employee_insurance": False}}
        data.update(fields)
        return await self.services.applications.create(user, scheme, data, self.clock.now())

    async def _roster_entries(self) -> list[dict[str, Any]]:
        rows = await self.services.store.query("roster", school_code=SCHOOL)
        return [{"name": r.data["name"], "id_number": self.services.cipher.decrypt(r.data["id_number"]),
                 "class_name": r.data.get("class_name", "")} for _, r in rows]

    async def submit(self, application: dict[str, Any], run_followups: bool = True) -> tuple[str, Turn]:
        turn = Turn(Incoming(user_id=application["user_id"], kind="text", text="确认提交"), {}, self.services,
                    self.clock.now())
        reply = await self.fulfilment.submit(turn, application)
        if run_followups:
            await self.run(turn)
        return reply, turn

    async def run(self, turn: Turn) -> None:
        for followup in turn.followups:
            await followup(self.services)

    async def status(self, app_id: str) -> str:
        return (await self.services.applications.get(app_id))["status"]

    async def messages(self, user: str) -> list[str]:
        return await outbox(self.services).peek(user)

    async def pay_link(self, user: str) -> str:
        links = [m for text in await self.messages(user) for m in LINK_RE.findall(text)]
        assert links, await self.messages(user)
        return links[-1]


def make_services(tmp_path: Path, store: Any, **settings: Any) -> Services:
    key = base64.urlsafe_b64encode(b"k" * 32).decode()
    base = dict(data_key=key, data_dir=tmp_path, wechat_token="tok", public_url="http://127.0.0.1:9")
    base.update(settings)
    return build_services(Settings(**base), store=store, clock=Clock(NOW))
