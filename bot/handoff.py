"""转人工: a guardian's request for a person, kept for the staff inbox (/admin/handoffs).

While the request is not closed, the guardian's later messages are added to it, so staff read the
whole story; the bot still answers them as usual. The staff hours told to the guardian are only those
the operator configured (BOT_STAFF_HOURS): the seeds state none, so none are made up.
"""
from __future__ import annotations

from typing import Any

from bot.privacy import redact

SESSION_KEY = "handoff"  # the id of the guardian's request while it may still be open


def acknowledgement(settings: Any) -> str:
    """What the guardian is told when the request is recorded."""
    hours = getattr(settings, "staff_hours", "")
    return ("已为您转接人工客服，工作人员会在公众号里回复您"
            + (f"（人工客服时间：{hours}）" if hours else "") + "。")


async def request_handoff(turn: Any, text: str, **details: Any) -> dict[str, Any]:
    """Open the guardian's request (or add these words to the one in progress) and remember it in the session."""
    record = await turn.services.handoffs.request(turn.user_id, turn.now, redact(text or "转人工"), **details)
    turn.session[SESSION_KEY] = record["id"]
    turn.handoff_recorded = True
    return record


async def note_follow_up(turn: Any) -> None:
    """A message from a guardian whose request may be open: added to it, unless this very turn recorded it.
    Forgotten once staff closed the request."""
    handoff_id = turn.session.get(SESSION_KEY)
    text = turn.incoming.text or _describe(turn.incoming)
    if not handoff_id or turn.handoff_recorded or not text:
        return
    if not await turn.services.handoffs.add_message(handoff_id, turn.now, redact(text)):
        turn.session.pop(SESSION_KEY, None)


def _describe(incoming: Any) -> str:
    """Non-text messages are noted by kind, so staff know something arrived (events are not messages)."""
    return {"image": "［图片］", "voice": "［语音］", "video": "［视频］", "location": "［位置］",
            "link": "［链接］"}.get(incoming.kind, "")
