"""WeChat Pay (API v2, XML): unified order (NATIVE → code_url, MWEB → mweb_url, JSAPI → our pay page)
and the payment result notification.

JSAPI is the one that works inside WeChat, where guardians read our messages: the order is made for
the guardian's OpenID, and the link we send opens our page (`GET /pay/wechat`, signed like the checkout
link, with the order's expiry), which hands the prepay id and a paySign to WeChat's in-app
`WeixinJSBridge` to show the payment sheet. The API key never leaves the server.

wechatpy signs the request (`calculate_signature` / `calculate_signature_hmac`, `dict_to_xml`), but
its `WeChatPay` client is `requests`-based and its notification check ignores sign_type=HMAC-SHA256,
so the HTTP call is aiohttp and the notification is verified here, for both MD5 and HMAC-SHA256, in
constant time. The base URL is configurable (tests run a local fake, tests/fakes/wechat_pay.py).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import xmltodict
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac, dict_to_xml

from integrations.payment.base import (Ack, InvalidNotification, OrderRequest, PaymentError, PaymentNotice,
                                       check_signed_link)

BEIJING = ZoneInfo("Asia/Shanghai")  # WeChat Pay's time_expire is Beijing time
TRADE_TYPES = ("NATIVE", "MWEB", "JSAPI")
SIGN_TYPES = ("MD5", "HMAC-SHA256")
MAX_NOTIFICATION_BYTES = 16 * 1024


def sign(params: dict[str, Any], api_key: str, sign_type: str = "MD5") -> str:
    """WeChat Pay v2 signature of `params` (the `sign` field itself and empty values excluded)."""
    fields = {k: v for k, v in params.items() if k != "sign"}
    if sign_type == "HMAC-SHA256":
        return calculate_signature_hmac(fields, api_key)
    if sign_type == "MD5":
        return calculate_signature(fields, api_key)
    raise ValueError(f"unknown sign_type {sign_type!r}")


def signature_ok(params: dict[str, Any], api_key: str, default_sign_type: str = "MD5") -> bool:
    """Constant-time check of `params["sign"]` with the sign_type the message declares (else the default:
    notifications without sign_type are MD5; an answer is signed like the request it answers)."""
    sign_type = str(params.get("sign_type") or default_sign_type)
    if sign_type not in SIGN_TYPES or not params.get("sign"):
        return False
    expected = sign(params, api_key, sign_type)
    return hmac.compare_digest(expected.encode(), str(params["sign"]).upper().encode())


def parse_xml(body: bytes) -> dict[str, str]:
    """A flat <xml> document as a dict; DTDs and entities are refused (XXE)."""
    if len(body) > MAX_NOTIFICATION_BYTES or b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise InvalidNotification("refused XML")
    try:
        doc = xmltodict.parse(body, disable_entities=True)
    except Exception as exc:  # noqa: BLE001 - expat raises several types for malformed input
        raise InvalidNotification("malformed XML") from exc
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise InvalidNotification("no <xml> root")
    return {k: v if isinstance(v, str) else "" for k, v in root.items()}


class WeChatPayProvider:
    name = "wechat"

    def __init__(self, appid: str, mch_id: str, api_key: str, notify_url: str, *,
                 base_url: str = "https://api.mch.weixin.qq.com", trade_type: str = "NATIVE",
                 sign_type: str = "HMAC-SHA256", timeout: float = 5.0, wap_url: str = "", wap_name: str = "",
                 page_url: str = "", session: aiohttp.ClientSession | None = None) -> None:
        if trade_type not in TRADE_TYPES:
            raise ValueError("trade_type must be NATIVE, MWEB or JSAPI")
        if trade_type == "JSAPI" and not page_url:
            raise ValueError("JSAPI needs page_url, the address of our pay page")
        if sign_type not in SIGN_TYPES:
            raise ValueError("sign_type must be MD5 or HMAC-SHA256")
        self.appid, self.mch_id, self._api_key = appid, mch_id, api_key
        self.notify_url, self.base_url = notify_url, base_url.rstrip("/")
        self.trade_type, self.sign_type, self.timeout = trade_type, sign_type, timeout
        self.wap_url, self.wap_name, self.page_url = wap_url, wap_name, page_url
        self._session, self._own_session = session, session is None

    def new_order_no(self, now: dt.datetime) -> str:
        return now.strftime("%Y%m%d%H%M%S") + f"{secrets.randbelow(10**8):08d}"  # 22 chars ≤ 32

    async def create_order(self, order: OrderRequest) -> str:
        params: dict[str, Any] = {
            "appid": self.appid, "mch_id": self.mch_id, "nonce_str": secrets.token_hex(16),
            "sign_type": self.sign_type, "body": order.description[:40], "out_trade_no": order.order_no,
            "total_fee": str(order.amount_fen), "spbill_create_ip": order.client_ip,
            "notify_url": self.notify_url, "trade_type": self.trade_type,
            "time_expire": order.expires_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S"),
        }
        if self.trade_type == "NATIVE":
            params["product_id"] = order.order_no
        elif self.trade_type == "JSAPI":
            if not order.payer_openid:
                raise PaymentError("JSAPI 支付需要付款人的 openid")
            params["openid"] = order.payer_openid
        else:
            params["scene_info"] = json.dumps({"h5_info": {"type": "Wap", "wap_url": self.wap_url,
                                                           "wap_name": self.wap_name}}, ensure_ascii=False)
        body = dict_to_xml(params, sign(params, self._api_key, self.sign_type))
        answer = await self._post("/pay/unifiedorder", body.encode("utf-8"))
        if answer.get("return_code") != "SUCCESS":
            raise PaymentError(f"统一下单通信失败: {answer.get('return_msg', '')}")
        if not signature_ok(answer, self._api_key, self.sign_type):
            raise PaymentError("统一下单应答签名错误")
        if answer.get("result_code") != "SUCCESS":
            raise PaymentError(f"统一下单失败: {answer.get('err_code', '')} {answer.get('err_code_des', '')}")
        if self.trade_type == "JSAPI":
            if not answer.get("prepay_id"):
                raise PaymentError("统一下单应答缺少 prepay_id")
            return self._page_link(order.order_no, answer["prepay_id"], int(order.expires_at.timestamp()))
        url = answer.get("code_url") if self.trade_type == "NATIVE" else answer.get("mweb_url")
        if not url:
            raise PaymentError("统一下单应答缺少支付链接")
        return url

    # ----- JSAPI: our pay page ---------------------------------------------------------------
    def _page_link(self, order_no: str, prepay_id: str, exp: int) -> str:
        query = {"order": order_no, "prepay": prepay_id, "exp": exp,
                 "sig": self._page_signature(order_no, prepay_id, exp)}
        return f"{self.page_url}?{urlencode(query)}"

    def _page_signature(self, order_no: str, prepay_id: str, exp: int) -> str:
        message = f"jsapi-page|{order_no}|{prepay_id}|{exp}".encode()
        return hmac.new(self._api_key.encode(), message, hashlib.sha256).hexdigest()

    def bridge_params(self, order_no: str, prepay_id: str, exp: str, sig: str, now: dt.datetime) -> dict[str, str]:
        """What the pay page passes to `WeixinJSBridge.invoke('getBrandWCPayRequest', …)`, for a genuine
        and unexpired link; raises LinkInvalid / LinkExpired."""
        check_signed_link(order_no, exp, sig, now, lambda exp_int: self._page_signature(order_no, prepay_id, exp_int))
        params = {"appId": self.appid, "timeStamp": str(int(now.timestamp())), "nonceStr": secrets.token_hex(16),
                  "package": f"prepay_id={prepay_id}", "signType": self.sign_type}
        params["paySign"] = sign(params, self._api_key, self.sign_type)
        return params

    async def _post(self, path: str, body: bytes) -> dict[str, str]:
        if self._session is None or self._session.closed:
            self._session, self._own_session = aiohttp.ClientSession(), True
        try:
            async with self._session.post(self.base_url + path, data=body,
                                          headers={"Content-Type": "text/xml; charset=utf-8"},
                                          timeout=aiohttp.ClientTimeout(total=self.timeout)) as resp:
                if resp.status != 200:
                    raise PaymentError(f"支付平台 HTTP {resp.status}")
                raw = await resp.read()
        except asyncio.TimeoutError as exc:
            raise PaymentError("支付平台超时") from exc
        except aiohttp.ClientError as exc:
            raise PaymentError(f"支付平台连接失败: {type(exc).__name__}") from exc
        try:
            return parse_xml(raw)
        except InvalidNotification as exc:
            raise PaymentError(f"支付平台应答无法解析: {exc}") from exc

    def parse_notification(self, body: bytes, now: dt.datetime) -> PaymentNotice:
        fields = parse_xml(body)
        if not signature_ok(fields, self._api_key):
            raise InvalidNotification("signature")
        if fields.get("return_code") != "SUCCESS" or fields.get("result_code") != "SUCCESS":
            raise InvalidNotification(f"not a success notification: {fields.get('err_code', '')}")
        if fields.get("appid") != self.appid or fields.get("mch_id") != self.mch_id:
            raise InvalidNotification("another merchant")
        try:
            amount = int(fields.get("total_fee", ""))
        except ValueError:
            raise InvalidNotification("total_fee") from None
        if not fields.get("out_trade_no"):
            raise InvalidNotification("out_trade_no")
        return PaymentNotice(order_no=fields["out_trade_no"], amount_fen=amount,
                             transaction_id=fields.get("transaction_id", ""), paid_at=fields.get("time_end", ""),
                             provider=self.name,
                             raw={k: v for k, v in fields.items() if k not in ("sign", "openid")})

    def ack(self, ok: bool, message: str = "") -> Ack:
        body = dict_to_xml({"return_code": "SUCCESS" if ok else "FAIL", "return_msg": message or ("OK" if ok else "ERROR")})
        return Ack(200, body, "text/xml")  # WeChat reads return_code; FAIL makes it retry

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None
