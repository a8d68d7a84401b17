"""A guardian in the middle of a form belongs to that form's scheme, status "started, not submitted":
the preview, the broadcast page's table, the send and the dashboard agree (webhook and admin API of
one app, guardians talking over signed XML)."""
from __future__ import annotations

import pytest

from bot.store.repos import SESSION_FORM_KEY, Sessions
from dialogs.enrollment import ENROLL_KEY
from tests.wechat_client import in_process_bot

BEARER = {"Authorization": "Bearer a"}


@pytest.fixture
async def app(aiohttp_client, tmp_path):
    return await in_process_bot(aiohttp_client, tmp_path, "2026-09-10T10:00:00+08:00")


async def preview(client, **segment) -> int:
    resp = await client.post("/admin/api/segments/preview", json=segment, headers=BEARER)
    assert resp.status == 200
    return (await resp.json())["count"]


async def test_guardians_mid_form_are_reached_and_counted_alike(app):
    client, guardian, services = app
    for user in ("o-mid-1", "o-mid-2"):
        assert "办理须知" in await guardian.say(user, "我要参保少儿住院互助基金")
    await guardian.say("o-other", "北京一小多少钱")  # a subscriber who started nothing

    assert await preview(client, scheme="sh-child-fund", status="started") == 2
    assert await preview(client, scheme="bj-child-student", status="started") == 0
    assert await preview(client, status="started") == 2
    assert await preview(client, scheme="sh-child-fund") == 2  # no declared scheme, no application: still in it
    table = await (await client.get("/admin/api/segments?scheme=sh-child-fund", headers=BEARER)).json()
    assert {row["status"]: row["count"] for row in table["segments"]}["started"] == 2
    stats = await (await client.get("/admin/api/stats", headers=BEARER)).json()
    assert stats["filling"] == {"sh-child-fund": 2} and stats["funnel"][0]["count"] == 2

    # A send to the segment reaches both.
    resp = await client.post("/admin/api/broadcasts", headers=BEARER,
                             json={"segment": {"scheme": "sh-child-fund", "status": "started"}, "text": "请继续填写"})
    assert resp.status == 201
    job = await resp.json()
    await services.extras["broadcasts"].wait(job["id"])
    assert (await services.extras["broadcasts"].progress(job["id"]))["total"] == 2

    # Cancelling the form takes the guardian out of it.
    await guardian.say("o-mid-2", "取消")
    assert await preview(client, scheme="sh-child-fund", status="started") == 1
    stats = await (await client.get("/admin/api/stats", headers=BEARER)).json()
    assert stats["filling"] == {"sh-child-fund": 1}
    await services.extras["broadcasts"].stop()


def test_the_session_index_reads_where_the_dialogs_keep_the_form():
    assert SESSION_FORM_KEY == ENROLL_KEY
    assert Sessions.index_of({ENROLL_KEY: {"form": {"scheme": "nb-civil-servant-children"}}}) == {
        "form_scheme": "nb-civil-servant-children", "form_open": "1"}
    assert Sessions.index_of({ENROLL_KEY: {"ended": {"scheme": "x"}}}) is None
