"""Every scheme's enrolment, walked to its last step through the real webhook (signed XML in and
out, the real router, NLU, rule engine, dialogs and fulfilment), with the logs checked for personal
numbers."""
from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.logs import JsonFormatter
from bot.services import build_services
from dialogs.validators import generate_id_number, luhn_check_digit
from bot.web.simulator import read_reply
from tests.wechat_client import WeChatSender

SH_CHILD = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
NB_KID = generate_id_number(dt.date(2016, 3, 2), "女", region="330203", seq=12)
XC_STUDENT = generate_id_number(dt.date(2006, 5, 2), "男", region="340402", seq=33)
BJ_KID = generate_id_number(dt.date(2014, 7, 9), "女", region="110105", seq=41)
PHONE = "17612342353"
CARD = "622908123456789012" + luhn_check_digit("622908123456789012")
MENU_LINK = re.compile(r'msgmenucontent=([^&"]+)')


class Guardian:
    def __init__(self, sender: WeChatSender, user: str) -> None:
        self.sender, self.user, self.replies = sender, user, []

    async def say(self, *texts: str) -> str:
        reply = ""
        for text in texts:
            reply = await self.sender.say(self.user, text)
            self.replies.append(reply)
        return reply

    async def tap(self, reply: str, label: str) -> str:
        """Tap the option whose text contains `label`, as WeChat sends the option's text."""
        options = [o for o in MENU_LINK.findall(reply) if label in o]
        assert options, f"no option with {label!r} in {reply!r}"
        return await self.say(options[0])


@pytest.fixture
async def bot(aiohttp_client, tmp_path, caplog):
    def make(now: str):
        settings = Settings(wechat_token="t", data_dir=tmp_path, store_url=f"sqlite:///{tmp_path}/bot.db",
                            admin_token="a", simulator=False)
        return settings, build_services(settings, clock=Clock.from_iso(now))

    async def start(now: str = "2026-09-10T10:00:00+08:00"):
        settings, services = make(now)
        client = await aiohttp_client(create_app(settings, services, background=False))
        return WeChatSender(client, "t"), services

    caplog.set_level(logging.DEBUG)
    yield start
    # Nothing personal in any log line, raw or as the JSON formatter writes it.
    formatter = JsonFormatter()
    for record in caplog.records:
        line = formatter.format(record)
        for secret in (SH_CHILD, NB_KID, XC_STUDENT, BJ_KID, PHONE, CARD):
            assert secret not in line and secret not in record.getMessage()


def assert_masked(guardian: Guardian) -> None:
    for reply in guardian.replies:
        for secret in (SH_CHILD, NB_KID, XC_STUDENT, BJ_KID, PHONE, CARD):
            assert secret not in reply


async def test_shanghai_fund_enrolment_to_submission(bot):
    sender, services = await bot()
    await services.roster.replace_school("3101010001", "黄浦区北京东路小学", [
        {"name": "韩小明", "id_number": SH_CHILD, "class_name": "三(2)班"}], services.clock.now())
    g = Guardian(sender, "o-sh-1")
    menu = await g.say("我要参保")
    reply = await g.tap(menu, "少儿住院互助基金")
    assert "办理须知" in reply
    confirm = await g.say("同意", "韩小明", SH_CHILD, "静安区联航路4号", "是", "否", "北京东路", "韩大明", PHONE)
    assert "参保信息确认" in confirm and "*****" + SH_CHILD[-4:] in confirm and "176****2353" in confirm
    assert "150元" in confirm
    done = await g.say("确认提交")
    assert "已提交" in done
    [app] = await services.applications.for_user("o-sh-1")
    assert app["scheme"] == "sh-child-fund" and app["amount_fen"] == 15000
    progress = await g.say("进度")
    assert "韩小明" in progress and "上海市少儿住院互助基金" in progress
    assert_masked(g)


