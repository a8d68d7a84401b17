"""After the guardian confirms: pre-review (预审), payment order, payment result, expiry — the glue
between the dialogs (Submitter port) and the outside world (integrations.enrollment, .payment).

    submitted ──预审──▶ pre_approved ──order──▶ awaiting_payment ──paid──▶ paid ──(fund confirms)──▶ done
        │                   ▲                                    └─deadline─▶ expired
        │                   └──── refused (reason; the guardian gets the link / payment instructions)
        ├──预审 (exemption claimed)──▶ awaiting_verification ──staff approve──▶ done (免缴)
        └──▶ rejected
    A self-declared exemption (低保, 困境儿童, 免缴材料) is exempt only 经审核后: no system of ours decides it,
    so staff record the verification (`record_verification`, admin API and CLI).
    A scheme paid through its own channel (pack `payment.channel: external`) stops at pre_approved: the guardian
    is told how to pay there, and no order or link of ours competes with it.

Everything slow runs in follow-ups after the reply; every outcome reaches the guardian by message
(`bot.delivery.deliver`). Amounts come only from the application (`amount_fen`, computed by the
rule engine); deadlines only from `engine.deadline_for`. Status changes are compare-and-set, so a
duplicate payment notification, a racing expiry sweep or a second worker never double-applies.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import os
from collections.abc import Mapping
from typing import Any

from bot.clock import SHANGHAI
from bot.delivery import deliver, retry_undelivered
from bot.services import Services
from bot.store.base import VersionConflict, Write
from bot.store.repos import (AWAITING_PAYMENT, AWAITING_VERIFICATION, DONE, DRAFT, EXPIRED, PAID, PRE_APPROVED,
                             REJECTED, STATUS_LABELS, SUBMITTED)
from dialogs.forms import FormSpec, load_forms
from dialogs.render import fill
from integrations.enrollment import (APPROVED, CALLBACK_PATH, PENDING, EnrollmentBackend, HttpEnrollmentBackend,
                                     ReviewResult, RosterReview)
from integrations.payment import (HostedCheckoutProvider, OrderBook, OrderInProgress, PaymentError, PaymentNotice, PaymentProvider,
                                  provider_from_env)
from integrations.payment.orders import EXPIRED as ORDER_EXPIRED
from integrations.payment.orders import ORDER_KIND
from integrations.payment.orders import PAID as ORDER_PAID
from integrations.payment.orders import index_of as order_index
from integrations.payment.orders import record_key as order_record_key

log = logging.getLogger("bot.fulfilment")

REVIEW_TIMEOUT = 10.0  # seconds for one pre-review call
LINK_LIFETIME = dt.timedelta(days=7)  # technical fallback for schemes whose pack sets no payment deadline
ACTIVE = (SUBMITTED, PRE_APPROVED, AWAITING_PAYMENT, AWAITING_VERIFICATION)
REAPPLY_HINT = "如需参保，请点击菜单「我要参保」或回复“我要参保”重新申请。"
PAYMENT_CLOSED = "在线缴费暂未开放，开放后我们会通过公众号消息把缴费链接发给您。"


def payment_setup_problem(settings: Any, env: Mapping[str, str]) -> str:
    """Why `serve` must not start, or "": without the simulator (a real account) the local simulated
    cashier is not served, so its links would answer 404 until the application lapsed. A real provider
    must be set, or payments switched off on purpose (PAY_PROVIDER=off)."""
    if settings.simulator:
        return ""
    try:
        provider = provider_from_env(env, public_url=settings.public_url, default_secret=b"-" * 16)
    except ValueError as exc:
        return str(exc)
    if isinstance(provider, HostedCheckoutProvider) and provider.is_local:
        return ("支付未配置，服务没有启动：真实公众号请设置 PAY_PROVIDER=wechat（并设置 WECHAT_PAY_MCH_ID、"
                "WECHAT_PAY_API_KEY），或设置 PAY_CHECKOUT_URL 和 PAY_CHECKOUT_SECRET 指向支付平台的收银台；"
                "暂不开放在线缴费请设置 PAY_PROVIDER=off（家长会被告知缴费稍后开放）。")
    return ""


class Fulfilment:
    """Implements the dialogs' Submitter port and handles payment notifications and expiry."""

    def __init__(self, services: Services, engine: Any, *, payments: PaymentProvider | None = None,
                 backend: EnrollmentBackend | None = None, env: Mapping[str, str] | None = None) -> None:
        self.services, self.engine = services, engine
        env = os.environ if env is None else env
        self.payments = payments or provider_from_env(
            env, public_url=services.settings.public_url,
            default_secret=services.cipher.blind("payment-checkout-secret").encode())
        self.orders = OrderBook(services.store, self.payments, create_timeout=float(env.get("PAY_TIMEOUT") or 5) + 3)
        self.backend = backend or self._backend_from_env(env)
        # The forms word what a guardian is told about their scheme's exemption verification.
        self.forms: dict[str, FormSpec] = load_forms(services.settings.policies_dir / "forms")
        services.extras.update(payments=self.payments, orders=self.orders, enrollment=self.backend)
        sweeps = services.extras.setdefault("sweeps", [])
        for sweep in (expire_overdue, retry_undelivered):
            if sweep not in sweeps:
                sweeps.append(sweep)

    def _backend_from_env(self, env: Mapping[str, str]) -> EnrollmentBackend:
        kind = (env.get("ENROLLMENT_BACKEND") or "embedded").strip().lower()
        if kind == "embedded":
            return RosterReview(self.services.roster.lookup, self._school_has_roster, self._rule_refusal,
                                self._roster_required)
        if kind == "http" and env.get("ENROLLMENT_BASE") and env.get("ENROLLMENT_SECRET"):
            return HttpEnrollmentBackend(env["ENROLLMENT_BASE"], env["ENROLLMENT_SECRET"].encode(),
                                         self.services.settings.public_url + CALLBACK_PATH,
                                         timeout=float(env.get("ENROLLMENT_TIMEOUT") or 5))
        raise ValueError("ENROLLMENT_BACKEND 应为 embedded，或 http（并设置 ENROLLMENT_BASE 和 ENROLLMENT_SECRET）")

    # ----- Submitter port --------------------------------------------------------------------
    async def submit(self, turn: Any, application: dict[str, Any]) -> str:
        """The dialog stored the application (status submitted); pre-review runs after the reply."""
        app_id = application["id"]
        if application.get("status") == DRAFT or not application.get("submitted_at"):
            await self.services.applications.update(app_id, turn.now, status=SUBMITTED,
                                                    submitted_at=turn.now.isoformat(timespec="seconds"))
        turn.followups.append(functools.partial(self._review_followup, app_id))
        return (f"申请已提交（编号 {app_id}），正在预审。预审结果会通过消息通知您，请留意公众号消息；"
                "也可随时回复“进度”查看。")

    async def _review_followup(self, app_id: str, services: Services) -> None:
        await self.review(app_id)

    # ----- pre-review ------------------------------------------------------------------------
    async def review(self, app_id: str, poll: bool = False) -> None:
        """Pre-review one submitted application (once at a time across workers) and act on the result."""
        claim = f"review:{app_id}"
        if not await self.services.store.claim(claim, REVIEW_TIMEOUT + 5):
            return
        try:
            app = await self.services.applications.get(app_id)
            if app is None or app["status"] != SUBMITTED:
                return
            call = self.backend.result if poll else self.backend.submit
            try:
                result = await asyncio.wait_for(call(app), REVIEW_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - any backend failure: stay submitted, the sweep polls
                log.warning("pre-review failed application=%s: %s", app_id, type(exc).__name__)
                return
            await self.apply_review(app, result)
        finally:
            await self.services.store.release_claim(claim)

    async def review_decided(self, app_id: str, result: ReviewResult) -> bool:
        """A backend's callback: apply the decision to a still-submitted application. False if unknown."""
        app = await self.services.applications.get(app_id)
        if app is None:
            return False
        if app["status"] == SUBMITTED:
            await self.apply_review(app, result)
        return True

    async def apply_review(self, app: dict[str, Any], result: ReviewResult) -> None:
        """Act on a pre-review result (also the entry point for a backend's callback)."""
        now = self.services.clock.now()
        if result.status == PENDING:
            if result.reference and result.reference != app.get("review_reference"):
                await self.services.applications.update(app["id"], now, review_reference=result.reference)
            return
        if result.status != APPROVED:
            try:
                app = await self.services.applications.update(
                    app["id"], now, status=REJECTED, expect_status=(SUBMITTED,), note=result.reason,
                    review_reason=result.reason, review_reference=result.reference)
            except VersionConflict:
                return
            await self._tell(app, f"很抱歉，{_child(app)}的参保申请（编号 {app['id']}）预审未通过：{result.reason}")
            return
        try:
            app = await self.services.applications.update(
                app["id"], now, status=PRE_APPROVED, expect_status=(SUBMITTED,),
                pre_approved_at=now.isoformat(timespec="seconds"), review_reference=result.reference)
        except VersionConflict:
            return
        external = self._external_payment(app)
        if app.get("exempt"):
            await self._await_verification(app)
        elif external:
            steps = self._form_message(app, "after_pre_review")
            await self._tell(app, f"预审通过！{_child(app)}的参保申请（编号 {app['id']}）已通过预审。\n缴费方式：{external}"
                             + (f"\n{steps}" if steps else ""))
        else:
            await self.issue_order(app)

    def _external_payment(self, app: dict[str, Any]) -> str:
        """How a scheme paid through its own channel (bank deduction, the tax app, the school) is paid;
        "" when the guardian pays through our link. Such an application stays 预审通过: no order is made
        (a second way to pay would invite paying twice) and we hear of no payment."""
        try:
            channel, how = self.engine.payment_channel(app["scheme"])
        except Exception:  # noqa: BLE001 - an unknown scheme is paid online, as before
            return ""
        return how if channel == "external" else ""

    async def _await_verification(self, app: dict[str, Any]) -> None:
        """The exemption was declared by the guardian: tell them it is a claim awaiting verification
        (what that means and what to do if it fails), never that nothing is to be paid."""
        now = self.services.clock.now()
        try:
            app = await self.services.applications.update(app["id"], now, status=AWAITING_VERIFICATION,
                                                          expect_status=(PRE_APPROVED,), note="免缴申报待审核")
        except VersionConflict:
            return
        await self._tell(app, f"预审通过。{_child(app)}的参保申请（编号 {app['id']}）已通过预审。\n"
                              + self._form_message(app, "exemption_pending"))

    async def record_verification(self, app_id: str, approved: bool, reason: str = "", staff: str = "") -> dict[str, Any]:
        """Staff's verification of a declared exemption. Approved: exempt, done. Refused (a reason is
        required): the full fee is due — the guardian is told why and gets the payment link (a scheme paid
        through us) or their scheme's payment instructions. Raises KeyError (unknown application),
        VersionConflict (not awaiting verification) or ValueError (refused without a reason)."""
        reason = " ".join(str(reason or "").split())[:200]
        if not approved and not reason:
            raise ValueError("审核不通过须写明原因")
        now = self.services.clock.now()
        stamp = {"result": "approved" if approved else "refused", "reason": reason, "by": staff[:40],
                 "at": now.isoformat(timespec="seconds")}
        current = await self.services.applications.get(app_id)
        if current is None:
            raise KeyError(app_id)
        if approved:
            app = await self.services.applications.update(
                app_id, now, status=DONE, expect_status=(AWAITING_VERIFICATION,), note="免缴审核通过",
                verification=stamp)
            await self._tell(app, self._form_message(app, "exemption_approved")
                             or f"审核通过：{_child(app)}的参保申请（编号 {app['id']}）免予缴费。")
            return app
        full = current.get("full_amount_fen")
        app = await self.services.applications.update(
            app_id, now, status=PRE_APPROVED, expect_status=(AWAITING_VERIFICATION,), note=f"免缴审核未通过：{reason}",
            verification=stamp, exempt=False, amount_fen=full if isinstance(full, int) else None,
            pre_approved_at=now.isoformat(timespec="seconds"))  # the payment time limit runs from now
        told = f"很抱歉，{_child(app)}的免缴资格审核未通过（编号 {app['id']}）：{reason}\n" + self._form_message(app, "exemption_refused")
        external = self._external_payment(app)
        await self._tell(app, told + (f"\n缴费方式：{external}" if external else ""))
        if not external:
            await self.issue_order(app)
        return await self.services.applications.get(app_id) or app

    def _form_message(self, app: dict[str, Any], key: str) -> str:
        """A message of the application's form, with its placeholders filled from the record (the form's own
        answers are kept in `details`)."""
        spec = self.forms.get(app.get("scheme", ""))
        if spec is None:
            return ""
        slots = {**_dict(app.get("details")), **app}
        return fill(spec.message(key, slots), slots).strip()

    # ----- payment order ---------------------------------------------------------------------
    async def issue_order(self, app: dict[str, Any]) -> None:
        """Create the payment order of a pre-approved application and send the pay link with its deadline.
        A platform failure keeps the application pre_approved; the sweep tries again before the deadline."""
        now = self.services.clock.now()
        if self.payments is None:  # PAY_PROVIDER=off: no link can be paid, so none is sent and none lapses
            await self._wait_for_payments(app)
            return
        deadline = self.engine.deadline_for(app)
        if deadline is not None and now >= deadline:
            await self._expire(app, deadline)
            return
        amount = app.get("amount_fen")
        if not isinstance(amount, int) or amount <= 0:
            log.error("application %s has no payable amount; order not created", app["id"])
            if not app.get("order_problem_told"):
                await self.services.applications.update(app["id"], now, order_problem_told=True)
                await self._tell(app, f"{_order_head(app)}{_child(app)}的参保申请（编号 {app['id']}）缴费金额暂未确定，"
                                      "请稍后回复“进度”查看，或联系人工客服。")
            return
        pay_deadline = deadline.isoformat(timespec="seconds") if deadline else ""
        settled: list[dict[str, Any]] = []

        async def settle(order: dict[str, Any]) -> None:
            # The created order and the application's move to 待缴费 are stored together or not at all.
            settled.append(await self.services.applications.update(
                app["id"], now, status=AWAITING_PAYMENT, expect_status=(PRE_APPROVED,), order_no=order["order_no"],
                pay_deadline=pay_deadline, also=lambda _app: [order_write(order)]))

        try:
            order = await self.orders.ensure_order(
                application_id=app["id"], user_id=app["user_id"], amount_fen=amount,
                description=self._scheme_name(app) + "参保缴费", expires_at=deadline or now + LINK_LIFETIME, now=now,
                settle=settle)
        except (OrderInProgress, VersionConflict):
            return
        except PaymentError:
            if not app.get("order_problem_told"):
                await self.services.applications.update(app["id"], now, order_problem_told=True)
                await self._tell(app, f"{_order_head(app)}{_child(app)}的参保申请（编号 {app['id']}）缴费链接正在生成，"
                                      "稍后会发送给您，请留意公众号消息。")
            return
        try:
            app = settled[0] if settled else await self.services.applications.update(  # an order made earlier
                app["id"], now, status=AWAITING_PAYMENT, expect_status=(PRE_APPROVED,), order_no=order["order_no"],
                pay_deadline=pay_deadline)
        except VersionConflict:
            return
        when = f"请在 {_when(deadline)} 前完成缴费，逾期需重新申请。" if deadline else "请尽快完成缴费。"
        await self._tell(app, f"{_order_head(app)}{_child(app)}的参保申请（编号 {app['id']}）{when}\n"
                              f"缴费金额：{yuan(amount)}元\n订单号：{order['order_no']}\n"
                              f'<a href="{order["pay_url"]}">点击这里去缴费</a>')

    async def _wait_for_payments(self, app: dict[str, Any]) -> None:
        """Online payment is switched off: the application stays 预审通过, marked `payment_waiting` for
        staff; the guardian is told once that the link comes when payment opens (the sweep sends it then)."""
        if app.get("payment_waiting"):
            return
        app = await self.services.applications.update(app["id"], self.services.clock.now(), payment_waiting=True)
        await self._tell(app, f"预审通过！{_child(app)}的参保申请（编号 {app['id']}）已通过预审。{PAYMENT_CLOSED}"
                              "无需重新申请，也可随时回复“进度”查看。")

    # ----- payment result --------------------------------------------------------------------
    async def on_payment(self, notice: PaymentNotice) -> tuple[bool, str]:
        """A verified payment notification. Returns (handled, note): False makes the platform retry."""
        now = self.services.clock.now()
        order = await self.orders.by_order_no(notice.order_no)
        if order is None:
            log.warning("payment notification for unknown order %s refused", notice.order_no)
            return False, "unknown order"
        app = await self.services.applications.get(order["application_id"])
        if app is None:
            log.error("order %s has no application", notice.order_no)
            return False, "unknown application"
        if notice.amount_fen != order["amount_fen"] or notice.amount_fen != app.get("amount_fen"):
            log.error("payment notification refused: amount %s fen differs from order %s (%s fen)",
                      notice.amount_fen, notice.order_no, order["amount_fen"])
            return False, "amount mismatch"
        if app["status"] in (PAID, DONE):
            if notice.transaction_id and notice.transaction_id != app.get("transaction_id"):
                return await self._refund_due(app, notice, "该申请已经缴过费，这是一笔重复缴费")  # paid twice
            return True, "duplicate"  # the platform repeating the notification of the payment we applied
        paid_at = now.isoformat(timespec="seconds")
        settled = dict(order, status=ORDER_PAID, paid_at=paid_at, transaction_id=notice.transaction_id)
        try:
            # The application's 已缴费, its order's and the payment's own record: one transaction.
            app = await self.services.applications.update(
                app["id"], now, status=PAID, expect_status=(AWAITING_PAYMENT,), note=f"订单 {notice.order_no}",
                paid_at=paid_at, transaction_id=notice.transaction_id,
                also=lambda _app: [order_write(settled), payment_write(notice, app["id"], paid_at)])
        except VersionConflict:
            current = await self.services.applications.get(app["id"])
            if current and current["status"] in (PAID, DONE):
                if notice.transaction_id and notice.transaction_id != current.get("transaction_id"):
                    return await self._refund_due(current, notice, "该申请已经缴过费，这是一笔重复缴费")
                return True, "duplicate"
            return await self._late_payment(current or app, order, notice)
        # Paid is not 办结: the fund closes the matter once the bank transfer has reached it (seed: 银行到账
        # 完成，确认收到参保费后事项办结), so the application stays 已缴费 and the guardian is told where to
        # check the result and what 办结 depends on.
        after = self._form_message(app, "after_payment")
        await self._tell(app, f"缴费成功！{_child(app)}的{self._scheme_name(app)}参保申请（编号 {app['id']}）"
                              f"已缴费 {yuan(notice.amount_fen)}元。" + (f"\n{after}" if after else "") + self._aftercare(app))
        return True, "ok"

    async def _late_payment(self, app: dict[str, Any], order: dict[str, Any], notice: PaymentNotice) -> tuple[bool, str]:
        """Money arrived for an application that is no longer payable (expired, cancelled)."""
        if not order.get("late_payment"):
            await self.orders.update(app["id"], late_payment=True, transaction_id=notice.transaction_id)
        return await self._refund_due(app, notice, f"该申请已{_status_label(app)}", REAPPLY_HINT)

    async def _refund_due(self, app: dict[str, Any], notice: PaymentNotice, why: str, hint: str = "") -> tuple[bool, str]:
        """Money that pays for no cover — a second, distinct payment for a paid application, or one that
        came after the application lapsed: kept as a payment record marked for refund (staff see it on the
        application page and API), the guardian told once, and acknowledged so the platform stops
        repeating the notification."""
        now = self.services.clock.now()
        write = payment_write(notice, app["id"], now.isoformat(timespec="seconds"), refund_due=why)
        try:
            await self.services.store.put(write.kind, write.key, write.data, expected_version=0, index=write.index)
        except VersionConflict:
            return True, "refund already recorded"
        log.error("payment %s for order %s pays for nothing (application %s is %s); recorded for refund",
                  notice.transaction_id, notice.order_no, app["id"], app["status"])
        await self._tell(app, f"您为参保申请（编号 {app['id']}）缴的一笔 {yuan(notice.amount_fen)}元 到达时，{why}，"
                              f"这笔缴费不会用于参保。已登记待退款，请联系人工客服办理退款。{hint}")
        return True, "refund due"

    # ----- expiry and sweeps -----------------------------------------------------------------
    async def sweep(self) -> None:
        now = self.services.clock.now()
        for app in await self.services.applications.by_status(AWAITING_PAYMENT):
            deadline = _parse(app.get("pay_deadline"))
            if deadline is not None and now >= deadline:
                await self._expire(app, deadline)
        for app in await self.services.applications.by_status(PRE_APPROVED):
            if app.get("exempt"):
                await self._await_verification(app)
            elif not self._external_payment(app):
                await self.issue_order(app)  # expires it when its deadline has passed
        for app in await self.services.applications.by_status(SUBMITTED):
            submitted = _parse(app.get("submitted_at") or app.get("created_at"))
            if submitted is None or now - submitted >= dt.timedelta(minutes=1):
                await self.review(app["id"], poll=True)

    async def _expire(self, app: dict[str, Any], deadline: dt.datetime) -> None:
        now = self.services.clock.now()
        order = await self.orders.get(app["id"])
        closing = [order_write(dict(order, status=ORDER_EXPIRED))] if order else []
        try:
            app = await self.services.applications.update(app["id"], now, status=EXPIRED,
                                                          expect_status=(AWAITING_PAYMENT, PRE_APPROVED),
                                                          note="超过缴费期限", also=lambda _app: closing)
        except VersionConflict:
            return
        if app.get("payment_waiting"):  # online payment opened only after the deadline: nobody could pay
            await self._tell(app, f"在线缴费现已开放，但{_child(app)}的参保申请（编号 {app['id']}）的缴费期限"
                                  f"（{_when(deadline)}）已过，申请已失效。{REAPPLY_HINT}")
            return
        await self._tell(app, f"很抱歉，{_child(app)}的参保申请（编号 {app['id']}）未在缴费期限（{_when(deadline)}）前"
                              f"完成缴费，申请已失效。{REAPPLY_HINT}")

    async def progress_note(self, app: dict[str, Any]) -> str:
        """One line for 办理进度: the pay link and deadline while awaiting payment, the reason of a
        rejection, or what happens next. "" when there is nothing to add to the status label."""
        status = app.get("status")
        if status == AWAITING_PAYMENT:
            order = await self.orders.get(app["id"])
            deadline = _parse(app.get("pay_deadline"))
            if order and order.get("pay_url"):
                until = f"请在 {_when(deadline)} 前" if deadline else "请尽快"
                return f'{until}完成缴费（{yuan(order["amount_fen"])}元）：<a href="{order["pay_url"]}">去缴费</a>'
        if status == PRE_APPROVED:
            how = self._external_payment(app)
            if how:
                return f"缴费方式：{how}"
            return PAYMENT_CLOSED if app.get("payment_waiting") else "预审已通过，缴费链接正在生成，稍后通过消息发送。"
        if status == SUBMITTED:
            return "正在预审，结果会通过消息通知您。"
        if status == AWAITING_VERIFICATION:
            return "免缴申报正在审核，还不是免缴的结果：审核通过会通知您；未通过会告诉您原因和缴费方式。"
        if status == REJECTED and app.get("review_reason"):
            return f"未通过原因：{app['review_reason']}"
        if status == EXPIRED:
            return "未在期限内缴费，申请已失效。" + REAPPLY_HINT
        return ""

    # ----- helpers ---------------------------------------------------------------------------
    async def _tell(self, app: dict[str, Any], text: str) -> None:
        await deliver(self.services, app["user_id"], text)

    def _aftercare(self, app: dict[str, Any]) -> str:
        try:
            items = self.engine.procedure(app["scheme"], "aftercare")
        except Exception:  # noqa: BLE001 - an unknown scheme must not stop the confirmation
            items = []
        if not items:
            return ""
        parts = ["\n接下来："]
        for item in items[:3]:
            parts.append(f"【{item.title}】" + "".join(item.lines[:2]))
        return "\n".join(parts)

    def _scheme_name(self, app: dict[str, Any]) -> str:
        try:
            return self.engine.pack(app["scheme"]).short_name
        except Exception:  # noqa: BLE001
            return ""

    def _rule_refusal(self, app: dict[str, Any]) -> str | None:
        # The dialog's record keeps scheme answers in `details`; `facts` (if any) are explicit rule facts.
        facts = {**_dict(app.get("details")), **_dict(app.get("facts"))}
        if not facts:
            return None
        try:
            result = self.engine.eligibility(app["scheme"], facts, self.services.clock.today())
        except Exception:  # noqa: BLE001 - a broken fact set is for staff, not a rejection
            log.exception("eligibility check failed for application %s", app.get("id"))
            return None
        if result.status != "not_eligible":
            return None
        rule = result.rule
        return "；".join(x for x in ((rule.text if rule else ""), result.explanation) if x) or "不符合参保条件。"

    def _roster_required(self, app: dict[str, Any]) -> bool:
        """Schemes whose eligibility depends on the school having uploaded the child (roster_uploaded)."""
        try:
            rules = self.engine.pack(app["scheme"]).raw.get("eligibility")
        except Exception:  # noqa: BLE001
            return False
        return "roster_uploaded" in repr(rules)

    async def _school_has_roster(self, school_code: str) -> bool:
        return await self.services.roster.school(school_code) is not None


async def expire_overdue(services: Services) -> None:
    """Background sweep (see bot/app.py): expire unpaid applications past their deadline, retry
    order creation after platform failures, poll pending pre-reviews."""
    fulfilment = services.extras.get("fulfilment")
    if fulfilment is not None:
        await fulfilment.sweep()


def order_write(order: dict[str, Any]) -> Write:
    """An order record's write, for a transaction with its application."""
    return Write(ORDER_KIND, order_record_key(order), order, index=order_index(order))


PAYMENT_KIND = "payment"


def payment_write(notice: PaymentNotice, app_id: str, at: str, refund_due: str = "") -> Write:
    """The record of one payment received (one per order and platform transaction: a second is refused).
    `refund_due` says why a payment pays for nothing and must be refunded (indexed `refund=due`)."""
    data = {"order_no": notice.order_no, "transaction_id": notice.transaction_id, "amount_fen": notice.amount_fen,
            "application_id": app_id, "provider": notice.provider, "paid_at": notice.paid_at, "recorded_at": at}
    index = {"application_id": app_id, "order_no": notice.order_no}
    if refund_due:
        data.update(refund_due=refund_due)
        index.update(refund="due")
    return Write(PAYMENT_KIND, f"{notice.order_no}:{notice.transaction_id}", data, expected_version=0, index=index)


def _child(app: dict[str, Any]) -> str:
    child = app.get("child") if isinstance(app.get("child"), dict) else {}
    name = child.get("name") or app.get("child_name") or app.get("name") or ""
    return str(name) or "孩子"


def _order_head(app: dict[str, Any]) -> str:
    """How a payment message starts: 预审通过, unless it follows a refused exemption (then that was said)."""
    return "" if _dict(app.get("verification")).get("result") == "refused" else "预审通过！"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def yuan(fen: int) -> str:
    """Fen as a yuan amount: 15000 → \"150.00\"."""
    return f"{fen // 100}.{fen % 100:02d}"


def _when(at: dt.datetime) -> str:
    at = at.astimezone(SHANGHAI)
    return f"{at.month}月{at.day}日 {at:%H:%M}"


def _parse(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


def _status_label(app: dict[str, Any]) -> str:
    return STATUS_LABELS.get(app["status"], app["status"])
