"""Payments behind one `PaymentProvider` interface: the embedded hosted-checkout default and WeChat Pay.

Settings (environment):
  PAY_PROVIDER            checkout (default: embedded 一网通办-style checkout link) | wechat | off (no online payment)
  PAY_CHECKOUT_SECRET     HMAC key for checkout links and callbacks (default: derived by the caller)
  PAY_CHECKOUT_MERCHANT   8-digit merchant code inside YWTB order numbers (default 31000000)
  WECHAT_PAY_APPID        default WECHAT_APPID
  WECHAT_PAY_MCH_ID, WECHAT_PAY_API_KEY   merchant id and API v2 key (required for PAY_PROVIDER=wechat)
  WECHAT_PAY_BASE         default https://api.mch.weixin.qq.com
  WECHAT_PAY_TRADE_TYPE   NATIVE (default) | MWEB | JSAPI (paid inside WeChat through our page /pay/wechat)
  WECHAT_PAY_SIGN_TYPE    HMAC-SHA256 (default) | MD5
  WECHAT_PAY_WAP_URL, WECHAT_PAY_WAP_NAME  scene_info for MWEB
  PAY_TIMEOUT             seconds for one call to the platform (default 5)
"""
from __future__ import annotations

from collections.abc import Mapping

from integrations.payment.base import (Ack, InvalidNotification, LinkExpired, LinkInvalid, OrderRequest, PaymentError,
                                       PaymentNotice, PaymentProvider)
from integrations.payment.checkout import HostedCheckoutProvider
from integrations.payment.orders import OrderBook, OrderInProgress
from integrations.payment.wechat_pay import WeChatPayProvider

__all__ = ["Ack", "HostedCheckoutProvider", "InvalidNotification", "LinkExpired", "LinkInvalid", "OrderBook",
           "OrderInProgress", "OrderRequest", "PaymentError", "PaymentNotice", "PaymentProvider",
           "WeChatPayProvider", "provider_from_env"]

WECHAT_NOTIFY_PATH = "/pay/wechat/notify"
WECHAT_PAY_PAGE_PATH = "/pay/wechat"  # the JSAPI pay page


def provider_from_env(env: Mapping[str, str], *, public_url: str, default_secret: bytes) -> PaymentProvider | None:
    """The configured provider, None when payments are switched off (PAY_PROVIDER=off); raises ValueError
    (Chinese message) on incomplete settings."""
    kind = (env.get("PAY_PROVIDER") or "checkout").strip().lower()
    if kind == "off":
        return None
    timeout = float(env.get("PAY_TIMEOUT") or 5)
    if kind == "checkout":
        secret = env.get("PAY_CHECKOUT_SECRET", "").encode() or default_secret
        return HostedCheckoutProvider(secret, public_url, merchant_code=env.get("PAY_CHECKOUT_MERCHANT") or "31000000",
                                      checkout_url=(env.get("PAY_CHECKOUT_URL") or "").strip())
    if kind == "wechat":
        mch_id, api_key = env.get("WECHAT_PAY_MCH_ID", ""), env.get("WECHAT_PAY_API_KEY", "")
        appid = env.get("WECHAT_PAY_APPID") or env.get("WECHAT_APPID", "")
        if not (mch_id and api_key and appid):
            raise ValueError("PAY_PROVIDER=wechat 需要设置 WECHAT_PAY_MCH_ID、WECHAT_PAY_API_KEY 和 WECHAT_APPID")
        return WeChatPayProvider(
            appid, mch_id, api_key, public_url.rstrip("/") + WECHAT_NOTIFY_PATH,
            base_url=env.get("WECHAT_PAY_BASE") or "https://api.mch.weixin.qq.com",
            trade_type=(env.get("WECHAT_PAY_TRADE_TYPE") or "NATIVE").upper(),
            sign_type=(env.get("WECHAT_PAY_SIGN_TYPE") or "HMAC-SHA256").upper(),
            timeout=timeout, wap_url=env.get("WECHAT_PAY_WAP_URL", public_url), wap_name=env.get("WECHAT_PAY_WAP_NAME", ""),
            page_url=public_url.rstrip("/") + WECHAT_PAY_PAGE_PATH)
    raise ValueError(f"PAY_PROVIDER 不支持 {kind!r}（应为 checkout、wechat 或 off）")
