"""Periodic sweeps with several workers on one store: each sweep runs in one worker at a time (two
workers retrying the same held message would send it twice), and a failing sweep spoils nothing."""
from __future__ import annotations

import asyncio

from bot.app import run_sweeps
from bot.clock import Clock
from bot.config import Settings
from bot.services import build_services


async def test_of_two_workers_only_one_runs_a_sweep_at_a_time(store_maker, tmp_path):
    running, overlaps, runs = 0, 0, []

    async def resend_held_messages(services) -> None:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0.2)
        running -= 1
        runs.append(services)

    async def broken(services) -> None:
        raise RuntimeError("a bug in one sweep")

    workers = []
    for n, store in enumerate(await store_maker.peers(2)):  # two processes' worth of services on one store
        settings = Settings(data_dir=tmp_path / f"w{n}", store_url="sqlite:///unused", simulator=False)
        services = build_services(settings, store=store, clock=Clock())
        services.extras["sweeps"] = [broken, resend_held_messages]
        workers.append(services)
    rounds = await asyncio.gather(*(run_sweeps(services) for services in workers))
    assert overlaps == 0 and len(runs) == 1  # the second worker found it taken and moved on
    assert sorted(len(names) for names in rounds) == [0, 1]
    # The locks were released (also the broken sweep's): the next round runs both again.
    assert [name.rsplit(".", 1)[-1] for name in await run_sweeps(workers[1])] == ["resend_held_messages"]
    assert len(runs) == 2
