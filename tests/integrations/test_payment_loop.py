"""The whole fulfilment loop over HTTP with the embedded checkout provider: submit → 预审 → pay link →
checkout page → signed callback → paid → confirmation; and the ways it must refuse."""
from __future__ import annotations

import json

import pytest
from urllib.parse import parse_qs, urlsplit

from bot.fulfilment import expire_overdue
from bot.store.base import VersionConflict
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, DONE, EXPIRED, PAID, PRE_APPROVED, REJECTED,
                             SUBMITTED)


async def _pay_via_checkout(http, link: str):
    parts = urlsplit(link)
    page = await http.get(parts.path + "?" + parts.query)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return page, await http.post("/pay/checkout", data=form)


async def test_full_loop_application_to_confirmation(bot, http):
    app = await bot.enrol_child()
    reply, turn = await bot.submit(app, run_followups=False)
    assert app["id"] in reply and "预审" in reply
    assert await bot.status(app["id"]) == SUBMITTED  # nothing slow happened inside the reply
    await bot.run(turn)

    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == AWAITING_PAYMENT and stored["order_no"].startswith("YWTB")
    assert stored["pay_deadline"].startswith("2026-09-11T10:00")  # 预审通过 + 24 h, from the policy pack
    [pay_message] = await bot.messages(app["user_id"])
    assert "预审通过" in pay_message and "150.00元" in pay_message and "9月11日 10:00" in pay_message

    page, paid = await _pay_via_checkout(http, await bot.pay_link(app["user_id"]))
    assert page.status == 200 and "150.00" in await page.text() and "支付" in await page.text()
    assert paid.status == 200 and "支付成功" in await paid.text()

    final = await bot.services.applications.get(app["id"])
    assert final["status"] == PAID and final["paid_at"]  # 办结 only once the fund has the money (seed)
    confirmation = (await bot.messages(app["user_id"]))[-1]
    assert "缴费成功" in confirmation and "医疗证" in confirmation  # what comes next, from the pack's aftercare
    assert "参保结果查询" in confirmation and "上海市红十字会" in confirmation and "5分钟后" in confirmation
    assert "确认收到参保费后事项办结" in confirmation and "已办结" not in confirmation
    order = await bot.fulfilment.orders.get(app["id"])
    assert order["status"] == "paid" and order["transaction_id"]


async def test_forged_notification_is_refused(bot, http):
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    body = json.loads(bot.fulfilment.payments.callback_body(order["order_no"], 15000, bot.clock.now()))
    body["sign"] = "0" * 64
    resp = await http.post("/pay/notify", data=json.dumps(body))
    assert resp.status == 400 and (await resp.json())["code"] == "FAIL"
    garbage = await http.post("/pay/notify", data=b"\x00not json")
    assert garbage.status == 400
    assert await bot.status(app["id"]) == AWAITING_PAYMENT


async def test_tampered_checkout_link_is_refused(bot, http):
    app = await bot.enrol_child()
    await bot.submit(app)
    link = await bot.pay_link(app["user_id"])
    forged = link.replace("sig=", "sig=ab")
    parts = urlsplit(forged)
    page = await http.get(parts.path + "?" + parts.query)
    assert page.status == 403 and "链接" in await page.text()


async def test_wrong_amount_is_refused_and_logged(bot, http, caplog):
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    body = bot.fulfilment.payments.callback_body(order["order_no"], 1, bot.clock.now())  # correctly signed, 0.01元
    resp = await http.post("/pay/notify", data=body)
    assert (await resp.json())["code"] == "FAIL"
    assert await bot.status(app["id"]) == AWAITING_PAYMENT
    assert "amount" in caplog.text


async def test_duplicate_notification_pays_once(bot, http):
    app = await bot.enrol_child()
    await bot.submit(app)
    order = await bot.fulfilment.orders.get(app["id"])
    body = bot.fulfilment.payments.callback_body(order["order_no"], 15000, bot.clock.now())
    answers = [await (await http.post("/pay/notify", data=body)).json() for _ in range(3)]
    assert all(a["code"] == "SUCCESS" for a in answers)  # the platform must stop repeating it
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == PAID
    assert [h["status"] for h in stored["history"]].count("paid") == 1
    assert sum("缴费成功" in m for m in await bot.messages(app["user_id"])) == 1


