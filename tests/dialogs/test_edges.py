"""Odd messages inside a form: other message kinds, unknown fields, questions after submission."""
from __future__ import annotations

import datetime as dt

from dialogs.validators import generate_id_number


async def start(chat) -> None:
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)


async def test_other_message_kinds_are_reprompted(chat):
    await start(chat)
    assert "文字" in await chat.say(kind="location")
    assert "不需要图片" in await chat.say(kind="image", media_id="M", pic_url="http://x/y.jpg")
    assert "18位" in await chat.say("310101", kind="voice")  # recognised voice counts as text


async def test_tapped_option_text_and_unknown_field(chat):
    await start(chat)
    reply = await chat.say("修改星座")
    assert "可以修改：姓名。" in reply  # only what has been filled in so far


async def test_three_bad_choices_offer_help_without_losing_anything(chat):
    await start(chat)
    await chat.say("310101201603022993")
    await chat.say("静安区联航路4号")
    for _ in range(2):
        reply = await chat.say("好的")
        assert "是" in reply and "否" in reply and "转人工" not in reply
    reply = await chat.say("嗯")
    assert "转人工" in reply
    assert (await chat.session())["enroll"]["form"]["slots"]["child"]["name"] == "韩小明"


async def test_question_after_submission_goes_to_the_answerer(chat, services):
    child = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
    await services.roster.replace_school("3101010001", "黄浦区北京东路小学", [
        {"name": "韩小明", "id_number": child}], services.clock.now())
    for text in ["参保:sh-child-fund", "同意", "韩小明", child, "静安区联航路4号", "是", "否",
                 "北京东路", "韩大明", "17612342353", "确认提交"]:
        await chat.say(text)
    reply = await chat.say("什么时候能收到短信")
    assert chat.replies[-1].digression and "再办一个" in reply
    assert not chat.dialogs.is_active(await chat.session())
    assert "沿用" in await chat.say("再办一个")  # still possible later: dialogs.start sees "再办一个"


async def test_question_while_choosing_a_scheme(chat):
    await chat.say("我要参保")
    await chat.say("多少钱？")
    assert chat.replies[-1].digression
    assert "已退出" in await chat.say("取消")
    assert not chat.dialogs.is_active(await chat.session())


async def test_a_bug_inside_a_hook_keeps_the_form(chat, monkeypatch):
    await start(chat)
    from dialogs import hooks

    async def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(hooks.HOOKS, "age", broken)
    reply = await chat.say("310101201603022993")
    assert "没有处理好" in reply and "都还在" in reply
    session = await chat.session()
    assert session["enroll"]["form"]["state"] == "id_number"
    assert session["enroll"]["form"]["slots"]["child"]["name"] == "韩小明"


async def test_start_while_a_form_is_open_resumes_it(chat, dialogs):
    await start(chat)
    turn, _version = await chat.turn("我要参保")
    reply = await dialogs.start(turn, "bj-child-student")
    assert "接着上次的进度" in reply.text and "证件号码" in reply.text
    assert dialogs.school_name("3101010001") == "黄浦区北京东路小学" and dialogs.school_name("nope") == ""


async def test_changing_the_school_district_asks_the_school_again(chat, services):
    child = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
    await services.roster.replace_school("3101150001", "浦东新区东方路小学", [
        {"name": "韩小明", "id_number": child}], services.clock.now())
    for text in ["参保:sh-child-fund", "同意", "韩小明", child, "静安区联航路4号", "是", "否",
                 "北京东路", "韩大明", "17612342353"]:
        reply = await chat.say(text)
    assert "参保单位：浦东新区东方路小学" in reply  # the roster's school of record
    assert "当前：浦东新区东方路小学" in await chat.say("修改参保单位所属区")  # the school step, searched by district
    listed = await chat.say("徐汇")  # a district narrows the search to its schools
    assert "也可以直接点选" in listed and "徐汇区" in listed
    reply = await chat.say("漕溪北路")
    assert "在籍于“浦东新区东方路小学”" in reply and "参保单位：浦东新区东方路小学" in reply


