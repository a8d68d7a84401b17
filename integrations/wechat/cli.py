"""`python -m bot menu publish` and `python -m bot qrcode SCHOOL_CODE`: account set-up through the WeChat API.

Reads WECHAT_APPID, WECHAT_SECRET and WECHAT_API_BASE (default https://api.weixin.qq.com) from the
environment. The token comes from `stable_token`, which hands every caller the same valid token, so
these one-off commands never invalidate the token the running bot uses.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import yaml

from integrations.wechat.api import QRCode, WeChatAPI, WeChatAPIError

DEFAULT_POLICIES = Path(__file__).resolve().parents[2] / "policies"
SCHOOL_CODE_RE = re.compile(r"^[0-9A-Za-z_-]{1,40}$")
TOP_NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES = 16, 60, 128  # WeChat's limits for menu names and keys


def register(subparsers: argparse._SubParsersAction) -> None:
    menu = subparsers.add_parser("menu", help="公众号自定义菜单")
    menu_sub = menu.add_subparsers(dest="menu_command", required=True)
    publish = menu_sub.add_parser("publish", help="把 policies/menu.yaml 发布为公众号菜单")
    publish.add_argument("--file", type=Path, default=None, help="菜单文件（默认 policies/menu.yaml）")
    publish.add_argument("--dry-run", action="store_true", help="只检查并打印，不调用微信接口")
    publish.set_defaults(func=cmd_menu_publish)

    qrcode = subparsers.add_parser("qrcode", help="为学校生成带参数二维码（扫码后预选该学校）")
    qrcode.add_argument("school_code", help="学校代码，如 310101001")
    qrcode.add_argument("--temporary-days", type=int, default=0, help="生成临时二维码（天数，最多30）；默认永久")
    qrcode.add_argument("--save", type=Path, default=None, help="把二维码图片保存到此文件")
    qrcode.set_defaults(func=cmd_qrcode)


# ----- menu ---------------------------------------------------------------------------------
def load_menu(path: Path | None = None) -> dict[str, Any]:
    """Read and check the menu file; raises ValueError with a Chinese message when it is invalid."""
    path = path or Path(os.environ.get("BOT_POLICIES_DIR") or DEFAULT_POLICIES) / "menu.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"无法读取菜单文件 {path}：{exc}") from exc
    buttons = (data or {}).get("button") if isinstance(data, dict) else None
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise ValueError("菜单须有 1–3 个一级按钮")
    for button in buttons:
        _check_button(button, TOP_NAME_BYTES)
        subs = button.get("sub_button") or []
        if len(subs) > 5:
            raise ValueError(f"「{button['name']}」的子菜单最多 5 个")
        for sub in subs:
            _check_button(sub, SUB_NAME_BYTES)
            if sub.get("sub_button"):
                raise ValueError("子菜单不能再有下级菜单")
        if not subs and button.get("type") is None:
            raise ValueError(f"「{button['name']}」须有 type 或 sub_button")
    return {"button": buttons}


def _check_button(button: Any, name_limit: int) -> None:
    if not isinstance(button, dict) or not button.get("name"):
        raise ValueError("每个按钮都须有名称 name")
    name = str(button["name"])
    if len(name.encode("utf-8")) > name_limit:
        raise ValueError(f"按钮名称「{name}」过长（最多 {name_limit} 字节）")
    if button.get("type") == "click" and not 0 < len(str(button.get("key", "")).encode()) <= KEY_BYTES:
        raise ValueError(f"点击按钮「{name}」须有 key（最多 {KEY_BYTES} 字节）")
    if button.get("type") == "view" and not str(button.get("url", "")).startswith(("http://", "https://")):
        raise ValueError(f"链接按钮「{name}」须有 http(s) 地址 url")


def cmd_menu_publish(args: argparse.Namespace) -> int:
    try:
        menu = load_menu(args.file)
    except ValueError as exc:
        print(f"错误：{exc}")
        return 2
    if args.dry_run:
        print(json.dumps(menu, ensure_ascii=False, indent=2))
        return 0
    return asyncio.run(_with_api(lambda api: _publish(api, menu)))


async def _publish(api: WeChatAPI, menu: dict[str, Any]) -> int:
    await api.create_menu(menu)
    print(f"菜单已发布：{'、'.join(b['name'] for b in menu['button'])}")
    return 0


# ----- QR codes -----------------------------------------------------------------------------
def cmd_qrcode(args: argparse.Namespace) -> int:
    if not SCHOOL_CODE_RE.match(args.school_code):
        print("错误：学校代码只能包含字母、数字、下划线和短横线（最多40个字符）")
        return 2
    if not 0 <= args.temporary_days <= 30:
        print("错误：临时二维码有效期为 1–30 天")
        return 2
    return asyncio.run(_with_api(lambda api: _qrcode(api, args.school_code, args.temporary_days, args.save)))


async def _qrcode(api: WeChatAPI, school_code: str, days: int, save: Path | None) -> int:
    code: QRCode = await api.create_qrcode(f"school:{school_code}", permanent=days == 0,
                                           expire_seconds=days * 86400)
    print(f"学校 {school_code} 的二维码（场景 school:{school_code}，{'永久' if not days else f'{days}天有效'}）")
    print(f"  二维码内容: {code.url}")
    print(f"  图片地址:   {code.image_url}")
    if save:
        save.write_bytes(await api.qrcode_image(code))
        print(f"  已保存到:   {save}")
    return 0


# ----- shared -------------------------------------------------------------------------------
async def _with_api(action) -> int:
    appid, secret = os.environ.get("WECHAT_APPID", ""), os.environ.get("WECHAT_SECRET", "")
    if not appid or not secret:
        print("错误：请先设置环境变量 WECHAT_APPID 和 WECHAT_SECRET（公众号后台 → 设置与开发 → 基本配置）")
        return 2
    base = os.environ.get("WECHAT_API_BASE") or "https://api.weixin.qq.com"
    api = WeChatAPI(LocalTokenCache(), appid, secret, base_url=base)
    try:
        return await action(api)
    except WeChatAPIError as exc:
        result = exc.result
        print(f"错误：微信接口调用失败（errcode {result.errcode}：{result.detail}）")
        return 1
    except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
        print(f"错误：无法连接微信接口（{type(exc).__name__}）")
        return 1
    finally:
        await api.close()


class LocalTokenCache:
    """The few store operations WeChatAPI needs, in this process only (for one-off commands)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[dict[str, Any], float]] = {}
        self._locks: dict[str, str] = {}

    async def get(self, kind: str, key: str) -> Any:
        item = self._data.get((kind, key))
        if item is None or item[1] <= time.monotonic():
            return None
        return SimpleNamespace(data=dict(item[0]), version=1)

    async def put(self, kind: str, key: str, data: dict[str, Any], *, ttl: float | None = None, **_: Any) -> int:
        self._data[(kind, key)] = (dict(data), time.monotonic() + (ttl or 1e9))
        return 1

    async def acquire_lock(self, name: str, ttl: float) -> str | None:
        if name in self._locks:
            return None
        self._locks[name] = secrets.token_hex(8)
        return self._locks[name]

    async def release_lock(self, name: str, token: str) -> bool:
        return self._locks.pop(name, None) is not None

    async def incr(self, name: str, amount: int = 1, ttl: float | None = None) -> int:
        return amount