async def test_expiry_then_late_notification(bot, http):
    app = await bot.enrol_child()
    await bot.submit(app)
    link = await bot.pay_link(app["user_id"])
    order = await bot.fulfilment.orders.get(app["id"])

    bot.clock.advance(hours=23)
    await expire_overdue(bot.services)
    assert await bot.status(app["id"]) == AWAITING_PAYMENT  # still within 24 h

    bot.clock.advance(hours=1, minutes=1)
    await expire_overdue(bot.services)
    assert await bot.status(app["id"]) == EXPIRED
    expired_message = (await bot.messages(app["user_id"]))[-1]
    assert "已失效" in expired_message and "重新申请" in expired_message

    parts = urlsplit(link)
    page = await http.get(parts.path + "?" + parts.query)
    assert page.status == 410  # the checkout link expired with the deadline

    body = bot.fulfilment.payments.callback_body(order["order_no"], 15000, bot.clock.now())
    resp = await http.post("/pay/notify", data=body)
    assert (await resp.json())["code"] == "SUCCESS"  # acknowledged, recorded for a refund, not applied
    assert await bot.status(app["id"]) == EXPIRED
    assert (await bot.fulfilment.orders.get(app["id"]))["late_payment"] is True
    assert "退款" in (await bot.messages(app["user_id"]))[-1]


async def test_child_not_on_roster_is_rejected(bot):
    app = await bot.enrol_child(on_roster=False)
    await bot.submit(app)
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == REJECTED
    [message] = await bot.messages(app["user_id"])
    assert "预审未通过" in message and "请联系学校线下办理" in message
    assert await bot.fulfilment.orders.get(app["id"]) is None


async def test_employee_insurance_is_rejected_with_the_reason(bot):
    app = await bot.enrol_child(details={"in_school": True, "school_city": "上海", "school_stage": "primary",
                                       "roster_uploaded": True, "employee_insurance": True})
    await bot.submit(app)
    assert await bot.status(app["id"]) == REJECTED
    assert "职工基本医疗保险" in (await bot.messages(app["user_id"]))[0]


async def test_a_declared_exemption_awaits_verification_never_a_result(bot):
    app = await bot.enrol_child(exempt=True, amount_fen=0, full_amount_fen=15000)
    await bot.submit(app)
    assert await bot.status(app["id"]) == AWAITING_VERIFICATION
    assert await bot.fulfilment.orders.get(app["id"]) is None
    [message] = await bot.messages(app["user_id"])
    assert "免缴资格待审核" in message and "经审核后" in message and "民政部门" in message
    assert "已办结" not in message and "无需缴费" not in message
    assert "9月1日至9月30日联系属地学校办理" in message  # what to do if the amount shown is not 0
    await bot.fulfilment.sweep()  # nothing decides it but staff
    assert await bot.status(app["id"]) == AWAITING_VERIFICATION


async def test_staff_approve_a_declared_exemption(bot):
    app = await bot.enrol_child(exempt=True, amount_fen=0, full_amount_fen=15000)
    await bot.submit(app)
    await bot.fulfilment.record_verification(app["id"], True, staff="t")
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == DONE and stored["verification"]["result"] == "approved"
    message = (await bot.messages(app["user_id"]))[-1]
    assert "审核通过" in message and "无需缴费" in message
    assert await bot.fulfilment.orders.get(app["id"]) is None


async def test_staff_refuse_a_declared_exemption_sends_the_reason_and_the_link(bot):
    app = await bot.enrol_child(exempt=True, amount_fen=0, full_amount_fen=15000)
    await bot.submit(app)
    with pytest.raises(ValueError):
        await bot.fulfilment.record_verification(app["id"], False, "")  # a refusal needs its reason
    await bot.fulfilment.record_verification(app["id"], False, "民政数据中未查到低保记录")
    stored = await bot.services.applications.get(app["id"])
    assert stored["status"] == AWAITING_PAYMENT and stored["exempt"] is False and stored["amount_fen"] == 15000
    assert stored["pay_deadline"].startswith("2026-09-11T10:00")
    refusal, link = (await bot.messages(app["user_id"]))[-2:]
    assert "审核未通过" in refusal and "民政数据中未查到低保记录" in refusal
    assert "150.00元" in link and await bot.pay_link(app["user_id"])
    assert not link.startswith("预审通过")  # the refusal came just before: no cheerful 预审通过 again
    with pytest.raises(VersionConflict):  # decided once
        await bot.fulfilment.record_verification(app["id"], True)


