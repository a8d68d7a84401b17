"""A serving process moves what start-up built out of the cycle collector's walks (gc.freeze): full
collections then walk only what the traffic made, not the NLU's and rule packs' ~270 000 objects."""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import asyncio, gc, os, sys
    from aiohttp import web
    from bot.app import create_app, settle_heap
    from bot.config import Settings

    async def main():
        app = create_app(Settings.from_env(), serving="sole")
        if sys.argv[1] == "settled":
            settle_heap(app)
        runner = web.AppRunner(app)
        await runner.setup()  # runs on_startup, as web.run_app does
        print(gc.get_freeze_count())
        await runner.cleanup()

    asyncio.run(main())
""")


def frozen_after_startup(tmp_path, mode: str) -> int:
    env = {"BOT_DATA_DIR": str(tmp_path / mode), "WECHAT_TOKEN": "t", "BOT_ADMIN_TOKEN": "a", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, timeout=120,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1])


def test_a_settled_app_has_its_start_up_objects_frozen(tmp_path):
    assert frozen_after_startup(tmp_path, "plain") == 0  # create_app alone (tests build many) freezes nothing
    assert frozen_after_startup(tmp_path, "settled") > 100_000