async def test_question_in_the_middle_of_the_form_is_answered_and_the_form_resumes(bot):
    sender, services = await bot()
    g = Guardian(sender, "o-sh-2")
    await g.tap(await g.say("我要参保"), "少儿住院互助基金")
    await g.say("同意")
    assert await services.store.incr("stats:enrolments_started", 0) == 1  # the admin funnel's first stage
    reply = await g.say("少儿住院互助基金一年交多少钱？")
    assert "150" in reply and "我们继续" in reply
    assert "开始办理" not in reply  # no "reply 参保 to start" while the guardian is already enrolling
    assert "证件号码" in await g.say("韩小明")


async def test_ningbo_enrolment_to_tax_payment_steps(bot):
    sender, services = await bot()
    g = Guardian(sender, "o-nb-1")
    await g.tap(await g.say("我要参保"), "宁波")
    confirm = await g.say("好的", "是", "王小丫", NB_KID, "是", "王大", PHONE)
    assert "220元" in confirm
    done = await g.say("确认提交")
    assert "宁波税务" in done
    [app] = await services.applications.for_user("o-nb-1")
    assert app["amount_fen"] == 22000
    assert_masked(g)


async def test_a_form_ended_by_a_slip_is_reopened_and_a_question_after_it_answered_plainly(bot):
    sender, services = await bot()
    g = Guardian(sender, "o-nb-2")
    await g.tap(await g.say("我要参保"), "宁波")
    ended = await g.say("好的", "是", "王小丫", NB_KID, "否")  # 户籍不在宁波大市: the employer route
    assert "上一步" in ended
    assert (await g.say("上一步")).startswith("（当前：否）")
    assert "监护人" in await g.say("是")
    g2 = Guardian(sender, "o-nb-3")
    await g2.tap(await g2.say("我要参保"), "宁波")
    await g2.say("好的", "是", "王小丫", NB_KID, "否")
    answer = await g2.say("宁波中小学生医保交多少钱")  # answered as any question, not as part of a form
    assert "220" in answer and "我们继续" not in answer
    assert answer.endswith("回复「参保」开始办理。")  # no form is open: the hint to start one is kept
    assert_masked(g)


async def test_xuancheng_first_enrolment_with_id_photo(bot):
    sender, services = await bot()
    g = Guardian(sender, "o-xc-1")
    await g.tap(await g.say("我要参保"), "宣城")
    await g.say("2", "李四", XC_STUDENT, "安徽省内", "已暂停", "知道了")
    reply = await sender.image("o-xc-1", "https://example.invalid/id.jpg")
    assert "缴费渠道" in reply
    confirm = await g.say("1", PHONE)
    assert "380元" in confirm and "身份证照片：已上传" in confirm
    assert "安徽医保公共服务" in await g.say("确认提交")
    [app] = await services.applications.for_user("o-xc-1")
    assert app["details"]["id_photo"]["pic_url"] == "https://example.invalid/id.jpg"
    assert_masked(g)


async def test_beijing_enrolment_with_bank_card(bot):
    sender, services = await bot()
    g = Guardian(sender, "o-bj-1")
    await g.tap(await g.say("我要参保"), "北京")
    await g.say("同意", "1", "赵小北", BJ_KID, "北京明华中学", "否", "1")
    assert "校验不通过" in await g.say(CARD[:-1] + str((int(CARD[-1]) + 1) % 10))
    confirm = await g.say(CARD, "是", "赵大北", PHONE)
    assert "*****" + CARD[-4:] in confirm and "160元" in confirm
    assert "多存10元" in await g.say("确认提交")
    [app] = await services.applications.for_user("o-bj-1")
    assert app["details"]["card_number"] == CARD
    assert_masked(g)


async def test_shanghai_resident_student_tells_the_school_deadline(bot):
    sender, services = await bot("2026-11-20T10:00:00+08:00")
    g = Guardian(sender, "o-shr-1")
    await g.tap(await g.say("我要参保"), "城乡居民医保")
    await g.say("好", "钱小沪", SH_CHILD, "3")
    confirm = await g.say("好的", "否", "浦东", "张江", "钱大沪", PHONE)
    assert "180元" in confirm and "12月11日" in confirm
    assert "12月25日" in await g.say("确认提交")
    assert_masked(g)