async def test_a_question_mid_form_tells_the_answerer_which_scheme(chat):
    await start(chat)
    await chat.say("这个要交多少钱？")
    session = await chat.session()
    assert session["qa"]["scheme"] == "sh-child-fund" and session["qa"]["city"] == "上海"


async def test_a_question_that_would_pass_as_an_address_is_answered(chat):
    for text in ["参保:sh-child-fund", "同意", "韩小明", "310101201603022993"]:
        await chat.say(text)
    reply = await chat.say("地址要写到门牌号吗")
    assert chat.replies[-1].digression and "我们继续：" in reply
    assert "address" not in (await chat.session())["enroll"]["form"]["slots"]


def test_resume_prompt_is_the_question_not_a_note():
    from dialogs.render import question_line

    prompt = "韩小明是否属于本市城乡低保家庭子女？\n（以民政部门提供的数据为准，不属于请回复“否”）\n"
    assert question_line(prompt) == "韩小明是否属于本市城乡低保家庭子女？"
    assert question_line("【办理须知】\n1. 说明\n我已阅读并同意？\n请回复：同意") == "请回复：同意"
    assert question_line("请输入姓名。") == "请输入姓名。"


async def test_a_question_while_a_proposal_is_pending_comes_back_to_that_yes_no(chat):
    for text in ["参保:sh-child-fund", "同意", "韩小明", "310101201603022993", "静安区联航路4号"]:
        await chat.say(text)
    reply = await chat.say("户籍是什么意思？")
    assert chat.replies[-1].digression and "上海市静安区" in reply and "对吗" in reply
    assert "低保" in await chat.say("是")  # the 是 answered the question shown again
    slots = (await chat.session())["enroll"]["form"]["slots"]
    assert slots["hukou_district"] == "静安区" and slots["category"] == "上海户籍人员"


async def test_a_question_when_the_qr_school_is_offered_comes_back_to_that_offer(chat, services):
    session, version = await services.sessions.load(chat.user)
    session["scene_school"] = "3101010001"
    await services.sessions.save(chat.user, session, version)
    for text in ["参保:sh-child-fund", "同意", "韩小明", "310101201603022993", "静安区联航路4号", "是"]:
        await chat.say(text)
    assert "二维码" in await chat.say("否")
    reply = await chat.say("学校要交什么材料？")
    assert chat.replies[-1].digression and "二维码" in reply and "这所学校吗" in reply


async def test_a_school_name_found_in_several_districts_is_listed_to_choose_from(chat):
    for text in ["参保:sh-child-fund", "同意", "韩小明", "310101201603022993", "静安区联航路4号", "是", "否"]:
        await chat.say(text)
    listed = await chat.say("特殊教育学校")  # no district asked first: the name is searched everywhere
    assert "上海市静安区特殊教育学校" in listed and "上海市浦东新区特殊教育学校" in listed
    chosen = await chat.say("2" if listed.index("浦东") < listed.index("静安") else "1")  # the 静安 one
    assert "已选择：上海市静安区特殊教育学校" in chosen  # (which has uploaded no roster: the form ends there)
    enroll = (await chat.session())["enroll"]
    slots = (enroll.get("form") or enroll["ended"])["slots"]
    assert slots["school_district"] == "静安区" and slots["school_name"] == "上海市静安区特殊教育学校"


async def test_a_no_with_the_right_district_takes_that_district(chat):
    for text in ["参保:sh-child-fund", "同意", "韩小明", "310101201603022993", "徐汇区漕溪北路100号"]:
        await chat.say(text)
    assert "低保" in await chat.say("不是，在静安区")
    slots = (await chat.session())["enroll"]["form"]["slots"]
    assert slots["hukou_district"] == "静安区" and slots["category"] == "上海户籍人员"
