"""Issue 14 through the real HTTP server: signed WeChat XML in, the reply read from the signed answer, and
every later message (pre-review, payment link, verification result) read from the customer-service
messages the bot sent to a fake WeChat API. Staff act through the admin JSON API."""
from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest

from bot.app import create_app
from bot.clock import Clock
from bot.config import Settings
from bot.services import build_services
from dialogs.validators import generate_id_number
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.wechat_client import WeChatSender

APPID, SECRET, ADMIN = "wxe2etruth", "s3cret-e2e", "admin-e2e-token"
SCHOOL_CODE, SCHOOL = "3101010001", "黄浦区北京东路小学"
CHILD = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
OTHER_CHILD = generate_id_number(dt.date(2016, 5, 6), "女", seq=512)
BJ_CHILD = generate_id_number(dt.date(2014, 7, 9), "女", region="110105", seq=41)
XC_STUDENT = generate_id_number(dt.date(2006, 5, 2), "男", region="340402", seq=33)
XC_BEFORE_PHOTO = ["安徽省内", "已暂停", "知道了"]
PHONE = "17612342353"
LINK = re.compile(r'<a href="([^"]+)">')
MENU = re.compile(r'msgmenucontent=([^&"]+)')
SH_NOW = "2026-09-10T10:00:00+08:00"


class Bot:
    def __init__(self, client, sender: WeChatSender, services, fake: FakeWeChatAPI) -> None:
        self.client, self.sender, self.services, self.fake = client, sender, services, fake

    async def say(self, user: str, *texts: str) -> list[str]:
        return [await self.sender.say(user, text) for text in texts]

    async def pushed(self, user: str, needle: str) -> str:
        """The customer-service message to `user` containing `needle` (waits for follow-ups)."""
        for _ in range(200):
            for text in self.fake.texts_to(user):
                if needle in text:
                    return text
            await asyncio.sleep(0.02)
        raise AssertionError(f"no message with {needle!r} to {user}: {self.fake.texts_to(user)}")

    async def admin(self, method: str, path: str, **kwargs):
        return await self.client.request(method, path, headers={"Authorization": f"Bearer {ADMIN}"}, **kwargs)


@pytest.fixture
async def start(aiohttp_client, tmp_path):
    async with FakeWeChatAPI.running(appid=APPID, secret=SECRET) as fake:
        async def make(now: str = SH_NOW) -> Bot:
            settings = Settings(wechat_token="t", wechat_appid=APPID, wechat_secret=SECRET,
                                wechat_api_base=fake.base_url, data_dir=tmp_path, admin_token=ADMIN,
                                store_url=f"sqlite:///{tmp_path}/bot.db", simulator=False)
            services = build_services(settings, clock=Clock.from_iso(now))
            await services.roster.replace_school(SCHOOL_CODE, SCHOOL, [
                {"name": "韩小明", "id_number": CHILD, "class_name": "三(2)班"},
                {"name": "李小红", "id_number": OTHER_CHILD, "class_name": "三(3)班"}], services.clock.now())
            client = await aiohttp_client(create_app(settings, services, background=False))
            services.extras["fulfilment"].payments.public_url = str(client.make_url("")).rstrip("/")
            return Bot(client, WeChatSender(client, "t"), services, fake)
        yield make


SH_FORM = ["我要参保少儿基金", "同意", "韩小明", CHILD, "静安区联航路4号", "是", "{hardship}", "北京东路", "韩大明",
           PHONE]


async def fill_sh_fund(bot: Bot, user: str, hardship: str = "否", child: str = CHILD) -> list[str]:
    """The Shanghai fund form up to its confirmation page, as a guardian types it."""
    texts = [t.replace("{hardship}", hardship) for t in SH_FORM]
    texts[3] = child
    return await bot.say(user, *texts)


async def submit_declared_exemption(bot: Bot, user: str) -> dict:
    """A Shanghai fund application with 低保/困境儿童 declared, pre-reviewed: awaiting verification."""
    await fill_sh_fund(bot, user, hardship="是")
    await bot.say(user, "确认提交")
    await bot.pushed(user, "免缴资格待审核")
    [app] = await bot.services.applications.for_user(user)
    return app


