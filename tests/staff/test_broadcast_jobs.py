"""Broadcast jobs through the fake WeChat API: exactly once, rate limit, retries, crash and resume."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt

import pytest

from bot.broadcast.jobs import (CANCELLED, DONE, FAILED, PAUSED, SENDING, SENT, UNKNOWN, BroadcastJobs, JobSettings,
                                delivery_index, delivery_key)
from bot.broadcast.segments import Segment
from tests.staff.conftest import add_subscribers, make_sender, most_in_any_window

FAST = dict(backoff_base=0.05, backoff_max=0.2, status_poll=0.05)


def jobs_for(services, sender, **settings) -> BroadcastJobs:
    return BroadcastJobs(services.store, services.clock, sender, JobSettings(**{**FAST, **settings}))


def record_accept_times(fake_api) -> list[float]:
    """Times at which the fake accepted each message (the fake keeps only what, not when)."""
    accepted_at: list[float] = []
    original = fake_api._message

    async def timed(request, path, sink):
        response = await original(request, path, sink)
        if len(sink) > len(accepted_at):
            accepted_at.append(asyncio.get_running_loop().time())
        return response

    fake_api._message = timed  # type: ignore[method-assign]
    return accepted_at


async def test_the_rate_limit_holds_when_it_binds(services, fake_api):
    fake_api.rate_limit = 100  # the fake refuses (45011) anything over 100 in a sliding second
    accepted_at = record_accept_times(fake_api)
    await add_subscribers(services, 250)
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender, rate=100, concurrency=16)
    job = await jobs.create("测试", Segment())
    await jobs.wait(job["id"])
    await sender.close()
    assert len(fake_api.messages) == 250 and not [e for e in fake_api.errors if e[2] == 45011]
    assert most_in_any_window(accepted_at, 1.0) <= 100
    assert accepted_at[-1] - accepted_at[0] >= 1.4  # 250 messages at 100/s cannot take less than ~1.5 s


async def test_ten_thousand_exactly_once_within_rate_limit_across_a_crash(services, fake_api):
    fake_api.rate_limit = 2000  # the fake refuses (45011) anything over 2000 in a sliding second
    accepted_at = record_accept_times(fake_api)
    openids = await add_subscribers(services, 10_000)
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender, rate=1800, concurrency=16, page_size=500)
    job = await jobs.create("【提醒】少儿住院互助基金参保将于9月30日截止。", Segment(scheme="sh-child-fund"))
    assert job["id"]
    # Kill the worker part-way through, then resume it as a restarted process would (a new object).
    while len(fake_api.messages) < 3000:
        await asyncio.sleep(0.05)
    await jobs.stop()
    interrupted = await jobs.progress(job["id"])
    assert 0 < interrupted["counts"][SENT] < 10_000
    assert interrupted["counts"][SENDING] == 0  # a graceful stop records its in-flight sends

    resumed = jobs_for(services, sender, rate=1800, concurrency=16, page_size=500)
    assert await resumed.tick(services.clock.now()) == [job["id"]]
    await resumed.wait(job["id"])
    await sender.close()

    progress = await resumed.progress(job["id"])
    assert progress["status"] == DONE and progress["counts"][SENT] == 10_000 and progress["percent"] == 100.0
    counts = collections.Counter(fake_api.recipients)
    assert set(counts) == set(openids) and set(counts.values()) == {1}
    assert not [e for e in fake_api.errors if e[2] == 45011]
    assert most_in_any_window(accepted_at, 1.0) <= 2000


async def test_retries_with_backoff_then_gives_up(services, fake_api):
    await add_subscribers(services, 5)
    fake_api.fail_openid("o00001", -1, times=3)  # system busy three times, then fine
    fake_api.fail_openid("o00002", -1)  # always busy
    fake_api.fail_openid("o00003", 45015)  # outside the 48-hour window: not retried
    sender = make_sender(services, fake_api.base_url)
    sender.retries = 0  # let the job do the retrying
    jobs = jobs_for(services, sender, max_attempts=4)
    job = await jobs.create("测试", Segment())
    await jobs.wait(job["id"])
    await sender.close()
    states = {d["openid"]: d for d in await jobs.deliveries(job["id"])}
    assert states["o00001"]["state"] == SENT and states["o00001"]["attempts"] == 4
    assert states["o00002"]["state"] == FAILED and states["o00002"]["attempts"] == 4
    assert states["o00003"]["state"] == FAILED and states["o00003"]["errcode"] == 45015
    assert fake_api.texts_to("o00001") == ["测试"]
    assert (await jobs.progress(job["id"]))["status"] == DONE


async def test_a_reminder_outside_the_48_hour_window_goes_as_a_template_notice(services, fake_api):
    """Deadline reminders mostly reach guardians who have not written for days: with a template
    configured they get the notice now and the whole reminder when they next write."""
    from bot.delivery import NoticeSender
    from integrations.wechat.templates import TemplateNotice

    await add_subscribers(services, 2)
    fake_api.fail_openid("o00001", 45015)
    api = make_sender(services, fake_api.base_url)
    sender = NoticeSender(services, api, TemplateNotice.from_env({"WECHAT_TEMPLATE_ID": "TPL"}))
    jobs = jobs_for(services, sender)
    job = await jobs.create("【提醒】参保将于9月30日截止\n请尽快办理。", Segment())
    await jobs.wait(job["id"])
    await api.close()
    states = {d["openid"]: d["state"] for d in await jobs.deliveries(job["id"])}
    assert states == {"o00000": SENT, "o00001": SENT}
    assert fake_api.texts_to("o00000") == ["【提醒】参保将于9月30日截止\n请尽快办理。"]
    assert [(openid, body["data"]["first"]["value"]) for openid, body in fake_api.templates] == [
        ("o00001", "【提醒】参保将于9月30日截止")]
    [(_, kept)] = await services.store.query("undelivered", user="o00001")  # for when they write
    assert kept.data["text"] == "【提醒】参保将于9月30日截止\n请尽快办理。"


async def test_daily_quota_pauses_the_job_and_tick_resumes_it(services, fake_api):
    await add_subscribers(services, 6)
    fake_api.daily_quota = 3
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender, concurrency=1, pause_seconds=3600)
    job = await jobs.create("测试", Segment())
    await jobs.wait(job["id"])
    progress = await jobs.progress(job["id"])
    assert progress["status"] == PAUSED and progress["counts"][SENT] == 3 and progress["counts"]["pending"] == 3
    assert await jobs.tick(services.clock.now()) == []  # not yet
    fake_api.new_day()
    await services.store.delete("kv", f"wechat_paused:{sender.appid}:/cgi-bin/message/custom/send")
    sender._paused.clear()
    services.clock.advance(hours=1, minutes=1)
    assert await jobs.tick(services.clock.now()) == [job["id"]]
    await jobs.wait(job["id"])
    await sender.close()
    assert (await jobs.progress(job["id"]))["counts"][SENT] == 6
    assert sorted(fake_api.recipients) == [f"o{i:05d}" for i in range(6)]


async def test_cancel_stops_sending_and_marks_the_rest(services, fake_api):
    await add_subscribers(services, 300)
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender, rate=200, concurrency=4)
    job = await jobs.create("测试", Segment())
    while len(fake_api.messages) < 20:
        await asyncio.sleep(0.01)
    await jobs.cancel(job["id"])
    await jobs.wait(job["id"])
    await sender.close()
    progress = await jobs.progress(job["id"])
    assert progress["status"] == CANCELLED
    assert progress["counts"][SENT] == len(fake_api.messages) < 300
    assert progress["counts"]["cancelled"] == 300 - progress["counts"][SENT]


async def test_scheduled_job_waits_for_its_time(services, fake_api):
    await add_subscribers(services, 3)
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender)
    later = services.clock.now() + dt.timedelta(hours=2)
    job = await jobs.create("明天截止", Segment(), send_at=later)
    assert await jobs.tick(services.clock.now()) == []
    services.clock.set(later)
    assert await jobs.tick(services.clock.now()) == [job["id"]]
    await jobs.wait(job["id"])
    await sender.close()
    assert len(fake_api.messages) == 3


async def test_hard_crash_leaves_unknown_which_are_not_resent(services, fake_api):
    """A 'sending' record (left by SIGKILL) becomes unknown on resume, is never resent by itself,
    and is resent only when staff ask for it."""
    await add_subscribers(services, 4)
    sender = make_sender(services, fake_api.base_url)
    jobs = jobs_for(services, sender)
    job = await jobs.create("测试", Segment(), send_at=services.clock.now() + dt.timedelta(minutes=1))
    await jobs.start(job["id"])
    key = delivery_key(job["id"], "o00002")
    rec = await services.store.get("bdelivery", key)
    data = dict(rec.data, state=SENDING, attempts=1, claimed_at=0)
    await services.store.put("bdelivery", key, data, index=delivery_index(data))
    await jobs.dispatch(job["id"])
    await jobs.wait(job["id"])
    progress = await jobs.progress(job["id"])
    assert progress["counts"][UNKNOWN] == 1 and progress["counts"][SENT] == 3 and progress["status"] == DONE
    assert "o00002" not in fake_api.recipients
    assert await jobs.resend_unknown(job["id"]) == 1
    await jobs.wait(job["id"])
    await sender.close()
    assert fake_api.texts_to("o00002") == ["测试"]


async def test_empty_text_is_refused(services):
    jobs = jobs_for(services, None)
    with pytest.raises(ValueError, match="不能为空"):
        await jobs.create("  ", Segment())
