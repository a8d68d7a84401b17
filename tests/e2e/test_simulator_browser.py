"""The simulator page in headless Chromium against the real server process."""
from __future__ import annotations

import pytest

from tests.server_process import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path):
    proc = ServerProcess(tmp_path / "data", env={"BOT_NOW": "2026-09-10T10:00:00+08:00"}).start()
    yield proc
    proc.stop()


async def test_type_a_message_and_see_the_reply(server, browser):
    page = await browser.new_page()
    await page.goto(server.base_url + "/")
    await page.fill("#text", "少儿住院互助基金一年交多少钱")
    await page.click("#send")
    reply = page.locator(".msg.bot .bubble").last
    await reply.wait_for(timeout=10000)
    assert "150" in await reply.inner_text()
    # A menu button sends a CLICK event through the same signed path.
    await page.click("button:has-text('关注公众号')")
    await page.locator(".msg.bot .bubble", has_text="欢迎").wait_for(timeout=10000)
    await page.screenshot(path=str(server.data_dir / "simulator.png"))
