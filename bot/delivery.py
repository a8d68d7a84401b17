"""Messages to a guardian outside a reply: the WeChat customer-service API when the account is
configured (WECHAT_SECRET set), else an outbox the chat simulator polls (`GET /simulator/outbox`).

A message WeChat does not take (guardian outside the 48-hour window, quota, outage) is kept in the
store (kind "undelivered") and retried: `flush_pending` when the guardian writes again, and the
`retry_undelivered` sweep for transient failures. Nothing is dropped silently. With a template
configured (WECHAT_TEMPLATE_ID), a guardian outside the 48-hour window gets a template notice at once.
"""
from __future__ import annotations

import logging
from typing import Any

from bot.privacy import redact
from bot.services import Services
from integrations.wechat.api import HELD, PAUSED, RETRY, SENT, DeliveryResult, WeChatAPI, openid_tag
from integrations.wechat.templates import TemplateNotice

log = logging.getLogger("bot.delivery")

OUTBOX_KIND = "outbox"
UNDELIVERED_KIND = "undelivered"
OUTBOX_TTL = 7 * 24 * 3600  # a simulator tab left closed for a week forgets its messages
UNDELIVERED_TTL = 14 * 24 * 3600
MAX_RETRIES = 5  # transient failures retried by the sweep before the message is given up (and logged)
OUTSIDE_48_HOURS = 45015  # the guardian has not written for 48 hours: only a template message gets through


class Outbox:
    """Per-guardian queue of messages (store kind "outbox", key `<openid>:<seq>`)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    async def append(self, openid: str, text: str, at: str) -> int:
        seq = await self.store.incr(f"outbox-seq:{openid}")
        await self.store.put(OUTBOX_KIND, f"{openid}:{seq:010d}", {"user": openid, "seq": seq, "text": text, "at": at},
                             index={"user": openid}, ttl=OUTBOX_TTL)
        return seq

    async def peek(self, openid: str) -> list[str]:
        return [rec.data["text"] for _, rec in await self.store.query(OUTBOX_KIND, user=openid)]

    async def take(self, openid: str) -> list[str]:
        """Remove and return the guardian's messages in order (two pollers never get the same one)."""
        texts = []
        for key, rec in await self.store.query(OUTBOX_KIND, user=openid):
            if await self.store.delete(OUTBOX_KIND, key):
                texts.append(rec.data["text"])
        return texts


def outbox(services: Services) -> Outbox:
    box = services.extras.get("outbox")
    if box is None:
        box = services.extras["outbox"] = Outbox(services.store)
    return box


def wechat_api(services: Services) -> WeChatAPI | None:
    """The customer-service API client (shared with broadcasts in extras["wechat_api"]), or None when
    no WeChat account is configured (then messages go to the simulator's outbox)."""
    settings = services.settings
    if not (settings.wechat_secret and settings.wechat_appid):
        return None
    api = services.extras.get("wechat_api")
    if api is None:
        api = services.extras["wechat_api"] = WeChatAPI(services.store, settings.wechat_appid, settings.wechat_secret,
                                                        base_url=settings.wechat_api_base)
    return api


class NoticeSender:
    """Customer-service messages, with the template fallback: outside the 48-hour window (45015) the
    guardian gets a template notice now and the whole text when they next write (`flush_pending`)."""

    def __init__(self, services: Services, api: WeChatAPI, notice: TemplateNotice) -> None:
        self.services, self.api, self.notice = services, api, notice

    async def send_text(self, openid: str, text: str) -> DeliveryResult:
        result = await self.api.send_text(openid, text)
        if result.errcode != OUTSIDE_48_HOURS:
            return result
        now = self.services.clock.now()
        notice = await self.api.send_template(openid, self.notice.template_id, self.notice.data_for(text, now))
        if not notice.ok:
            return result  # the caller keeps the text, as for any refusal
        await _keep(self.services, openid, text, DeliveryResult(False, HELD, result.errcode, "template notice sent"),
                    now.isoformat(timespec="seconds"))
        return DeliveryResult(True, SENT, 0, "template")


