"""Issue 13 through the real webhook (signed XML in and out, router, NLU, answers, dialogs): what guardians
really type — a homophone, a new question while another waits, English, a typo of 上一步 inside a form,
junk — each from its own guardian, on 2026-12-04 (Shanghai resident insurance's declaration is open)."""
from __future__ import annotations

import pytest

from tests.wechat_client import in_process_bot


@pytest.fixture
async def sender(aiohttp_client, tmp_path):
    _, sender, _ = await in_process_bot(aiohttp_client, tmp_path, "2026-12-04T10:00:00+08:00")
    return sender


async def test_a_homophone_of_a_figure_question_asks_which_scheme(sender):
    reply = await sender.say("g-typo", "参宝要多少钱")
    assert "请回复序号" in reply and "元" not in reply
    answer = await sender.say("g-typo", "1")
    assert answer.startswith("少儿住院互助基金，按2024年度标准：") and "150元" in answer


async def test_a_new_question_while_one_waits_is_answered_as_itself(sender):
    first = await sender.say("g-pending", "上海居民医保住院能报多少")
    assert "费用总额" in first
    second = await sender.say("g-pending", "今天能交吗")
    assert second.startswith("可以。上海居民医保") and "12月11日" in second


async def test_english_gets_the_bots_parts_in_english(sender):
    reply = await sender.say("g-en", "How much is the Shanghai children's hospitalization fund a year?")
    assert reply.startswith("Shanghai Children's Hospitalization Mutual Fund") and "150 yuan" in reply


async def test_a_typo_of_back_works_inside_the_form(sender):
    await sender.say("g-form", "我要参保")
    await sender.say("g-form", "宁波机关事业单位子女城乡居民医保参保")
    await sender.say("g-form", "好的")
    back = await sender.say("g-form", "上一部")
    assert back.startswith("（当前：")  # the step before, shown as answered: 上一部 was read as 上一步


@pytest.mark.parametrize("junk", ["😀😀😀", "\u200b\u200b\t", "啊" * 1500, "shanghai少儿fund多少钱？？"])
async def test_junk_gets_a_clear_reply(sender, junk):
    reply = await sender.say("g-junk", junk)
    assert reply.strip() and "出了点问题" not in reply


@pytest.mark.parametrize("thanks", ["thanks", "Thank you!", "谢谢！！"])
async def test_thanks_in_any_language_is_thanked(sender, thanks):
    assert (await sender.say("g-thanks", thanks)).startswith("不客气")
