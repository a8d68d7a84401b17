"""Contract tests of the staff records (转人工 requests) on every Store backend (fixture `store`)."""
from __future__ import annotations

import asyncio
import datetime as dt

from bot.store.repos import HANDOFF_ANSWERED, HANDOFF_CLOSED, HANDOFF_OPEN, Handoffs

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def later(minutes: int) -> dt.datetime:
    return NOW + dt.timedelta(minutes=minutes)


async def test_a_request_collects_messages_until_it_is_closed(store):
    handoffs = Handoffs(store)
    first = await handoffs.request("openid-1", NOW, "转人工，孩子的户口在外地")
    assert first["status"] == HANDOFF_OPEN and await handoffs.count_open() == 1
    again = await handoffs.request("openid-1", later(1), "人工客服")  # asked twice: still one request
    assert again["id"] == first["id"] and [m["text"] for m in again["messages"]] == ["转人工，孩子的户口在外地", "人工客服"]
    answered = await handoffs.reply(first["id"], later(5), "您好，请提供户籍所在区。", "已发送（客服消息）")
    assert answered["status"] == HANDOFF_ANSWERED and await handoffs.count_open() == 0
    assert answered["messages"][-1] == {"from": "staff", "text": "您好，请提供户籍所在区。", "at": later(5).isoformat(),
                                        "delivery": "已发送（客服消息）"}
    back = await handoffs.add_message(first["id"], later(6), "浦东新区")  # the guardian answers: waits for staff
    assert back["status"] == HANDOFF_OPEN and await handoffs.count_open() == 1
    assert (await handoffs.active_for("openid-1"))["id"] == first["id"]

    closed = await handoffs.close(first["id"], later(7))
    assert closed["status"] == HANDOFF_CLOSED and await handoffs.count_open() == 0
    assert await handoffs.add_message(first["id"], later(8), "还在吗") is None
    assert await handoffs.active_for("openid-1") is None
    stored = await handoffs.get(first["id"])
    assert [m["from"] for m in stored["messages"]] == ["guardian", "guardian", "staff", "guardian"]
    newer = await handoffs.request("openid-1", later(9), "转人工")  # after closing, a new request opens
    assert newer["id"] != first["id"] and await handoffs.count_open() == 1
    assert await handoffs.reply("H-missing", later(9), "x", "") is None
    assert await handoffs.close("H-missing", later(9)) is None


async def test_listing_puts_waiting_requests_first_longest_waiting_first(store):
    handoffs = Handoffs(store)
    a = await handoffs.request("openid-a", NOW, "转人工")
    b = await handoffs.request("openid-b", later(1), "转人工")
    c = await handoffs.request("openid-c", later(2), "转人工")
    await handoffs.reply(a["id"], later(3), "好的", "已发送")
    await handoffs.close(b["id"], later(4))
    assert [r["id"] for r in await handoffs.listing()] == [c["id"], a["id"], b["id"]]
    d = await handoffs.request("openid-d", later(5), "转人工")
    await handoffs.close(d["id"], later(6))
    assert [r["id"] for r in await handoffs.listing(limit=3)] == [c["id"], a["id"], d["id"]]  # the latest closed
    assert [r["id"] for r in await handoffs.for_user("openid-b")] == [b["id"]]


async def test_messages_added_at_once_all_stay(store):
    handoffs = Handoffs(store)
    opened = await handoffs.request("openid-1", NOW, "转人工")
    await asyncio.gather(*(handoffs.add_message(opened["id"], later(i), f"第{i}条") for i in range(1, 6)))
    texts = [m["text"] for m in (await handoffs.get(opened["id"]))["messages"]]
    assert sorted(texts[1:]) == [f"第{i}条" for i in range(1, 6)]


async def test_a_request_stored_before_the_inbox_reads_as_one_message(store):
    await store.put("handoff", "openid-9:20260910100000",
                    {"user_id": "openid-9", "at": NOW.isoformat(), "status": "open", "text": "菜单：人工客服"},
                    index={"status": "open"})
    [old] = await Handoffs(store).listing()
    assert old["id"] == "openid-9:20260910100000" and old["messages"][0]["text"] == "菜单：人工客服"


async def test_query_keys_and_index_values_without_the_records_data(store):
    await store.put("thing", "b", {"big": "x" * 1000}, index={"colour": "red", "size": "L", "shape": "round"})
    await store.put("thing", "a", {"big": "y"}, index={"colour": "red", "size": "S"})
    await store.put("thing", "c", {}, index={"colour": "blue", "size": "S"})
    await store.put("thing", "d", {})  # no index at all
    await store.put("thing", "gone", {}, index={"colour": "red"}, ttl=0.05)
    await asyncio.sleep(0.1)
    assert await store.query_keys("thing", colour="red") == ["a", "b"]
    assert await store.query_keys("thing", colour="red", size="L") == ["b"]
    assert await store.query_keys("thing", colour="green") == []
    assert await store.query_keys("thing") == ["a", "b", "c", "d"]
    fields = ("colour", "size")
    assert await store.query_index("thing", fields, colour="red") == [("a", {"colour": "red", "size": "S"}),
                                                                      ("b", {"colour": "red", "size": "L"})]
    assert await store.query_index("thing", ("shape",), size="L") == [("b", {"shape": "round"})]
    assert await store.query_index("thing", fields, colour="green") == []
    assert await store.query_index("thing", ("size",)) == [("a", {"size": "S"}), ("b", {"size": "L"}),
                                                           ("c", {"size": "S"}), ("d", {})]
    await store.put("thing", "a", {}, index={"colour": "blue"})  # re-indexed: the old values are gone
    assert await store.query_keys("thing", colour="red") == ["b"]
    assert dict(await store.query_index("thing", fields, colour="blue"))["a"] == {"colour": "blue"}
