"""The admin pages in headless Chromium: log in, upload a roster, send a broadcast and watch it finish."""
from __future__ import annotations

import datetime as dt

import pytest
from aiohttp import web

from bot.broadcast import install
from bot.broadcast.jobs import JobSettings
from bot.config import ROOT
from bot.web.admin import setup_admin
from dialogs.validators import generate_id_number
from tests.staff.conftest import ADMIN_TOKEN, add_subscribers, make_sender

pytestmark = pytest.mark.browser

@pytest.fixture
async def server(services, fake_api):
    from bot.rules import RuleEngine

    sender = make_sender(services, fake_api.base_url)
    install(services, sender=sender, engine=RuleEngine.load(ROOT / "policies"), settings=JobSettings(rate=50))
    app = web.Application()
    setup_admin(app, services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await services.extras["broadcasts"].stop()
    await runner.cleanup()
    await sender.close()


@pytest.fixture
async def page(browser):  # the shared Debian-chromium fixture (tests/conftest.py)
    context = await browser.new_context(locale="zh-CN")
    yield await context.new_page()
    await context.close()


async def test_login_upload_roster_broadcast_and_no_full_id_anywhere(server, page, services, fake_api, tmp_path):
    numbers = [generate_id_number(dt.date(2017, 5, 1) + dt.timedelta(days=i), "男", seq=i * 2 + 1) for i in range(4)]
    await add_subscribers(services, 25, schemes=["sh-child-fund"])
    await services.applications.create("o00000", "sh-child-fund",
                                       {"status": "paid", "child": {"name": "赵小乐", "id_number": numbers[0]},
                                        "guardian": {"name": "赵大乐", "phone": "13912345678"}}, services.clock.now())
    seen: list[str] = []

    async def remember() -> None:
        seen.append(await page.content())

    # A wrong token is refused.
    await page.goto(server + "/admin/")
    assert page.url.endswith("/admin/login")
    await page.fill("#token", "not-the-token")
    await page.click("button[type=submit]")
    assert "令牌不正确" in await page.content()
    # The right one opens the dashboard.
    await page.fill("#token", ADMIN_TOKEN)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")
    assert "办理漏斗" in await page.content()
    await remember()

    # Upload a roster with one bad row: nothing imported, the row is reported.
    bad = tmp_path / "bad.csv"
    bad.write_text("姓名,身份证号,班级,学校代码\n"
                   f"钱小一,{numbers[1]},一年级1班,3101010001\n钱小二,{numbers[2][:-1]},一年级1班,3101010001\n",
                   encoding="utf-8")
    await page.goto(server + "/admin/roster")
    await page.set_input_files("#file", str(bad))
    await page.click("#roster-form button[type=submit]")
    report = await page.inner_text("#roster-report")
    assert "没有导入任何数据" in report and "18位" in report
    assert await page.inner_text("#roster-problems tr:nth-child(2) td:first-child") == "3"
    await remember()
    good = tmp_path / "good.csv"
    good.write_text("姓名,身份证号,班级,学校代码\n"
                    f"钱小一,{numbers[1]},一年级1班,3101010001\n钱小二,{numbers[2]},一年级1班,3101010001\n",
                    encoding="utf-8")
    await page.set_input_files("#file", str(good))
    await page.click("#roster-form button[type=submit]")
    assert "导入成功" in await page.inner_text("#roster-report")
    await remember()

    # Compose a broadcast, preview the recipients, send, watch it complete.
    await page.goto(server + "/admin/broadcasts")
    await page.select_option("#scheme", "sh-child-fund")
    await page.select_option("#status", "needs_action")
    await page.fill("#text", "【提醒】少儿住院互助基金集中参保9月30日截止，请尽快办理。")
    await page.click("#preview-button")
    await page.wait_for_selector("#preview-result[data-count]")  # selectors, not eval: the pages' CSP forbids it
    assert "预计接收人数：24 人" in await page.inner_text("#preview-result")
    await page.click("#send-button")
    await page.wait_for_url("**/admin/broadcasts/B*")
    await page.wait_for_selector("#job-status[data-status=done]", timeout=15000)
    assert "24 / 24" in await page.inner_text("#job-numbers")
    assert len(fake_api.messages) == 24 and "o00000" not in fake_api.recipients
    await remember()

    # Search by ID number: the application is found, shown masked.
    await page.goto(server + "/admin/applications")
    await page.fill("#q", numbers[0])
    await page.click("#search-form button[type=submit]")
    results = await page.inner_text("#results")
    assert "赵小乐" in results and "*****" + numbers[0][-4:] in results and "139****5678" in results
    await remember()
    for path in ("/admin/reminders", "/admin/broadcasts"):
        await page.goto(server + path)
        await remember()

    for html in seen:
        for number in numbers:
            assert number not in html and number[:17] not in html
        assert "13912345678" not in html
