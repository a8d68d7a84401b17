"""Ningbo, Xuancheng HFUT, Beijing 一小 and Shanghai resident-student forms, as their seeds describe."""
from __future__ import annotations

import datetime as dt

import pytest

from bot.clock import SHANGHAI
from dialogs.validators import generate_id_number, luhn_check_digit

KID = generate_id_number(dt.date(2016, 3, 2), "女", region="330203", seq=12)
INFANT = generate_id_number(dt.date(2023, 5, 6), "男", region="330203", seq=13)
ADULT = generate_id_number(dt.date(2004, 3, 2), "女", region="330203", seq=14)
STUDENT = generate_id_number(dt.date(2006, 5, 2), "男", region="340402", seq=33)


def card_number() -> str:
    payload = "622908123456789012"
    return payload + luhn_check_digit(payload)


async def run(chat, *texts) -> str:
    reply = ""
    for text in texts:
        reply = await chat.say(text)
    return reply


# ---- Ningbo ----------------------------------------------------------------------------------

async def test_ningbo_minor_gets_the_minor_tier_and_tax_payment_steps(chat, services):
    confirm = await run(chat, "参保:nb-civil-servant-children", "好的", "是", "王小丫", KID, "是", "王大", "13912345678")
    assert "缴费档次：中小学生（其他未成年人，6–18周岁）" in confirm and "个人缴费：220元" in confirm
    assert "2021年度标准" in confirm
    done = await chat.say("确认提交")
    assert "宁波税务" in done and "补缴" in done and "浙里办" in done
    [app] = await services.applications.for_user(chat.user)
    assert app["amount_fen"] == 22000 and app["category"].startswith("中小学生")


async def test_ningbo_infant_tier(chat):
    confirm = await run(chat, "参保:nb-civil-servant-children", "好的", "是", "王小宝", INFANT, "是", "王大", "13912345678")
    assert "婴幼儿" in confirm and "500元" in confirm


async def test_ningbo_too_old_is_refused_and_nothing_lost(chat):
    reply = await run(chat, "参保:nb-civil-servant-children", "好的", "是", "王大丫", ADULT)
    assert "超过18周岁" in reply and "学校" in reply
    assert (await chat.session())["enroll"]["form"]["slots"]["child"]["name"] == "王大丫"


async def test_ningbo_hukou_outside_goes_the_employer_route(chat, services):
    reply = await run(chat, "参保:nb-civil-servant-children", "好的", "是", "王小丫", KID, "否")
    assert "单位" in reply and "区医疗保障管理中心" in reply
    assert not await chat.form_open()
    assert await services.applications.for_user(chat.user) == []


async def test_a_slip_that_ended_the_form_is_taken_back_with_everything_kept(chat, services):
    """"否" tapped by mistake for the hukou ends the form at the employer route: 上一步 right after reopens
    it at that question, shown as answered, and the guardian goes on without typing anything again."""
    reply = await run(chat, "参保:nb-civil-servant-children", "好的", "是", "王小丫", KID, "否")
    assert "区医疗保障管理中心" in reply and "回复“上一步”返回修改" in reply and not await chat.form_open()
    back = await chat.say("上一步")
    assert back.startswith("（当前：否）") and await chat.form_open()
    confirm = await run(chat, "是", "王大", "13912345678")
    assert "王小丫" in confirm and "个人缴费：220元" in confirm
    await chat.say("确认提交")
    assert len(await services.applications.for_user(chat.user)) == 1


async def test_ningbo_only_on_days_1_to_27(chat, services, clock):
    clock.set(dt.datetime(2026, 9, 28, 10, tzinfo=SHANGHAI))
    reply = await chat.say("参保:nb-civil-servant-children")
    assert "2026年10月1日" in reply and "提醒我" in reply
    await chat.say("不用")
    assert not await chat.form_open()
    assert (await services.subscribers.get(chat.user)) is None