def notice_sender(services: Services) -> WeChatAPI | NoticeSender | None:
    """What sends a message to a guardian outside a reply: the API client, wrapped with the template
    fallback when WECHAT_TEMPLATE_ID is set; None without a WeChat account."""
    api = wechat_api(services)
    notice = services.settings.template_notice
    return NoticeSender(services, api, notice) if api is not None and notice is not None else api


async def deliver(services: Services, openid: str, text: str) -> DeliveryResult:
    """Send `text` to the guardian now, or keep it for a later attempt; never raises for WeChat trouble."""
    sender = notice_sender(services)
    now = services.clock.now().isoformat(timespec="seconds")
    if sender is None:
        await outbox(services).append(openid, text, now)
        result = DeliveryResult(True, SENT, 0, "outbox")
    else:
        result = await sender.send_text(openid, text)
        if not result.ok:
            await _keep(services, openid, text, result, now)
    # Kept masked for staff (the application's page); "held" ones go out when the guardian next writes.
    await services.sent_messages.record(openid, redact(text), services.clock.now(),
                                        result.detail if result.ok else f"held:{result.status}")
    return result


async def flush_pending(services: Services, openid: str) -> int:
    """The guardian just wrote (a new 48-hour window): send what was held for them. Returns the count sent.
    A transient failure hands the message to the `retry_undelivered` sweep; the rest keep their order
    and wait for the guardian's next recorded interaction."""
    api = wechat_api(services)
    if api is None:
        return 0
    sent = 0
    for key, rec in await services.store.query(UNDELIVERED_KIND, user=openid):
        result = await api.send_text(openid, rec.data["text"])
        if result.ok:
            await services.store.delete(UNDELIVERED_KIND, key)
            sent += 1
        elif result.status in (RETRY, PAUSED):
            await _requeue(services, key, rec.data, result)
            break
        elif result.status == HELD:
            break
        else:
            await _give_up(services, key, rec.data, result)
    return sent


async def retry_undelivered(services: Services) -> None:
    """Sweep: retry messages that failed for transient reasons (network, 5xx, token, daily quota)."""
    api = wechat_api(services)
    if api is None:
        return
    for status in (RETRY, PAUSED):
        for key, rec in await services.store.query(UNDELIVERED_KIND, status=status, limit=200):
            data = rec.data
            result = await api.send_text(data["user"], data["text"])
            if result.ok:
                await services.store.delete(UNDELIVERED_KIND, key)
            elif result.status == PAUSED:
                return  # quota gone for today: nothing else will go through either
            elif data.get("attempts", 1) + 1 >= MAX_RETRIES or result.status not in (RETRY,):
                await _give_up(services, key, data, result)
            else:
                await _requeue(services, key, data, result)


async def _requeue(services: Services, key: str, data: dict[str, Any], result: DeliveryResult) -> None:
    """Another attempt failed for a transient reason: count it; the sweep tries again (status RETRY/PAUSED)."""
    data.update(attempts=data.get("attempts", 1) + 1, errcode=result.errcode, status=result.status)
    await services.store.put(UNDELIVERED_KIND, key, data, index={"user": data["user"], "status": result.status},
                             ttl=UNDELIVERED_TTL)


async def _keep(services: Services, openid: str, text: str, result: DeliveryResult, now: str) -> None:
    seq = await services.store.incr(f"undelivered-seq:{openid}")
    await services.store.put(
        UNDELIVERED_KIND, f"{openid}:{seq:010d}",
        {"user": openid, "text": text, "status": result.status, "errcode": result.errcode, "at": now, "attempts": 1},
        index={"user": openid, "status": result.status}, ttl=UNDELIVERED_TTL)
    log.warning("message not delivered user=%s status=%s errcode=%s; kept for a later attempt",
                openid_tag(openid), result.status, result.errcode)


async def _give_up(services: Services, key: str, data: dict[str, Any], result: DeliveryResult) -> None:
    data.update(status="failed", errcode=result.errcode)
    await services.store.put(UNDELIVERED_KIND, key, data, index={"user": data["user"], "status": "failed"},
                             ttl=UNDELIVERED_TTL)
    log.error("message given up user=%s errcode=%s detail=%s", openid_tag(data["user"]), result.errcode, result.detail)
