"""Messages to guardians through the (fake) WeChat API when an account is configured: the payment
loop's notices arrive as customer-service messages; refused ones are kept and sent later."""
from __future__ import annotations

import argparse

import pytest

from bot.delivery import deliver, flush_pending, retry_undelivered, wechat_api
from bot.components import build_router
from bot.fulfilment import Fulfilment
from bot.pipeline import Pipeline
from bot.store.repos import AWAITING_PAYMENT
from bot.turn import Incoming
from integrations.wechat import cli
from integrations.wechat.templates import TemplateNotice
from tests.fakes.wechat_api import FakeWeChatAPI
from tests.integrations.harness import Bot, make_services

APPID, SECRET = "wxdeliverytest", "delivery-secret"


@pytest.fixture
async def fake():
    async with FakeWeChatAPI.running(appid=APPID, secret=SECRET) as server:
        yield server


@pytest.fixture
async def api_bot(tmp_path, sqlite_store, engine, fake):
    services = make_services(tmp_path, sqlite_store, wechat_appid=APPID, wechat_secret=SECRET,
                             wechat_api_base=fake.base_url)
    fulfilment = Fulfilment(services, engine, env={})
    services.extras.update(engine=engine, fulfilment=fulfilment)
    yield Bot(services, fulfilment)
    await wechat_api(services).close()


async def test_pay_link_goes_out_as_a_customer_service_message(api_bot, fake):
    app = await api_bot.enrol_child()
    await api_bot.submit(app)
    assert await api_bot.status(app["id"]) == AWAITING_PAYMENT
    [text] = fake.texts_to(app["user_id"])
    assert "预审通过" in text and "/pay/checkout?order=YWTB" in text
    assert await api_bot.messages(app["user_id"]) == []  # nothing in the simulator outbox


async def test_outside_window_is_kept_and_sent_when_the_guardian_writes(api_bot, fake):
    fake.fail_openid("o-away", 45015)
    result = await deliver(api_bot.services, "o-away", "预审通过！请缴费")
    assert result.status == "undeliverable"
    assert fake.texts_to("o-away") == []
    fake.heal_openid("o-away")
    assert await flush_pending(api_bot.services, "o-away") == 1
    assert fake.texts_to("o-away") == ["预审通过！请缴费"]
    assert await flush_pending(api_bot.services, "o-away") == 0  # sent once


async def test_outside_window_a_template_notice_goes_now_and_the_full_text_when_they_write(api_bot, fake):
    api_bot.services.settings.template_notice = TemplateNotice.from_env(
        {"WECHAT_TEMPLATE_ID": "TPL-REMIND", "WECHAT_TEMPLATE_FIELDS": "thing1=title,time2=date,thing3=hint"})
    fake.fail_openid("o-away", 45015)
    text = "【提醒】少儿住院互助基金参保将于9月30日截止，还有3天。\n请尽快为孩子办理：回复“我要参保”。"
    result = await deliver(api_bot.services, "o-away", text)
    assert result.ok and result.detail == "template"
    [(openid, body)] = fake.templates
    assert openid == "o-away" and body["template_id"] == "TPL-REMIND"
    title = body["data"]["thing1"]["value"]  # a thing field takes 20 characters at most
    assert len(title) == 20 and title.startswith("【提醒】少儿住院互助基金") and title.endswith("…")
    assert body["data"]["time2"]["value"].startswith("2026年") and "查看完整内容" in body["data"]["thing3"]["value"]
    assert fake.texts_to("o-away") == []
    fake.heal_openid("o-away")  # they wrote: the window is open again, and the whole text goes now
    assert await flush_pending(api_bot.services, "o-away") == 1
    assert fake.texts_to("o-away") == [text]


async def test_held_messages_go_when_the_guardian_next_writes_looked_up_once_per_interaction(api_bot, fake):
    services = api_bot.services
    fake.fail_openid("o-away", 45015)
    await deliver(services, "o-away", "预审通过！请缴费")
    fake.heal_openid("o-away")
    looked_up = []

    async def flush(services, openid):
        looked_up.append(openid)
        return await flush_pending(services, openid)

    pipeline = Pipeline(services, build_router(services), on_guardian_message=flush)

    async def says(text: str, msg_id: int) -> None:
        await pipeline.handle(Incoming(user_id="o-away", kind="text", text=text, msg_id=str(msg_id)))
        await pipeline.drain(5)

    await says("你好", 9001)
    assert fake.texts_to("o-away") == ["预审通过！请缴费"] and looked_up == ["o-away"]
    await says("参保截止时间", 9002)
    assert looked_up == ["o-away"]  # the same interaction: no second look-up
    api_bot.clock.advance(minutes=11)
    await says("要带什么材料", 9003)
    assert looked_up == ["o-away", "o-away"]
    assert fake.texts_to("o-away") == ["预审通过！请缴费"]  # sent once


