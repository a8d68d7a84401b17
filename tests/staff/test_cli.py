"""`python -m bot broadcast …` and `roster import` as subprocesses: progress, SIGTERM mid-send and resume."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import sys

from bot.config import ROOT
from dialogs.validators import generate_id_number
from tests.staff.conftest import APPID, SECRET, add_subscribers


def cli_env(services, tmp_path, fake_api, **extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WECHAT_"))}
    return env | dict(BOT_STORE=f"sqlite:///{tmp_path / 'bot.db'}", BOT_DATA_KEY="00" * 32, BOT_DATA_DIR=str(tmp_path),
                      WECHAT_APPID=APPID, WECHAT_SECRET=SECRET, WECHAT_API_BASE=fake_api.base_url,
                      BOT_NOW=services.clock.now().isoformat(), PYTHONPATH=str(ROOT), **extra)


async def run_cli(env, *args: str, terminate_when=None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=str(ROOT), env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    if terminate_when is not None:
        async with asyncio.timeout(60):
            while not terminate_when():
                await asyncio.sleep(0.01)
        process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


async def test_send_interrupted_by_sigterm_then_resumed_exactly_once(services, fake_api, tmp_path):
    openids = await add_subscribers(services, 400, schemes=["sh-child-fund"])
    env = cli_env(services, tmp_path, fake_api, BOT_BROADCAST_RATE="200")
    code, out, err = await run_cli(env, "broadcast", "send", "--segment", "scheme=sh-child-fund", "--text", "缴费提醒",
                                   terminate_when=lambda: len(fake_api.messages) >= 100)
    assert code == 130 and "broadcast resume" in err
    job_id = out.split()[0]
    assert 100 <= len(fake_api.messages) < 400
    code, out, err = await run_cli(env, "broadcast", "resume", job_id)
    assert code == 0, err
    assert "100.0%" in err and "已完成" in out and "已送达 400" in out
    assert collections.Counter(fake_api.recipients) == {o: 1 for o in openids}
    code, out, _ = await run_cli(env, "broadcast", "status", job_id)
    assert code == 0 and "已完成" in out


async def test_dry_run_bad_segment_and_roster_import(services, fake_api, tmp_path):
    await add_subscribers(services, 3)
    env = cli_env(services, tmp_path, fake_api)
    code, _, err = await run_cli(env, "broadcast", "send", "--segment", "status=unpaid", "--text", "x", "--dry-run")
    assert code == 0 and "接收人数：0" in err
    code, _, err = await run_cli(env, "broadcast", "send", "--segment", "colour=red", "--text", "x")
    assert code == 2 and "不认识的分组条件" in err and "Traceback" not in err
    number = generate_id_number(dt.date(2018, 2, 3), "男", seq=5)
    roster = tmp_path / "名单.csv"
    roster.write_text(f"姓名,身份证号,班级,学校代码\n孙小圣,{number},大班,3101010002\n孙小空,{number[:-1]}0,大班,3101010002\n",
                      encoding="utf-8")
    code, out, err = await run_cli(env, "roster", "import", str(roster))
    assert code == 1 and "第3行" in err and "没有导入任何数据" in out and number not in out + err
    code, out, _ = await run_cli(env, "roster", "import", str(roster), "--good-rows")
    assert code == 3 and "导入其余1名" in out
    assert len(await services.roster.lookup(number)) == 1


async def test_applications_verify_from_the_command_line_tells_the_guardian(services, fake_api, tmp_path):
    """A declared exemption is verified by staff from the CLI: listed with its ID masked, refused with a
    reason (the guardian gets the reason and the pay link by customer-service message), decided once."""
    child = generate_id_number(dt.date(2016, 3, 2), "男", seq=77)
    app = await services.applications.create("o-cli-exempt", "sh-child-fund", {
        "child": {"name": "韩小明", "id_number": child}, "exempt": True, "amount_fen": 0, "full_amount_fen": 15000,
        "school_code": "3101010001", "school_name": "黄浦区北京东路小学"}, services.clock.now())
    await services.applications.update(app["id"], services.clock.now(), status="awaiting_verification")
    env = cli_env(services, tmp_path, fake_api)
    code, out, err = await run_cli(env, "applications", "list")
    assert code == 0 and app["id"] in out and child not in out and "*****" + child[-4:] in out
    code, out, err = await run_cli(env, "applications", "verify", app["id"], "--refuse", "民政数据中未查到")
    assert code == 0 and "已通知家长" in out, err
    texts = fake_api.texts_to("o-cli-exempt")
    assert any("民政数据中未查到" in t for t in texts) and any("去缴费" in t for t in texts)
    assert (await services.applications.get(app["id"]))["status"] == "awaiting_payment"
    code, out, err = await run_cli(env, "applications", "verify", app["id"], "--approve")
    assert code == 1 and "不在" in err
    code, out, err = await run_cli(env, "applications", "verify", "A000", "--refuse", "x")
    assert code == 1 and "没有申请" in err
