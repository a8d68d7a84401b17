"""Issue 15 item 7: the reply cache is keyed by the sender and the MsgId: another guardian whose message
carries the same MsgId gets their own answer, never the first guardian's; a genuine retry of the same
guardian's message is still answered from the cache without a second turn."""
from __future__ import annotations

from tests.e2e.test_webhook_protocol import bot  # noqa: F401 - the fixture
from tests.wechat_client import next_msg_id


async def test_same_msg_id_from_two_guardians_gets_two_answers(bot):  # noqa: F811
    _, sender, *_ = bot
    msg_id = next_msg_id()
    assert await sender.say("u-first", "我的孩子叫韩小明", msg_id=msg_id) == "第1条 text   我的孩子叫韩小明"
    other = await sender.say("u-second", "你好", msg_id=msg_id)
    assert other == "第1条 text   你好"
    assert await sender.say("u-first", "我的孩子叫韩小明", msg_id=msg_id) == "第1条 text   我的孩子叫韩小明"  # retry