# ---- Xuancheng HFUT ----------------------------------------------------------------------------

async def test_xuancheng_first_enrolment_needs_suspension_and_an_id_photo(chat, services):
    reply = await run(chat, "参保:xc-hfut-college", "2", "李四", STUDENT)
    assert "原籍地" in reply
    assert "城乡居民暂停参保" in await chat.say("安徽省内")
    assert "合肥工业大学宣城校区" in await chat.say("已暂停")
    assert "身份证照片" in await chat.say("知道了")
    assert "直接发送" in await chat.say("发了")
    assert "缴费渠道" in await chat.say(kind="image", media_id="M1", pic_url="http://example/p.jpg")
    assert "宣城市职工" in await chat.say("2")
    assert "缴费渠道" in await chat.say("否")
    await chat.say("1")
    confirm = await chat.say("15012345678")
    assert "应缴费额：380元" in confirm and "参保身份：大学生" in confirm and "身份证照片：已上传" in confirm
    done = await chat.say("确认提交")
    assert "安徽医保公共服务" in done
    [app] = await services.applications.for_user(chat.user)
    assert app["details"]["id_photo"] == {"media_id": "M1", "pic_url": "http://example/p.jpg"}
    assert app["details"]["renewal"] == "首次参保" and app["school_name"] == "合肥工业大学宣城校区"


async def test_xuancheng_renewal_skips_registration(chat):
    confirm = await run(chat, "参保:xc-hfut-college", "续保", "李四", STUDENT, "1", "15012345678")
    assert "参保类型：续保" in confirm and "身份证照片" not in confirm


async def test_xuancheng_out_of_province_may_register_directly(chat):
    reply = await run(chat, "参保:xc-hfut-college", "2", "李四", STUDENT, "安徽省外")
    assert "无需办理“暂停参保”" in reply


# ---- Beijing 一小 --------------------------------------------------------------------------------

async def test_beijing_bank_card_with_luhn_and_deduction_calendar(chat, services):
    card = card_number()
    reply = await run(chat, "参保:bj-child-student", "同意", "1", "赵小北", KID, "北京明华中学", "否", "1")
    assert "卡（折）号" in reply
    wrong = card[:-1] + str((int(card[-1]) + 1) % 10)
    assert "校验不通过" in await chat.say(wrong)
    await chat.say(card)
    confirm = await run(chat, "是", "赵大北", "13812345678")
    assert "*****" + card[-4:] in confirm and card not in confirm
    assert "9月25日左右" in confirm and "待遇开始：2027-01-01" in confirm and "160元" in confirm
    assert "开户人：赵小北" in confirm
    done = await chat.say("确认提交")
    assert "多存10元" in done
    [app] = await services.applications.for_user(chat.user)
    assert app["details"]["card_number"] == card and app["details"]["bank"] == "北京银行京卡"
    raw = await services.store.get("application", app["id"])
    assert card not in str(raw.data)  # encrypted at rest


async def test_beijing_card_must_be_in_the_childs_name(chat):
    reply = await run(chat, "参保:bj-child-student", "同意", "1", "赵小北", KID, "北京明华中学", "否", "2",
                      card_number(), "否")
    assert "以赵小北的名字开立" in reply
    assert not await chat.form_open()


async def test_beijing_exempt_child_skips_the_bank(chat):
    confirm = await run(chat, "参保:bj-child-student", "同意", "1", "赵小北", KID, "北京明华中学", "是",
                        "赵大北", "13812345678")
    assert "免缴" in confirm and "扣款银行" not in confirm


async def test_a_number_typed_into_a_free_text_field_is_shown_masked(chat):
    # The ID number pasted where the school's name was asked is kept as typed (free text), but going
    # back shows it masked, like every personal number the bot repeats.
    await run(chat, "参保:bj-child-student", "同意", "1", "赵小北", KID, KID)
    back = await chat.say("上一步")
    assert f"当前：*****{KID[-4:]}" in back and KID not in back


