"""Configuration from the environment (names in ../shared/DESIGN.md). Defaults start a local bot."""
from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from integrations.wechat.templates import TemplateNotice

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Settings:
    wechat_token: str = ""
    wechat_appid: str = "wx0000000000000000"
    wechat_secret: str = ""
    wechat_aes_key: str = ""  # set → 安全模式 (encrypted messages)
    store_url: str = ""
    records_url: str = ""  # BOT_RECORDS: postgresql://… holds the durable records; "" → they stay in store_url
    records_pool: int = 10  # BOT_RECORDS_POOL: connections per worker to the records database
    admin_token: str = ""
    data_key: str = ""
    now: str = ""  # BOT_NOW: ISO date-time that pins the clock
    data_dir: Path = field(default_factory=lambda: ROOT / "data")
    policies_dir: Path = field(default_factory=lambda: ROOT / "policies")
    public_url: str = "http://127.0.0.1:8080"  # base of links sent to guardians (checkout pages)
    wechat_api_base: str = "https://api.weixin.qq.com"
    max_body_bytes: int = 64 * 1024
    timestamp_tolerance: int = 300  # seconds; older signed requests are replays
    reply_budget: float = 3.0  # seconds before we answer "success" and deliver by customer-service API
    admin_token_from_env: bool = False
    simulator: bool = True  # the chat simulator at / (off by default once a real account is configured)
    generated_token: bool = False
    template_notice: TemplateNotice | None = None  # WECHAT_TEMPLATE_ID/FIELDS: the fallback outside 48 hours
    # BOT_TRUSTED_PROXIES: addresses/networks of the HTTPS proxies in front of us; only their
    # X-Forwarded-For / X-Forwarded-Proto are believed (admin login throttling, Secure cookies).
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    staff_hours: str = ""  # BOT_STAFF_HOURS: when staff answer 转人工 requests, told to the guardian as written
    metrics_token: str = ""  # BOT_METRICS_TOKEN: /metrics answers only `Authorization: Bearer <token>`

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("BOT_DATA_DIR") or ROOT / "data")
        s = cls(
            wechat_token=env.get("WECHAT_TOKEN", ""),
            wechat_appid=env.get("WECHAT_APPID") or cls.wechat_appid,
            wechat_secret=env.get("WECHAT_SECRET", ""),
            wechat_aes_key=env.get("WECHAT_AES_KEY", ""),
            store_url=env.get("BOT_STORE") or f"sqlite:///{data_dir / 'bot.db'}",
            records_url=(env.get("BOT_RECORDS") or "").strip(),
            records_pool=_positive_int(env.get("BOT_RECORDS_POOL"), "BOT_RECORDS_POOL", cls.records_pool),
            admin_token=env.get("BOT_ADMIN_TOKEN", ""),
            data_key=env.get("BOT_DATA_KEY", ""),
            now=env.get("BOT_NOW", ""),
            data_dir=data_dir,
            policies_dir=Path(env.get("BOT_POLICIES_DIR") or ROOT / "policies"),
            public_url=(env.get("BOT_PUBLIC_URL") or cls.public_url).rstrip("/"),
            wechat_api_base=(env.get("WECHAT_API_BASE") or cls.wechat_api_base).rstrip("/"),
            template_notice=TemplateNotice.from_env(env),
            staff_hours=env.get("BOT_STAFF_HOURS", "").strip()[:60],
            trusted_proxies=parse_networks(env.get("BOT_TRUSTED_PROXIES", "")),
            metrics_token=env.get("BOT_METRICS_TOKEN", ""),
        )
        # The simulator signs messages for any OpenID and shows any guardian's outbox: a development
        # tool, on by default only while no real account is configured (no WECHAT_TOKEN).
        default = "0" if (s.wechat_token or s.wechat_secret) else "1"
        s.simulator = env.get("BOT_SIMULATOR", default) not in ("0", "false", "no")
        if not s.wechat_token:
            # A development token so `serve` starts with nothing set; printed at start-up.
            s.wechat_token = secrets.token_hex(8)
            s.generated_token = True
        s.admin_token_from_env = bool(s.admin_token)
        if not s.admin_token:
            s.admin_token = secrets.token_urlsafe(12)
        return s


def parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """"127.0.0.1, 10.0.0.0/8" → networks; a malformed entry stops start-up with the setting's name."""
    networks = []
    for item in value.replace(";", ",").split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"BOT_TRUSTED_PROXIES 中的地址无法识别：{item.strip()!r}（应为 IP 或网段，如 10.0.0.0/8）") from None
    return tuple(networks)


def _positive_int(value: str | None, name: str, default: int) -> int:
    if not (value or "").strip():
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} 应为正整数，现在是 {value!r}")
    return number
