"""/admin/applications through the real server: filters (scheme, status, school, dates), partial-name
search, one application's page (timeline, messages sent, payment), CSV/XLSX export with spreadsheet
formulas neutralised — personal numbers masked everywhere; the page in headless Chromium."""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json

import aiohttp
import openpyxl
import pytest

from bench.common import BENCH_DATA_KEY
from bot.clock import SHANGHAI
from bot.config import Settings
from bot.fulfilment import PAYMENT_KIND
from bot.services import build_services
from dialogs.validators import generate_id_number
from integrations.payment.orders import ORDER_KIND
from tests.server_process import ServerProcess

ADMIN = "e2e-admin"
BEARER = {"Authorization": f"Bearer {ADMIN}"}
IDS = [generate_id_number(dt.date(2016, 3, 1) + dt.timedelta(days=40 * i), "女", seq=10 + i) for i in range(5)]
PHONES = ["13912345678", "13812345671", "13712345672", "13612345673", "13512345674"]
FORMULA_NAME = '=HYPERLINK("http://evil.example/x","点我")'


def at(day: int) -> dt.datetime:
    return dt.datetime(2026, 9, day, 10, 0, tzinfo=SHANGHAI)


async def seed(data_dir) -> dict[str, str]:
    """Five applications (two schemes, several statuses, schools and days); the paid one has its order,
    payment and the messages sent to its guardian."""
    services = build_services(Settings(store_url=f"sqlite:///{data_dir / 'bot.db'}", data_dir=data_dir,
                                       data_key=BENCH_DATA_KEY))
    apps = services.applications
    rows = [("o-app-0", "sh-child-fund", "paid", "3101010001", "实验小学", "赵小乐", 1),
            ("o-app-1", "sh-child-fund", "pre_approved", "3101010001", "实验小学", "钱小乐", 3),
            ("o-app-2", "sh-child-fund", "submitted", "3101010002", "第二中学", FORMULA_NAME, 5),
            ("o-app-3", "bj-child-student", "submitted", "", "", "孙小明", 8),
            ("o-app-4", "sh-child-fund", "rejected", "3101010002", "第二中学", "李小红", 12)]
    ids = {}
    for n, (user, scheme, status, code, school, name, day) in enumerate(rows):
        app = await apps.create(user, scheme, {"status": "submitted", "school_code": code, "school_name": school,
                                               "child": {"name": name, "id_number": IDS[n]},
                                               "guardian": {"name": f"家长{n}", "phone": PHONES[n]}}, at(day))
        await services.subscribers.touch(user, at(day))
        if status != "submitted":
            await apps.update(app["id"], at(day) + dt.timedelta(hours=2), status=status, note="测试")
        ids[name] = app["id"]
    paid = ids["赵小乐"]
    await services.store.put(ORDER_KIND, paid, {"application_id": paid, "order_no": "P2026090100001", "amount_fen": 15000,
                                                "status": "paid", "provider": "checkout",
                                                "created_at": at(1).isoformat(), "expires_at": at(2).isoformat()},
                             index={"order_no": "P2026090100001", "status": "paid"})
    await services.store.put(PAYMENT_KIND, "P2026090100001:T1", {"order_no": "P2026090100001", "transaction_id": "T1",
                                                                 "amount_fen": 15000, "application_id": paid,
                                                                 "paid_at": at(1).isoformat()},
                             index={"application_id": paid, "order_no": "P2026090100001"})
    await services.sent_messages.record("o-app-0", f"预审通过，请在24小时内缴费。电话 176****2353", at(1), "sent")
    await services.store.close()
    return ids