# ---- (1) a declared exemption is a claim awaiting verification --------------------------------

async def test_declared_exemption_awaits_verification_and_staff_refusal_sends_the_link(start):
    bot = await start()
    replies = await fill_sh_fund(bot, "o-exempt", hardship="是")
    confirm = replies[-1]
    assert "缴费金额：免缴（待审核" in confirm and "150元" in confirm
    done = (await bot.say("o-exempt", "确认提交"))[0]
    assert "已提交" in done and "已办结" not in done
    pending = await bot.pushed("o-exempt", "免缴资格待审核")
    assert "经审核后" in pending and "已办结" not in pending.replace("也没有办结", "")
    assert "9月1日至9月30日联系属地学校办理" in pending

    listed = await (await bot.admin("GET", "/admin/api/applications", params={"status": "awaiting_verification"})).json()
    [app] = listed["applications"]
    assert app["status_label"] == "预审通过，免缴资格待审核" and CHILD not in str(listed)
    bad = await bot.admin("POST", f"/admin/api/applications/{app['id']}/verification", json={"decision": "refuse"})
    assert bad.status == 400  # a refusal says why
    refused = await bot.admin("POST", f"/admin/api/applications/{app['id']}/verification",
                              json={"decision": "refuse", "reason": "民政数据中未查到"})
    assert refused.status == 200 and (await refused.json())["application"]["status"] == "awaiting_payment"
    told = await bot.pushed("o-exempt", "免缴资格审核未通过")
    assert "民政数据中未查到" in told
    link_message = await bot.pushed("o-exempt", "点击这里去缴费")
    assert "150.00元" in link_message and LINK.findall(link_message)
    again = await bot.admin("POST", f"/admin/api/applications/{app['id']}/verification", json={"decision": "approve"})
    assert again.status == 409
    progress = (await bot.say("o-exempt", "进度"))[0]
    assert "待缴费" in progress


async def test_staff_approval_of_a_declared_exemption_tells_the_guardian(start):
    bot = await start()
    app = await submit_declared_exemption(bot, "o-exempt-ok")
    resp = await bot.admin("POST", f"/admin/api/applications/{app['id']}/verification", json={"decision": "approve"})
    assert resp.status == 200
    told = await bot.pushed("o-exempt-ok", "审核通过：")
    assert "无需缴费" in told
    assert not [t for t in bot.fake.texts_to("o-exempt-ok") if "去缴费" in t]


# ---- (2) a yes/no or a choice takes only a clear answer -------------------------------------------

async def test_acknowledgements_never_answer_a_yes_no_or_a_choice(start):
    bot = await start()
    user = "o-acks"
    await bot.say(user, *SH_FORM[:5])  # up to the 户籍 proposal
    for ack in ("好的", "嗯", "ok", "知道了"):
        reply = (await bot.say(user, ack))[0]
        assert "是" in reply and "否" in reply and "户籍" in reply, reply
    assert "低保" in (await bot.say(user, "是"))[0]
    for ack in ("好的", "嗯"):
        reply = (await bot.say(user, ack))[0]
        assert "明确回答" in reply and "是" in reply and "否" in reply
    form = (await bot.services.sessions.load(user))[0]["enroll"]["form"]
    assert "hardship" not in form["slots"] and form["state"] == "hardship"
    await bot.say(user, "否")
    form = (await bot.services.sessions.load(user))[0]["enroll"]["form"]
    assert form["slots"]["hardship"] is False


async def test_an_answer_matching_no_option_is_never_stored(start):
    bot = await start()
    user = "o-options"
    # A Beijing 一小 category: "是" (or 好的) must not pick "以上都不是" by its last character.
    await bot.say(user, "我要参保北京一小", "同意")
    for answer in ("是", "好的", "不是本市户籍"):
        reply = (await bot.say(user, answer))[0]
        assert "请回复选项前的数字" in reply, reply
    form = (await bot.services.sessions.load(user))[0]["enroll"]["form"]
    assert "category" not in form["slots"] and form["state"] == "category"


