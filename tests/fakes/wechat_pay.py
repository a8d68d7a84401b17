"""A local stand-in for WeChat Pay API v2 (api.mch.weixin.qq.com), over real HTTP.

`POST /pay/unifiedorder` checks the request signature (MD5 or HMAC-SHA256), records the order and
answers a signed XML with `code_url` (NATIVE), `mweb_url` (MWEB) or only the `prepay_id` (JSAPI, which
needs the payer's openid). `pay(out_trade_no)` plays the
guardian paying: it posts the signed payment-result notification to the order's notify_url.

    async with FakeWeChatPay.running(appid=..., mch_id=..., api_key=...) as pay:
        provider = WeChatPayProvider(..., base_url=pay.base_url)
        pay.delay_next(1, 10.0)    # the next unified order hangs (timeout test)
"""
from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

import aiohttp
from aiohttp import web
from wechatpy.pay.utils import dict_to_xml

from integrations.payment.wechat_pay import parse_xml, sign, signature_ok
from tests.fakes.server import serving


@dataclass
class FakeWeChatPay:
    appid: str = "wxfaketestappid0"
    mch_id: str = "1900000109"
    api_key: str = "fake-wechat-pay-api-key-32-bytes"
    orders: dict[str, dict[str, str]] = field(default_factory=dict)  # out_trade_no -> unified order request
    refused: list[str] = field(default_factory=list)  # why requests were refused
    base_url: str = ""
    _delays: list[float] = field(default_factory=list)

    def delay_next(self, n: int, seconds: float) -> None:
        self._delays.extend([seconds] * n)

    def notification(self, out_trade_no: str, *, total_fee: int | None = None, sign_type: str = "MD5",
                     tamper: bool = False) -> bytes:
        """The signed XML WeChat Pay posts to notify_url when the order is paid."""
        order = self.orders[out_trade_no]
        fields: dict[str, Any] = {
            "appid": self.appid, "mch_id": self.mch_id, "nonce_str": secrets.token_hex(16),
            "result_code": "SUCCESS", "return_code": "SUCCESS", "openid": "oFakePayer" + secrets.token_hex(4),
            "trade_type": order["trade_type"], "bank_type": "CMC", "fee_type": "CNY",
            "total_fee": str(total_fee if total_fee is not None else order["total_fee"]),
            "cash_fee": str(total_fee if total_fee is not None else order["total_fee"]),
            "transaction_id": "4200" + secrets.token_hex(12), "out_trade_no": out_trade_no,
            "time_end": "20260910101500", "is_subscribe": "Y",
        }
        if sign_type != "MD5":
            fields["sign_type"] = sign_type
        signature = sign(fields, self.api_key, sign_type)
        if tamper:
            fields["total_fee"] = str(int(fields["total_fee"]) + 1)
        return dict_to_xml(fields, signature).encode("utf-8")

    async def pay(self, out_trade_no: str, **options: Any) -> tuple[int, dict[str, str]]:
        """Post the payment notification to the order's notify_url; returns (HTTP status, parsed answer)."""
        body = self.notification(out_trade_no, **options)
        async with aiohttp.ClientSession() as http:
            async with http.post(self.orders[out_trade_no]["notify_url"], data=body,
                                 headers={"Content-Type": "text/xml"}) as resp:
                return resp.status, parse_xml(await resp.read())

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/pay/unifiedorder", self._unified_order)
        return app

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, **options: Any) -> AsyncIterator["FakeWeChatPay"]:
        fake = cls(**options)
        async with serving(fake.make_app()) as fake.base_url:
            yield fake

    async def _unified_order(self, request: web.Request) -> web.Response:
        if self._delays:
            await asyncio.sleep(self._delays.pop(0))
        params = parse_xml(await request.read())
        if not signature_ok(params, self.api_key):
            return self._answer({"return_code": "FAIL", "return_msg": "签名错误"})
        if params.get("appid") != self.appid or params.get("mch_id") != self.mch_id:
            return self._answer({"return_code": "FAIL", "return_msg": "appid和mch_id不匹配"})
        missing = [k for k in ("body", "out_trade_no", "total_fee", "notify_url", "trade_type", "spbill_create_ip")
                   if not params.get(k)]
        if params.get("trade_type") == "JSAPI" and not params.get("openid"):
            missing.append("openid")  # JSAPI pays as a user of the appid
        if missing:
            return self._answer({"return_code": "FAIL", "return_msg": f"缺少参数{missing[0]}"})
        out_trade_no = params["out_trade_no"]
        known = self.orders.get(out_trade_no)
        base = {"return_code": "SUCCESS", "return_msg": "OK", "appid": self.appid, "mch_id": self.mch_id,
                "nonce_str": secrets.token_hex(16)}
        if known and known["total_fee"] != params["total_fee"]:
            self.refused.append("INVALID_REQUEST")
            return self._answer({**base, "result_code": "FAIL", "err_code": "INVALID_REQUEST",
                                 "err_code_des": "201 商户订单号重复"}, params.get("sign_type") or "MD5")
        self.orders[out_trade_no] = params
        prepay = "wx" + secrets.token_hex(14)
        answer = {**base, "result_code": "SUCCESS", "trade_type": params["trade_type"], "prepay_id": prepay}
        if params["trade_type"] == "NATIVE":
            answer["code_url"] = f"weixin://wxpay/bizpayurl?pr={secrets.token_urlsafe(6)}"
        elif params["trade_type"] == "MWEB":
            answer["mweb_url"] = f"https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id={prepay}"
        return self._answer(answer, params.get("sign_type") or "MD5")

    def _answer(self, fields: dict[str, str], sign_type: str | None = None) -> web.Response:
        """Answers are signed like the request (sign_type None: an unsigned FAIL)."""
        signature = sign(fields, self.api_key, sign_type) if sign_type else None
        return web.Response(text=dict_to_xml(fields, signature), content_type="text/xml")
