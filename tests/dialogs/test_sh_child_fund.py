"""The Shanghai 少儿住院互助基金 form end to end: roster, fees, commands, bad input, restarts."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import SHANGHAI
from dialogs import EnrollmentDialogs
from dialogs.validators import generate_id_number

from tests.dialogs.conftest import POLICIES, Chat

SCHOOL_CODE, SCHOOL = "3101010001", "黄浦区北京东路小学"
CHILD_ID = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)


@pytest.fixture
async def roster(services):
    await services.roster.replace_school(SCHOOL_CODE, SCHOOL, [
        {"name": "韩小明", "id_number": CHILD_ID, "class_name": "三(2)班"}], services.clock.now())


async def to_confirm(chat: Chat, child_id: str = CHILD_ID, hardship: str = "否") -> str:
    for text in ["参保:sh-child-fund", "同意", "韩小明", child_id, "静安区联航路4号", "是",
                 hardship, "北京东路", "韩大明", "17612342353"]:
        reply = await chat.say(text)
        if not await chat.form_open():
            break
    return reply


async def test_full_enrolment_creates_the_application(chat, services, roster):
    confirm = await to_confirm(chat)
    assert "*****" + CHILD_ID[-4:] in confirm and CHILD_ID not in confirm
    assert "176****2353" in confirm and "参保学年：2026" in confirm
    assert "待遇开始时间：2026-09-01" in confirm and "待遇截止时间：2027-08-31" in confirm
    assert "缴费金额：150元" in confirm
    done = await chat.say("确认提交")
    assert "已提交" in done and "预审" in done and "再办一个" in done
    [app] = await services.applications.for_user(chat.user)
    assert app["status"] == "submitted" and app["scheme"] == "sh-child-fund"
    assert app["child"] == {"name": "韩小明", "id_type": "身份证", "id_number": CHILD_ID,
                            "birth_date": "2016-03-02", "sex": "男"}
    assert app["guardian"] == {"name": "韩大明", "phone": "17612342353"}
    assert (app["school_code"], app["school_name"], app["district"]) == (SCHOOL_CODE, SCHOOL, "黄浦区")
    assert app["amount_fen"] == 15000 and app["exempt"] is False and app["school_year"] == 2026
    assert app["address"] == "静安区联航路4号" and app["category"] == "上海户籍人员"
    assert app["details"]["hukou_district"] == "静安区"
    # Every field of the 一网通办 form is on the 确认 page, birth date and sex included (no separate question).
    for label in ("姓名", "证件类型：身份证", "证件号码", "性别：男", "出生日期：2016-03-02", "户籍所在区：静安区",
                  "详细地址", "人员类别：上海户籍人员", "参保单位所属区：黄浦区", "参保单位：", "参保学年", "待遇开始时间",
                  "待遇截止时间", "监护人姓名", "联系电话", "缴费金额"):
        assert label in confirm, label
    subscriber = await services.subscribers.get(chat.user)
    assert subscriber["schemes"] == ["sh-child-fund"] and subscriber["school_code"] == SCHOOL_CODE
    for reply in chat.replies:
        assert CHILD_ID not in reply.text and "17612342353" not in reply.text
    assert not (await chat.session()).get("enroll", {}).get("form")


async def test_exempt_child_pays_nothing(chat, services, roster):
    confirm = await to_confirm(chat, hardship="是")
    assert "缴费金额：免缴" in confirm
    await chat.say("确认提交")
    [app] = await services.applications.for_user(chat.user)
    assert app["exempt"] is True and app["amount_fen"] == 0


async def test_child_missing_from_uploaded_roster_is_sent_to_the_school(chat, services, roster):
    other = generate_id_number(dt.date(2017, 4, 5), "女", seq=20)
    reply = await to_confirm(chat, child_id=other)
    assert f"“{SCHOOL}”上传的在籍名册中没有查到" in reply and "联系就读学校线下办理参保" in reply
    assert await services.applications.for_user(chat.user) == []
    assert not await chat.form_open()


async def test_school_without_roster_still_sends_guardian_to_school(chat, services):
    reply = await to_confirm(chat)
    assert "还没有上传" in reply and SCHOOL in reply and "联系就读学校线下办理参保" in reply


async def test_after_a_dead_end_other_messages_are_answered_and_the_form_stays_closed(chat, services):
    assert "还没有上传" in await to_confirm(chat)
    assert (await chat.say("报销多少钱")) == "（回答）\n\n"  # the router answers; no form to come back to
    assert "（回答）" in await chat.say("上一步") and not await chat.form_open()  # only right after the end
    assert "请问要为孩子办理哪一项" in await chat.say("我要参保")  # a fresh start, as usual


async def test_roster_school_of_record_replaces_a_wrong_choice(chat, services):
    await services.roster.replace_school("3101010005", "黄浦区复兴东路第三小学", [
        {"name": "韩小明", "id_number": CHILD_ID, "class_name": "一(1)班"}], services.clock.now())
    confirm = await to_confirm(chat)
    assert "参保单位：黄浦区复兴东路第三小学" in confirm


async def test_passport_holder_is_asked_sex_and_birth_date(chat, roster):
    for text in ["参保:sh-child-fund", "同意", "JOHN SMITH"]:
        await chat.say(text)
    assert "性别" in await chat.say("E12345678")  # the document follows from the number's format
    assert (await chat.session())["enroll"]["form"]["slots"]["child"]["id_type"] == "护照"
    assert "出生日期" in await chat.say("男")
    assert "请按" in await chat.say("明年")
    assert "户籍" in await chat.say("2015-06-01")


async def test_commands_back_modify_cancel_restart(chat, services, roster):
    await to_confirm(chat)
    reply = await chat.say("修改手机号")
    assert "当前：176****2353" in reply
    confirm = await chat.say("13912345678")
    assert "参保信息确认" in confirm and "139****5678" in confirm
    reply = await chat.say("修改姓名")
    assert "当前：韩小明" in reply
    assert "参保信息确认" in await chat.say("韩晓明")
    assert "当前：139****5678" in await chat.say("上一步")  # back from 确认 → the last question
    assert "参保信息确认" in await chat.say("13912345678")
    assert "取消" in await chat.say("取消")
    assert not await chat.form_open()
    await chat.say("参保:sh-child-fund")
    await chat.say("同意")
    await chat.say("韩小明")
    assert "办理须知" in await chat.say("重新开始")
    session = await chat.session()
    assert session["enroll"]["form"]["slots"] == {}


async def test_back_returns_to_the_previous_question(chat):
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    reply = await chat.say("上一步")
    assert "姓名" in reply and "当前：韩小明" in reply
    assert "证件号码" in await chat.say("韩小明")


async def test_change_of_id_type_forgets_the_old_number(chat, roster):
    await to_confirm(chat)
    await chat.say("修改证件类型")
    assert "证件号码" in await chat.say("户口簿")
    confirm = await chat.say(CHILD_ID)
    assert "参保信息确认" in confirm and "证件类型：户口簿" in confirm and "出生日期：2016-03-02" in confirm


async def test_handoff_progress_and_digression(chat, services):
    for text in ["参保:sh-child-fund", "同意"]:
        await chat.say(text)
    reply = await chat.say("转人工")
    assert "人工" in reply and "我们继续" in reply
    assert await services.store.count("handoff") == 1
    assert "正在填写" in await chat.say("进度")
    before = len([r for r in chat.replies if r.digression])
    reply = await chat.say("住院能报销多少？")
    assert chat.replies[-1].digression and "我们继续：" in chat.replies[-1].text
    assert len([r for r in chat.replies if r.digression]) == before + 1
    assert "证件号码" in await chat.say("韩小明")


@pytest.mark.parametrize("bad, fragment", [
    ("3101012016030229", "18位"),
    ("31010120160302299X", "校验位"),
    ("", "没有收到"),
    ("啊" * 500, "太长"),
    ("31010120161302299X", "出生日期"),
])
async def test_bad_id_numbers_are_reprompted_specifically(chat, bad, fragment):
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    assert fragment in await chat.say(bad)
    assert (await chat.session())["enroll"]["form"]["slots"]["child"]["name"] == "韩小明"


async def test_names_phones_schools_and_three_strikes(chat, roster):
    await chat.say("参保:sh-child-fund")
    await chat.say("同意")
    assert "表情" in await chat.say("小明😀")
    assert "数字" in await chat.say("小明2")
    assert "证件号码" in await chat.say("买买提·𠀾力")
    for text in [CHILD_ID, "静安区联航路4号", "是", "否"]:
        await chat.say(text)
    assert "没有找到" in await chat.say("不存在的学校")
    pasted = await chat.say(CHILD_ID)  # the ID number pasted where the school was asked: never echoed in full
    assert "没有找到" in pasted and CHILD_ID not in pasted and f"*****{CHILD_ID[-4:]}" in pasted
    assert "已选择" in await chat.say("北京东路")
    await chat.say("韩大明")
    assert "只能包含数字" in await chat.say("1761234abcd")
    assert "11位" in await chat.say("1761234")
    third = await chat.say("phone")
    assert "转人工" in third and "已填写的信息都会保留" in third
    assert "参保信息确认" in await chat.say("17612342353")


async def test_restart_of_the_bot_mid_form_continues(chat, services, roster):
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    fresh = Chat(services, EnrollmentDialogs(chat.dialogs.engine, POLICIES), user=chat.user)
    assert "户籍" in await fresh.say(CHILD_ID)


async def test_abandoned_form_resumes_then_expires(chat, services, clock):
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    clock.advance(hours=3)
    reply = await chat.say("在吗")
    assert "上次办理" in reply and "证件号码" in reply and "韩小明" in reply
    assert "证件号码" in await chat.say("继续")
    clock.advance(days=8)
    reply = await chat.say("1")
    assert "超过7天" in reply
    assert not await chat.form_open()


async def test_out_of_window_offers_a_reminder(chat, services, clock):
    clock.set(dt.datetime(2026, 10, 10, 9, 0, tzinfo=SHANGHAI))
    reply = await chat.say("参保:sh-child-fund")
    assert "不在" in reply and "2027年9月1日" in reply and "提醒我" in reply
    assert "提醒" in await chat.say("提醒我")
    assert (await services.subscribers.get(chat.user))["reminders"] == ["sh-child-fund"]
    assert await services.applications.for_user(chat.user) == []


async def test_second_child_reuses_guardian_and_duplicates_are_refused(chat, services, roster):
    second = generate_id_number(dt.date(2018, 7, 1), "女", seq=40)
    await services.roster.replace_school(SCHOOL_CODE, SCHOOL, [
        {"name": "韩小明", "id_number": CHILD_ID}, {"name": "韩小红", "id_number": second}], services.clock.now())
    await to_confirm(chat)
    await chat.say("确认提交")
    assert "沿用" in await chat.say("再办一个")
    for text in ["同意", "韩小红", second, "否"]:
        reply = await chat.say(text)
    reply = await chat.say("北京东路")
    assert "参保信息确认" in reply and "韩大明" in reply and "176****2353" in reply
    await chat.say("确认提交")
    apps = await services.applications.for_user(chat.user)
    assert sorted(a["child"]["name"] for a in apps) == ["韩小明", "韩小红"]
    progress = await chat.say("进度")
    assert "韩小明" in progress and "韩小红" in progress
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    refused = await chat.say(CHILD_ID)  # told right after the ID number, not after the whole form
    assert "不需要重复办理" in refused and "编号" in refused and "户籍" not in refused


async def test_qr_scene_school_is_preselected(chat, services, roster):
    session, version = await services.sessions.load(chat.user)
    session["scene_school"] = SCHOOL_CODE
    await services.sessions.save(chat.user, session, version)
    for text in ["参保:sh-child-fund", "同意", "韩小明", CHILD_ID, "静安区联航路4号", "是"]:
        await chat.say(text)
    reply = await chat.say("否")
    assert SCHOOL in reply and "二维码" in reply
    assert "监护人姓名" in await chat.say("是")


async def test_injected_submitter_gets_the_stored_application(services, engine, roster):
    seen = []

    class Recorder:
        async def submit(self, turn, application):
            seen.append(application)
            return "预审已发起。"

    chat = Chat(services, EnrollmentDialogs(engine, POLICIES, submitter=Recorder()))
    await to_confirm(chat)
    assert "预审已发起。" in await chat.say("确认提交")
    stored = await services.applications.get(seen[0]["id"])
    assert stored["child"]["id_number"] == CHILD_ID


async def test_machines_are_shared_and_never_hold_guardians(chat, roster):
    machines = {id(m.machine) for m in chat.dialogs.machines.values()}
    await to_confirm(chat)
    assert {id(m.machine) for m in chat.dialogs.machines.values()} == machines
    assert all(m.machine.models == [] for m in chat.dialogs.machines.values())


async def test_changed_id_number_is_checked_against_the_roster_again(chat, services, roster):
    await to_confirm(chat)
    await chat.say("修改证件号码")
    other = generate_id_number(dt.date(2017, 4, 5), "女", seq=20)
    reply = await chat.say(other)
    assert "没有查到" in reply and not await chat.form_open()


async def test_window_closing_mid_form_does_not_submit(chat, services, clock, roster):
    clock.set(dt.datetime(2026, 9, 30, 23, 55, tzinfo=SHANGHAI))
    await to_confirm(chat)
    clock.set(dt.datetime(2026, 10, 1, 0, 5, tzinfo=SHANGHAI))
    reply = await chat.say("确认提交")
    assert "没有提交" in reply and "提醒我" in reply
    assert await services.applications.for_user(chat.user) == []


async def test_declining_to_resume_drops_the_draft(chat, clock):
    for text in ["参保:sh-child-fund", "同意", "韩小明"]:
        await chat.say(text)
    clock.advance(hours=1)
    assert "继续吗" in await chat.say("你好")
    assert "已放弃" in await chat.say("不用")
    assert not await chat.form_open()


@pytest.mark.parametrize("id_type, good, bad, hint", [
    ("港澳居民来往内地通行证", "H12345678", "A1234567", "H或M开头"),
    ("港澳台居民居住证", generate_id_number(dt.date(2015, 1, 1), "女", region="810000", seq=7), CHILD_ID, "810000"),
])
async def test_other_documents_are_format_checked_then_sex_is_asked(chat, roster, id_type, good, bad, hint):
    """The type is chosen on the 确认 page (修改证件类型): then the number is checked for that document."""
    await to_confirm(chat)
    await chat.say("修改证件类型")
    await chat.say(id_type)
    assert hint in await chat.say(bad)
    after = await chat.say(good)
    assert "没有查到" in after  # accepted as that document, then checked against the school's roster


async def test_the_document_follows_from_the_number_format(chat):
    permit = generate_id_number(dt.date(2015, 1, 1), "女", region="810000", seq=7)
    for text in ["参保:sh-child-fund", "同意", "陈小港"]:
        await chat.say(text)
    assert "性别" in await chat.say("H12345678")
    assert (await chat.session())["enroll"]["form"]["slots"]["child"]["id_type"] == "港澳居民来往内地通行证"
    await chat.say("取消")
    for text in ["参保:sh-child-fund", "同意", "陈小港"]:
        await chat.say(text)
    assert "户籍" in await chat.say(permit)  # birth date and sex come from the permit's number, as from an ID
    child = (await chat.session())["enroll"]["form"]["slots"]["child"]
    assert child["id_type"] == "港澳台居民居住证" and child["birth_date"] == "2015-01-01" and child["sex"] == "女"


async def test_confirm_repeated_after_a_lost_session_save_reports_the_first_submission(chat, services, roster):
    await to_confirm(chat)
    before, _ = await services.sessions.load(chat.user)
    await chat.say("确认提交")
    # The store failed while saving the session (系统繁忙): the application exists, the form does not know.
    _, version = await services.sessions.load(chat.user)
    await services.sessions.save(chat.user, before, version)
    reply = await chat.say("确认提交")
    [app] = await services.applications.for_user(chat.user)
    assert "已经提交过" in reply and app["id"] in reply and "不需要重复办理" in reply


@pytest.mark.parametrize("ack", ["好的", "嗯", "ok", "可以", "知道了"])
async def test_an_acknowledgement_does_not_agree_to_the_policy_terms(chat, ack):
    await chat.say("参保:sh-child-fund")
    reply = await chat.say(ack)
    assert "同意" in reply and "姓名" not in reply
    assert not (await chat.session())["enroll"]["form"]["slots"].get("flags", {}).get("consent")
    assert "姓名" in await chat.say("同意")


async def test_a_school_typed_for_the_childs_name_is_refused(chat):
    await chat.say("参保:sh-child-fund")
    await chat.say("同意")
    reply = await chat.say("北京东路小学")
    assert "学校" in reply and "北京东路小学的证件号码" not in reply
    assert "韩小明的证件号码" in await chat.say("韩小明")


async def test_a_school_named_inside_a_sentence_is_searched(chat, roster):
    for text in ["参保:sh-child-fund", "同意", "韩小明", CHILD_ID, "静安区联航路4号", "是", "否"]:
        await chat.say(text)
    assert "已选择" in await chat.say("不知道是哪个区，孩子在北京东路小学读书")


async def test_a_school_named_in_a_sentence_is_searched_not_taken_for_a_question(chat, roster):
    for text in ["参保:sh-child-fund", "同意", "韩小明", CHILD_ID, "静安区联航路4号", "是", "否"]:
        await chat.say(text)
    reply = await chat.say("不知道哪个学校，幼儿园叫火星幼儿园")
    assert ("找到以下学校" in reply or "没有找到" in reply) and not chat.replies[-1].digression