# ---- (3) duplicates: right after the ID, nothing of another guardian's shown --------------------

async def test_a_child_with_an_application_is_told_at_the_id_step(start):
    bot = await start()
    await fill_sh_fund(bot, "o-first")
    await bot.say("o-first", "确认提交")
    [first] = await bot.services.applications.for_user("o-first")
    replies = await bot.say("o-second", *SH_FORM[:4])
    refused = replies[-1]
    assert "已经有一份" in refused and "转人工" in refused
    assert first["id"] not in refused and "预审" not in refused and "编号" not in refused
    assert not await bot.services.applications.for_user("o-second")
    own = (await bot.say("o-first", "我要参保少儿基金", "同意", "韩小明", CHILD))[-1]
    assert first["id"] in own and "不需要重复办理" in own


# ---- (5) inputs are what the step expects ------------------------------------------------------------

async def test_a_name_step_refuses_questions_and_sentences(start):
    bot = await start()
    user = "o-names"
    await bot.say(user, "我要参保少儿基金", "同意")
    for text in ("什么意思", "I don't understand", "要交多少钱？"):
        reply = (await bot.say(user, text))[0]
        assert "我们继续" in reply and "姓名" in reply, reply
    assert "150" in (await bot.say(user, "要交多少钱？"))[0]  # answered, for the form's own scheme
    form = (await bot.services.sessions.load(user))[0]["enroll"]["form"]
    assert "child" not in form["slots"]
    assert "证件号码" in (await bot.say(user, "韩小明"))[0]


async def test_coming_back_resumes_and_is_never_stored(start):
    bot = await start()
    user = "o-back"
    await bot.say(user, "我要参保少儿基金", "同意")
    for text in ("我回来了，继续", "继续办理", "你好"):
        reply = (await bot.say(user, text))[0]
        assert "姓名" in reply and "我们继续" in reply, reply
    await bot.say(user, "韩小明", CHILD)
    assert "详细地址" in (await bot.say(user, "我回来了，继续"))[0]
    form = (await bot.services.sessions.load(user))[0]["enroll"]["form"]
    assert form["slots"]["child"]["name"] == "韩小明" and "address" not in form["slots"]


async def test_a_question_on_the_confirmation_page_comes_back_to_the_whole_page(start):
    bot = await start()
    user = "o-confirm-q"
    await fill_sh_fund(bot, user)
    reply = (await bot.say(user, "这个要交多少钱？"))[0]
    assert "150" in reply and "我们继续" in reply
    resumed = reply.split("我们继续", 1)[1]
    assert "姓名：韩小明" in resumed and "确认提交" in resumed  # never an empty 请核对：


async def test_a_picture_where_the_form_asks_for_one_is_acknowledged(start):
    bot = await start()
    user = "o-photo"
    menu = (await bot.say(user, "我要参保"))[0]
    [tap] = [t for t in MENU.findall(menu) if "宣城" in t]
    await bot.say(user, tap, "2", "李四", XC_STUDENT, *XC_BEFORE_PHOTO)
    reply = await bot.sender.image(user, "https://example.invalid/id.jpg")
    assert reply.startswith("已收到身份证照片") and "缴费渠道" in reply


# ---- (4) what the guardian must still do, with years and dates that hold ---------------------------

NB_KID = generate_id_number(dt.date(2016, 3, 2), "女", region="330203", seq=12)
CARD = "6229081234567890127"


@pytest.mark.parametrize("now, year", [("2026-09-10T10:00:00+08:00", 2027), ("2026-03-10T10:00:00+08:00", 2026)])
async def test_ningbo_years_follow_the_clock_and_its_scope_and_card_are_told(start, now, year):
    bot = await start(now)
    user = "o-nb-year"
    replies = await bot.say(user, "我要参保宁波机关子女", "好的", "是", "王小丫", NB_KID, "是", "王大", PHONE)
    confirm = replies[-1]
    assert f"申报年度：{year}" in confirm and "待遇开始" not in confirm  # the seed gives no cover dates
    done = (await bot.say(user, "确认提交"))[0]
    assert f"“{year}年度申报”" in done and f"缴费期限选“{year}”" in done
    assert "社保卡" in done and "签订代扣代缴协议必须先有参保信息" in done
    for text in replies + [done]:
        assert "2021年度申报" not in text and "缴费期限选“2021”" not in text
    pre_review = await bot.pushed(user, "预审通过")
    assert "宁波税务" in pre_review and "2021" not in pre_review