async def test_a_transient_failure_while_flushing_hands_the_message_to_the_sweep(api_bot, fake):
    wechat_api(api_bot.services).backoff = 0.01
    fake.fail_openid("o-away", 45015)
    for text in ("一", "二"):
        await deliver(api_bot.services, "o-away", text)
    fake.heal_openid("o-away")
    fake.fail_next(5, http_status=500)
    assert await flush_pending(api_bot.services, "o-away") == 0
    await retry_undelivered(api_bot.services)  # the guardian need not write again for the first
    assert fake.texts_to("o-away") == ["一"]
    assert await flush_pending(api_bot.services, "o-away") == 1  # the next interaction sends the rest
    assert fake.texts_to("o-away") == ["一", "二"]


async def test_without_a_template_or_for_other_refusals_nothing_else_is_sent(api_bot, fake):
    fake.fail_openid("o-away", 45015)
    assert (await deliver(api_bot.services, "o-away", "通知")).status == "undeliverable"  # no template set
    api_bot.services.settings.template_notice = TemplateNotice.from_env({"WECHAT_TEMPLATE_ID": "TPL"})
    fake.fail_openid("o-left", 43004)  # unfollowed: a template would be refused too
    assert (await deliver(api_bot.services, "o-left", "通知")).status == "undeliverable"
    assert fake.templates == []


def test_template_fields_are_checked_at_start():
    notice = TemplateNotice.from_env({"WECHAT_TEMPLATE_ID": "T"})  # the classic first/keyword/remark layout
    assert [key for key, _ in notice.fields] == ["first", "keyword1", "keyword2", "remark"]
    assert TemplateNotice.from_env({}) is None
    with pytest.raises(ValueError, match="WECHAT_TEMPLATE_FIELDS"):
        TemplateNotice.from_env({"WECHAT_TEMPLATE_ID": "T", "WECHAT_TEMPLATE_FIELDS": "first=标题"})


async def test_held_quota_keeps_order_of_messages(api_bot, fake):
    fake.fail_openid("o-busy", 45047)
    for text in ("一", "二"):
        assert (await deliver(api_bot.services, "o-busy", text)).status == "held"
    fake.heal_openid("o-busy")
    await flush_pending(api_bot.services, "o-busy")
    assert fake.texts_to("o-busy") == ["一", "二"]


async def test_transient_failures_are_retried_by_the_sweep(api_bot, fake):
    wechat_api(api_bot.services).backoff = 0.01
    fake.fail_next(5, http_status=500)
    result = await deliver(api_bot.services, "o-1", "办结通知")
    assert result.status == "retry"
    await retry_undelivered(api_bot.services)
    assert fake.texts_to("o-1") == ["办结通知"]
    await retry_undelivered(api_bot.services)
    assert fake.texts_to("o-1") == ["办结通知"]  # not sent twice


async def test_cli_publishes_menu_and_makes_school_qrcode(fake, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WECHAT_APPID", APPID)
    monkeypatch.setenv("WECHAT_SECRET", SECRET)
    monkeypatch.setenv("WECHAT_API_BASE", fake.base_url)
    menu = cli.load_menu()
    assert await cli._with_api(lambda api: cli._publish(api, menu)) == 0
    [published] = fake.menus
    keys = [b.get("key") for b in published["button"]] + \
           [s["key"] for b in published["button"] for s in b.get("sub_button", [])]
    assert {"ENROLL", "PROGRESS", "FAQ_FEE", "FAQ_DEADLINE", "FAQ_MATERIALS", "FAQ_REIMBURSE", "HUMAN"} <= set(keys)

    image = tmp_path / "qr.jpg"
    assert await cli._with_api(lambda api: cli._qrcode(api, "310104001", 0, image)) == 0
    [request] = fake.qrcodes.values()
    assert request["action_info"]["scene"]["scene_str"] == "school:310104001"
    assert image.read_bytes().startswith(b"\x89PNG")
    assert "school:310104001" in capsys.readouterr().out


def test_cli_refuses_bad_input(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("WECHAT_SECRET", raising=False)
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["qrcode", "../etc"])
    assert args.func(args) == 2
    bad = tmp_path / "menu.yaml"
    bad.write_text("button:\n  - {name: 一二三四五六七八, type: click, key: X}\n", encoding="utf-8")
    args = parser.parse_args(["menu", "publish", "--file", str(bad)])
    assert args.func(args) == 2
    assert "过长" in capsys.readouterr().out
    args = parser.parse_args(["menu", "publish"])
    assert args.func(args) == 2  # no WECHAT_SECRET: a clear message, no traceback
