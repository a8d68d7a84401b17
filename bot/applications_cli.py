"""`python -m bot applications list --status … | verify APP --approve | --refuse REASON`: staff's view of
applications and the verification of self-declared exemptions (the same as the admin API)."""
from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.privacy import mask_id
from bot.store.base import VersionConflict
from bot.store.repos import AWAITING_VERIFICATION, STATUS_LABELS


def register(subparsers: Any) -> None:
    apps = subparsers.add_parser("applications", help="参保申请：按状态列出、免缴资格审核")
    sub = apps.add_subparsers(dest="applications_command", required=True)
    listing = sub.add_parser("list", help="按状态列出申请（证件号打码）")
    listing.add_argument("--status", default=AWAITING_VERIFICATION, help=f"状态，默认 {AWAITING_VERIFICATION}（免缴待审核）")
    listing.set_defaults(func=lambda args: asyncio.run(_list(args)))
    verify = sub.add_parser("verify", help="记录免缴资格审核结果，并通知家长（不通过时发送缴费链接或缴费方式）")
    verify.add_argument("application")
    decision = verify.add_mutually_exclusive_group(required=True)
    decision.add_argument("--approve", action="store_true", help="审核通过：免予缴费")
    decision.add_argument("--refuse", metavar="原因", help="审核不通过，并写明原因（会告诉家长）")
    verify.set_defaults(func=lambda args: asyncio.run(_verify(args)))


async def _with_fulfilment(work) -> int:
    from bot.config import Settings
    from bot.fulfilment import Fulfilment
    from bot.rules import RuleEngine
    from bot.services import build_services

    services = build_services(Settings.from_env())
    try:
        fulfilment = Fulfilment(services, RuleEngine.load(services.settings.policies_dir))
        return await work(services, fulfilment)
    finally:
        await services.store.close()


async def _list(args: argparse.Namespace) -> int:
    if args.status not in STATUS_LABELS:
        print(f"错误：未知状态 {args.status}，可选：{'、'.join(STATUS_LABELS)}", file=sys.stderr)
        return 2

    async def work(services: Any, _fulfilment: Any) -> int:
        apps = sorted(await services.applications.by_status(args.status), key=lambda a: a["created_at"])
        for app in apps:
            child = app.get("child") or {}
            print(f"{app['id']}  {app['scheme']}  {child.get('name', '')}  {mask_id(child.get('id_number', ''))}  "
                  f"{app['created_at'][:16]}")
        print(f"共 {len(apps)} 份（{STATUS_LABELS[args.status]}）。", file=sys.stderr)
        return 0
    return await _with_fulfilment(work)


async def _verify(args: argparse.Namespace) -> int:
    async def work(_services: Any, fulfilment: Any) -> int:
        try:
            app = await fulfilment.record_verification(args.application, bool(args.approve), args.refuse or "",
                                                       staff="cli")
        except KeyError:
            print(f"错误：没有申请 {args.application}", file=sys.stderr)
            return 1
        except VersionConflict:
            print(f"错误：该申请不在“{STATUS_LABELS[AWAITING_VERIFICATION]}”状态", file=sys.stderr)
            return 1
        except ValueError as exc:
            print(f"错误：{exc}", file=sys.stderr)
            return 2
        print(f"{app['id']}：{STATUS_LABELS.get(app['status'], app['status'])}，已通知家长。")
        return 0
    return await _with_fulfilment(work)