async def test_ningbo_asks_the_civil_servant_parent_condition(start):
    bot = await start()
    replies = await bot.say("o-nb-scope", "我要参保宁波机关子女", "好的")
    assert "机关事业单位工作人员" in replies[-1]
    assert "好的" not in replies[-1]
    ended = (await bot.say("o-nb-scope", "否"))[0]
    assert "只适用于原参加机关子女医疗统筹" in ended and "医疗保障管理中心" in ended


async def test_beijing_end_and_pre_review_say_the_guardians_own_steps_with_dates(start):
    bot = await start()
    user = "o-bj-steps"
    card = CARD[:-1] + __import__("dialogs.validators", fromlist=["x"]).luhn_check_digit(CARD[:-1])
    await bot.say(user, "我要参保北京一小", "同意", "1", "赵小北", BJ_CHILD, "北京明华中学", "否", "1", card, "是",
                  "赵大北", PHONE)
    done = (await bot.say(user, "确认提交"))[0]
    for step in ("报送给学校", "北京市社会保险网上服务平台", "学生儿童缴费账户信息采集和变更", "多存10元",
                 "9月25日左右", "10月25日左右", "11月25日左右", "29日后到开户银行查询"):
        assert step in done, step
    assert "176****2353" in done and card not in done and "*****" + card[-4:] in done
    pre_review = await bot.pushed(user, "预审通过")
    assert "北京市社会保险网上服务平台" in pre_review and "9月25日左右" in pre_review and "<a href" not in pre_review


async def test_a_payment_question_gets_the_guardians_own_link_and_deadline(start):
    bot = await start()
    user = "o-pay-q"
    await fill_sh_fund(bot, user)
    mid = (await bot.say(user, "怎么付款"))[0]  # on the 确认 page: nothing to pay yet, said for this scheme
    assert "预审通过后" in mid and "缴费链接" in mid and "我们继续" in mid and "姓名：韩小明" in mid
    await bot.say(user, "确认提交")
    link_message = await bot.pushed(user, "点击这里去缴费")
    [link] = LINK.findall(link_message)
    for question in ("怎么付款", "去缴费", "在哪里缴费？"):
        reply = (await bot.say(user, question))[0]
        assert link in reply and "9月11日 10:00" in reply, reply
        assert "一网通办" not in reply


async def test_a_payment_question_of_a_scheme_paid_elsewhere_gets_that_channel(start):
    bot = await start()
    user = "o-pay-nb"
    await bot.say(user, "我要参保宁波机关子女", "好的", "是", "王小丫")
    reply = (await bot.say(user, "怎么缴费"))[0]
    assert "宁波税务" in reply and "我们继续" in reply and "<a href" not in reply


# ---- (6) fewer messages ---------------------------------------------------------------------------------

NOW_OF = {"xc-hfut-college": "2024-10-10T10:00:00+08:00", "sh-resident-student": "2026-11-20T10:00:00+08:00"}
SCRIPTS = {
    "sh-child-fund": SH_FORM[:6] + ["否"] + SH_FORM[7:] + ["确认提交"],
    "nb-civil-servant-children": ["我要参保宁波机关子女", "好的", "是", "王小丫", NB_KID, "是", "王大", PHONE, "确认提交"],
    "xc-hfut-college": ["我要参保合工大", "续保", "李四", XC_STUDENT, "1", PHONE, "确认提交"],
    "bj-child-student": ["我要参保北京一小", "同意", "1", "赵小北", BJ_CHILD, "北京明华中学", "否", "1", "{card}", "是",
                         "赵大北", PHONE, "确认提交"],
    "sh-resident-student": ["我要参保上海居民医保", "好", "钱小沪", CHILD, "3", "知道了", "否", "北京东路", "钱大沪", PHONE,
                            "确认提交"],
}