async def test_beijing_not_in_any_category(chat):
    reply = await run(chat, "参保:bj-child-student", "同意", "11")
    assert "不属于" in reply and not await chat.form_open()


# ---- Shanghai resident students ------------------------------------------------------------------

async def test_shanghai_resident_student_collects_materials_and_tells_school_deadline(chat, services, clock):
    clock.set(dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))
    reply = await run(chat, "参保:sh-resident-student", "好", "钱小沪", KID, "3")
    assert "积分通知书" in reply
    confirm = await run(chat, "好的", "否", "浦东", "张江", "钱大沪", "13812345678")
    assert "个人缴费：180元" in confirm and "学校网上申报截止：12月11日" in confirm
    done = await chat.say("确认提交")
    assert "12月11日前" in done and "积分通知书" in done and "12月25日" in done


async def test_shanghai_resident_hardship_fee_and_age_limit(chat, clock):
    clock.set(dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))
    old = generate_id_number(dt.date(2004, 1, 1), "男", seq=5)
    reply = await run(chat, "参保:sh-resident-student", "好", "钱大沪", old)
    assert "22周岁" in reply and "参保年龄" in reply
    confirm = await run(chat, KID, "1", "好的", "是", "浦东", "张江", "钱大沪", "13812345678")
    assert "130元" in confirm


async def test_shanghai_resident_outside_declaration_period(chat, clock):
    reply = await chat.say("参保:sh-resident-student")
    assert "11月17日" in reply and "提醒我" in reply


# ---- choosing a scheme ------------------------------------------------------------------------

async def test_scheme_menu_lists_every_scheme(chat, engine):
    reply = await chat.say("我要参保")
    for scheme in engine.scheme_ids:
        assert chat.dialogs.forms[scheme].title in reply
    assert "不到" not in reply
    reply = await chat.say("9")
    assert "数字" in reply
    index = chat.dialogs.scheme_ids.index("bj-child-student") + 1
    assert "办理须知" in await chat.say(str(index))


@pytest.mark.parametrize("scheme", ["sh-child-fund", "sh-resident-student", "nb-civil-servant-children",
                                    "xc-hfut-college", "bj-child-student"])
def test_every_scheme_has_a_form(dialogs, engine, scheme):
    assert scheme in engine.scheme_ids and scheme in dialogs.machines


async def test_xuancheng_first_enrolment_in_the_guardians_own_words(chat):
    """"没有，第一次" to the 续保 question, "安徽合肥" for the origin, "已经暂停了" for the suspension."""
    assert "姓名" in await run(chat, "参保:xc-hfut-college", "没有，第一次")
    reply = await run(chat, "李四", STUDENT)
    assert "原籍地" in reply
    assert "城乡居民暂停参保" in await chat.say("安徽合肥")
    assert "合肥工业大学宣城校区" in await chat.say("已经暂停了")


async def test_xuancheng_origin_outside_anhui_named_by_province(chat):
    await run(chat, "参保:xc-hfut-college", "2", "李四", STUDENT)
    assert "无需办理“暂停参保”" in await chat.say("江苏南京")


async def test_shanghai_resident_category_in_the_guardians_own_words(chat, clock):
    clock.set(dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))
    await run(chat, "参保:sh-resident-student", "好", "钱小沪", KID)
    assert "户籍证明材料" in await chat.say("本市户口，在幼儿园")
    slots = (await chat.session())["enroll"]["form"]["slots"]
    assert slots["category"] == "本市户籍18周岁以下在校（园）学生幼儿"


async def test_shanghai_resident_category_naming_two_options_is_asked_again(chat, clock):
    clock.set(dt.datetime(2026, 11, 20, 10, tzinfo=SHANGHAI))
    await run(chat, "参保:sh-resident-student", "好", "钱小沪", KID)
    assert "请回复选项前的数字" in await chat.say("积分居住证，孩子上幼儿园")