async def test_outside_the_window_offers_a_reminder_instead(bot):
    sender, services = await bot("2026-10-08T10:00:00+08:00")
    g = Guardian(sender, "o-late-1")
    reply = await g.tap(await g.say("我要参保"), "少儿住院互助基金")
    assert "9月1日" in reply and "提醒" in reply


async def test_events_and_non_text_messages_with_the_real_router(bot):
    sender, services = await bot()
    assert "欢迎" in await sender.event("o-ev-1", "subscribe", "qrscene_school:3101010001")
    assert (await services.subscribers.get("o-ev-1"))["school_code"] == "3101010001"
    g = Guardian(sender, "o-ev-1")
    await g.tap(await g.say("我要参保"), "少儿住院互助基金")
    await g.say("同意", "韩小明", SH_CHILD, "静安区联航路4号", "是", "否")
    assert "黄浦区北京东路小学" in g.replies[-1] and "二维码" in g.replies[-1]  # QR school offered
    fee = await sender.event("o-ev-2", "CLICK", "FAQ_FEE")
    assert "哪一项" in fee  # no scheme known yet: the menu asks which one
    assert "150" in await sender.say("o-ev-2", "1")
    assert "文字" in await sender.image("o-ev-2")  # outside a form an image gets a polite explanation
    assert await sender.event("o-ev-2", "VIEW", "https://example.invalid/") == ""
    voice = ("<xml><ToUserName>gh</ToUserName><FromUserName>o-ev-2</FromUserName><CreateTime>1</CreateTime>"
             "<MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format><MsgId>990001</MsgId></xml>")
    resp = await sender.post_xml(voice)
    assert "文字" in read_reply(await resp.text(), None)  # no recognition result: ask for text
    await sender.event("o-ev-2", "unsubscribe")
    assert (await services.subscribers.get("o-ev-2"))["subscribed"] is False


async def test_progress_command_versus_a_question_about_the_procedure(bot):
    sender, services = await bot()
    assert "还没有提交过参保申请" in await sender.say("o-pr-1", "进度")
    assert "不客气" in await sender.say("o-pr-1", "谢谢！")
    assert "人工客服" in await sender.say("o-pr-1", "我要找人工，电话17612342353")
    [(_, handoff)] = await services.store.query("handoff", status="open")
    [words] = handoff.data["messages"]
    assert handoff.data["user_id"] == "o-pr-1" and "176****2353" in words["text"] and "17612342353" not in words["text"]
    reply = await sender.say("o-pr-2", "少儿基金预审结果多久能收到短信")
    assert "12小时" in reply and "还没有提交过" not in reply


async def test_a_guardian_whose_application_was_refused_asks_why(bot):
    sender, services = await bot()
    await services.roster.replace_school("3101010001", "黄浦区北京东路小学", [
        {"name": "韩小明", "id_number": SH_CHILD, "class_name": "三(2)班"}], services.clock.now())
    g = Guardian(sender, "o-pr-3")
    await g.tap(await g.say("我要参保"), "少儿住院互助基金")
    confirm = await g.say("同意", "韩小明", SH_CHILD, "静安区联航路4号", "是", "否", "北京东路", "韩大明", PHONE)
    assert "确认提交" in confirm
    await g.say("确认提交")
    [app] = await services.applications.for_user("o-pr-3")
    await services.applications.update(app["id"], services.clock.now(), status="rejected",
                                       review_reason="学校上传的在籍名单中没有找到该儿童")
    reply = await g.say("预审没通过怎么办")  # their own application, with its reason: not the general procedure
    assert "预审未通过" in reply and "没有找到该儿童" in reply
    assert_masked(g)


def test_a_long_answer_in_a_digression_never_cuts_the_resume_prompt():
    from bot.conversation import fit_before
    from integrations.wechat.reply import TEXT_LIMIT_BYTES, clip_text

    answer = "\n".join(f"· 第{i}条很长的办理说明很长的办理说明很长的办理说明很长的办理说明" for i in range(40))
    resume = "我们继续：请输入孩子的证件号码。"
    reply = clip_text(f"{fit_before(answer, resume)}\n\n{resume}")
    assert reply.endswith(resume) and len(reply.encode("utf-8")) <= TEXT_LIMIT_BYTES
