"""Ports the enrolment dialogs call out through; the application injects the real implementations."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from bot.turn import Turn


class Submitter(Protocol):
    """Hands a confirmed application on (pre-review, payment order …).

    The dialog has already stored `application` durably (status `submitted`, via
    `turn.services.applications.create`) before calling `submit`; the submitter updates that record
    by its `id` and returns the Chinese text to tell the guardian. It must never invent a payment
    link: slow work goes to `turn.followups` and reaches the guardian by message later."""

    async def submit(self, turn: "Turn", application: dict[str, Any]) -> str: ...

    async def progress_note(self, application: dict[str, Any]) -> str:
        """What to add to the status line in 办理进度 (the pay link and deadline, a rejection's reason); "" for nothing."""
        ...


class LocalSubmitter:
    """Default: the application is recorded and waits for 预审; nothing else happens here."""

    async def submit(self, turn: "Turn", application: dict[str, Any]) -> str:
        return (f"申请已提交（编号 {application['id']}），正在等待预审。"
                "预审结果会通过消息通知您，请留意公众号消息；也可随时回复“进度”查看。")

    async def progress_note(self, application: dict[str, Any]) -> str:
        return ""