async def test_a_refused_exemption_of_a_scheme_paid_elsewhere_gets_its_payment_instructions(bot):
    app = await bot.enrol_child(scheme="bj-child-student", exempt=True, amount_fen=0, full_amount_fen=16000,
                                school_code="", school_name="")
    await bot.submit(app)
    assert await bot.status(app["id"]) == AWAITING_VERIFICATION
    assert "确认表" in (await bot.messages(app["user_id"]))[-1]
    await bot.fulfilment.record_verification(app["id"], False, "学校未报送免缴材料")
    assert await bot.status(app["id"]) == PRE_APPROVED
    message = (await bot.messages(app["user_id"]))[-1]
    assert "学校未报送免缴材料" in message and "银行扣款" in message and "<a href" not in message
    assert await bot.fulfilment.orders.get(app["id"]) is None


async def test_a_scheme_paid_through_its_own_channel_gets_no_link_of_ours(bot):
    """Beijing's 一小 is paid by bank deduction: 预审通过 says how, and no order or pay link competes with
    the deduction (a guardian could otherwise pay twice), not even from the sweep."""
    app = await bot.enrol_child(scheme="bj-child-student", amount_fen=16000, school_code="", school_name="")
    await bot.submit(app)
    assert await bot.status(app["id"]) == PRE_APPROVED
    [message] = await bot.messages(app["user_id"])
    assert "预审通过" in message and "缴费方式：银行扣款" in message and "<a href" not in message
    await expire_overdue(bot.services)
    assert await bot.fulfilment.orders.get(app["id"]) is None and len(await bot.messages(app["user_id"])) == 1
    note = await bot.fulfilment.progress_note(await bot.services.applications.get(app["id"]))
    assert note.startswith("缴费方式：银行扣款") and "链接" not in note


async def test_simulator_outbox_route_takes_messages_once(bot, http):
    app = await bot.enrol_child()
    await bot.submit(app)
    first = await (await http.get("/simulator/outbox", params={"user": app["user_id"]})).json()
    again = await (await http.get("/simulator/outbox", params={"user": app["user_id"]})).json()
    assert len(first["messages"]) == 1 and "预审通过" in first["messages"][0]
    assert again["messages"] == []
    assert (await http.get("/simulator/outbox")).status == 400


async def test_progress_note_follows_the_application(bot):
    app = await bot.enrol_child()
    assert "正在预审" in await bot.fulfilment.progress_note(app)
    await bot.submit(app)
    note = await bot.fulfilment.progress_note(await bot.services.applications.get(app["id"]))
    assert "9月11日 10:00" in note and "/pay/checkout?order=YWTB" in note and "150.00元" in note
    rejected = await bot.enrol_child(on_roster=False)
    await bot.submit(rejected)
    assert "线下办理" in await bot.fulfilment.progress_note(await bot.services.applications.get(rejected["id"]))


def test_checkout_links_point_at_the_configured_platform():
    from integrations.payment import provider_from_env

    local = provider_from_env({}, public_url="http://bot.example", default_secret=b"s" * 32)
    remote = provider_from_env({"PAY_CHECKOUT_URL": "https://pay.example/cashier"}, public_url="http://bot.example",
                               default_secret=b"s" * 32)
    assert local.is_local and local.checkout_url == "http://bot.example/pay/checkout"
    assert not remote.is_local and remote.checkout_url == "https://pay.example/cashier"


async def test_simulated_cashier_is_off_without_the_simulator(aiohttp_client, tmp_path):
    from bot.app import create_app
    from bot.config import Settings
    from bot.services import build_services

    settings = Settings(wechat_token="t", data_dir=tmp_path, store_url=f"sqlite:///{tmp_path}/bot.db",
                        admin_token="a", simulator=False)
    client = await aiohttp_client(create_app(settings, build_services(settings), background=False))
    assert (await client.get("/pay/checkout", params={"order": "x", "exp": "1", "sig": "y"})).status == 404
    assert (await client.post("/pay/checkout", data={"order": "x"})).status in (404, 405)