async def test_every_scheme_is_submitted_in_few_guardian_messages(start, capsys):
    from dialogs.validators import luhn_check_digit

    card = CARD[:-1] + luhn_check_digit(CARD[:-1])
    counts = {}
    for scheme, script in SCRIPTS.items():
        bot = await start(NOW_OF.get(scheme, SH_NOW))
        user = f"o-count-{scheme}"
        replies = await bot.say(user, *[t.replace("{card}", card) for t in script])
        assert "已提交" in replies[-1], (scheme, replies[-3:])
        [app] = await bot.services.applications.for_user(user)
        assert app["scheme"] == scheme
        counts[scheme] = len(script)
    with capsys.disabled():
        print("\nguardian messages from 我要参保 to submitted:", counts)
    assert counts["sh-child-fund"] <= 11


async def test_a_fee_question_mid_form_is_answered_for_the_forms_scheme_and_child(start):
    bot = await start()
    user = "o-nb-fee"
    await bot.say(user, "我要参保宁波机关子女", "好的", "是", "王小丫", NB_KID)
    reply = (await bot.say(user, "交多少钱？"))[0]
    assert "220元" in reply and "多大" not in reply and "我们继续" in reply and "户籍在宁波大市" in reply


async def test_two_guardians_submitting_one_child_at_the_same_moment_make_one_application(start):
    bot = await start()
    for user in ("o-race-1", "o-race-2"):
        assert "参保信息确认" in (await fill_sh_fund(bot, user))[-1]
    replies = await asyncio.gather(*(bot.sender.say(user, "确认提交") for user in ("o-race-1", "o-race-2")))
    assert sum("已提交" in r for r in replies) == 1 and sum("已经有一份" in r for r in replies) == 1, replies
    apps = await bot.services.applications.find_by_id_number(CHILD, "sh-child-fund")
    assert len(apps) == 1
    loser = replies[0] if "已经有一份" in replies[0] else replies[1]
    assert apps[0]["id"] not in loser


async def test_staff_verify_from_the_applications_page(start):
    bot = await start()
    app = await submit_declared_exemption(bot, "o-page")
    page = await (await bot.admin("GET", f"/admin/applications/{app['id']}")).text()
    assert 'id="verification"' in page and "审核不通过" in page
    refused = await bot.admin("POST", f"/admin/applications/{app['id']}/verification",
                              data={"decision": "refuse", "reason": ""}, allow_redirects=False)
    assert refused.status == 400 and "原因" in await refused.text()
    done = await bot.admin("POST", f"/admin/applications/{app['id']}/verification",
                           data={"decision": "approve", "reason": ""}, allow_redirects=False)
    assert done.status == 303
    assert "审核通过" in await bot.pushed("o-page", "审核通过：")
    page = await (await bot.admin("GET", f"/admin/applications/{app['id']}")).text()
    assert 'id="verification"' not in page and "免缴审核通过" in page


# ---- a city named when asking to enrol --------------------------------------------------------

async def test_enrolling_in_a_named_city_offers_only_that_citys_schemes(start):
    bot = await start()
    shanghai, = await bot.say("o-city-sh", "我想给孩子在上海参保")
    assert "msgmenucontent=上海市少儿住院互助基金集中参保&msgmenuid=1" in shanghai
    assert "msgmenucontent=上海城乡居民医保（中小学生和婴幼儿）参保登记&msgmenuid=2" in shanghai
    assert "北京" not in shanghai and "宁波" not in shanghai and "msgmenuid=3" not in shanghai
    wrong, = await bot.say("o-city-sh", "3")
    assert "1到2" in wrong
    opened, = await bot.say("o-city-sh", "1")
    assert "少儿住院互助基金" in opened and "办理须知" in opened
    # one scheme in the city: its form opens, and its first questions say whom it is for
    ningbo = await bot.say("o-city-nb", "我要给孩子办宁波的医保", "同意")
    assert "开始办理宁波机关事业单位子女" in ningbo[0] and "机关事业单位工作人员" in ningbo[1]