@pytest.fixture
async def server(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    ids = await seed(data)
    proc = ServerProcess(data, env={"BOT_ADMIN_TOKEN": ADMIN, "BOT_DATA_KEY": BENCH_DATA_KEY,
                                    "BOT_NOW": "2026-09-20T10:00:00+08:00"}).start()
    yield proc, ids
    proc.stop()


@pytest.fixture
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def listed(http, base: str, **filters) -> dict:
    async with http.post(base + "/admin/api/applications/list", json=filters, headers=BEARER) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


def no_full_numbers(text: str) -> None:
    for number in IDS + PHONES:
        assert number not in text and number[:14] not in text


async def test_filters_search_detail_and_export(server, http):
    proc, ids = server
    base = proc.base_url
    names = lambda answer: sorted(a["child_name"] for a in answer["applications"])  # noqa: E731
    everything = await listed(http, base, scheme="sh-child-fund")
    assert everything["total"] == 4 and everything["applications"][0]["child_name"] == "李小红"  # newest first
    assert names(await listed(http, base, status="paid")) == ["赵小乐"]
    assert names(await listed(http, base, school="3101010002")) == sorted([FORMULA_NAME, "李小红"])
    assert names(await listed(http, base, school="实验")) == ["赵小乐", "钱小乐"]
    assert names(await listed(http, base, date_from="2026-09-03", date_to="2026-09-08")) == sorted(
        [FORMULA_NAME, "孙小明", "钱小乐"])
    assert names(await listed(http, base, q="小乐")) == ["赵小乐", "钱小乐"]  # part of a name
    assert names(await listed(http, base, q="小乐", status="pre_approved")) == ["钱小乐"]
    assert names(await listed(http, base, q=IDS[3])) == ["孙小明"]  # a whole ID number
    assert (await listed(http, base, scheme="nb-civil-servant-children"))["total"] == 0
    answer = await listed(http, base, scheme="sh-child-fund")
    no_full_numbers(json.dumps(answer, ensure_ascii=False))
    assert answer["applications"][-1]["child_id"] == "*****" + IDS[0][-4:]
    async with http.post(base + "/admin/api/applications/list", json={"date_from": "9月1日"}, headers=BEARER) as resp:
        assert resp.status == 400 and "日期" in (await resp.json())["error"]

    async with http.post(base + "/admin/api/broadcasts", headers=BEARER,
                         json={"segment": {"status": "paid"}, "text": "【提醒】医疗证将由学校发放。"}) as resp:
        job = await resp.json()
    for _ in range(100):
        async with http.get(base + f"/admin/api/broadcasts/{job['id']}", headers=BEARER) as resp:
            if (await resp.json())["status"] == "done":
                break
        await asyncio.sleep(0.1)
    async with http.get(base + f"/admin/api/applications/{ids['赵小乐']}", headers=BEARER) as resp:
        detail = await resp.json()
    assert [e["status"] for e in detail["timeline"]] == ["submitted", "paid"]
    assert detail["payment"]["amount_yuan"] == "150.00" and detail["payment"]["status_label"] == "已支付"
    assert detail["payments"][0]["transaction_id"] == "T1"
    assert [m["text"][:4] for m in detail["messages"]] == ["预审通过", "【提醒】"]
    assert detail["messages"][1]["how"] == "群发"
    no_full_numbers(json.dumps(detail, ensure_ascii=False))
    async with http.get(base + "/admin/api/applications/A-none", headers=BEARER) as resp:
        assert resp.status == 404

    async with http.post(base + "/admin/api/applications/export", json={"scheme": "sh-child-fund", "format": "csv"},
                         headers=BEARER) as resp:
        assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
        table = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert table[0][0] == "申请编号" and len(table) == 5
    formula_row = next(r for r in table if "HYPERLINK" in r[3])
    assert formula_row[3] == "'" + FORMULA_NAME
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in table for cell in row)
    no_full_numbers(json.dumps(table, ensure_ascii=False))
    async with http.post(base + "/admin/api/applications/export", json={"scheme": "sh-child-fund", "format": "xlsx"},
                         headers=BEARER) as resp:
        sheet = openpyxl.load_workbook(io.BytesIO(await resp.read())).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert len(list(sheet.iter_rows())) == 5 and all(c.data_type == "s" for c in cells)
    assert "'" + FORMULA_NAME in [c.value for c in cells]
    no_full_numbers(json.dumps([c.value for c in cells], ensure_ascii=False))


@pytest.mark.browser
async def test_staff_filter_open_and_export_in_the_page(server, browser, tmp_path):
    proc, ids = server
    context = await browser.new_context(locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    await page.goto(proc.base_url + "/admin/login")
    await page.fill("#token", ADMIN)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/admin/")
    await page.goto(proc.base_url + "/admin/applications")
    await page.select_option("#scheme", "sh-child-fund")
    await page.fill("#q", "小乐")
    await page.click("#search-form button[type=submit]:not([name])")
    results = await page.inner_text("#results")
    assert "赵小乐" in results and "钱小乐" in results and "孙小明" not in results
    assert "*****" + IDS[0][-4:] in results
    async with page.expect_download() as download:
        await page.click("#export-csv")
    saved = tmp_path / "export.csv"
    await (await download.value).save_as(saved)
    exported = saved.read_text(encoding="utf-8-sig")
    assert "赵小乐" in exported and "孙小明" not in exported
    await page.click(f"a[href='/admin/applications/{ids['赵小乐']}']")
    await page.wait_for_selector("#timeline")
    assert "已缴费" in await page.inner_text("#timeline")
    assert "150.00元" in await page.inner_text("#payment")
    assert "预审通过" in await page.inner_text("#sent")
    content = await page.content()
    for number in IDS + PHONES:
        assert number not in content
    await context.close()


async def test_messages_sent_outside_a_reply_are_kept_masked_for_the_application_page(services):
    from bot.delivery import deliver

    services.settings.wechat_secret = ""  # no account: the simulator's outbox
    await deliver(services, "o-msg", "预审通过，请缴费。如有疑问请致电17612342353")
    [message] = await services.sent_messages.for_user("o-msg")
    assert "176****2353" in message["text"] and "17612342353" not in message["text"] and message["how"] == "outbox"
    assert await services.sent_messages.for_user("o-msg", since="2099-01-01") == []


async def test_applications_indexed_before_the_date_was_indexed_still_match_a_date_filter(services):
    from bot.web.admin.applications import AppFilter, ApplicationViews
    from bot.web.admin.core import AdminContext

    app = await services.applications.create("o-old", "sh-child-fund", {"child": {"name": "周小旧"}}, at(4))
    rec = await services.store.get("application", app["id"])
    index = services.applications.index_of(app)
    del index["created_on"]  # as stored before the date was an index value
    await services.store.put("application", app["id"], rec.data, index=index)
    views = ApplicationViews(AdminContext(services, None, None))
    found, total = await views.list_applications(AppFilter(date_from="2026-09-04", date_to="2026-09-04"))
    assert total == 1 and found[0]["id"] == app["id"]
    assert (await views.list_applications(AppFilter(date_from="2026-09-05")))[1] == 0
