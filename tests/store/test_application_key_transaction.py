"""The key that makes an application unique (scheme, child, period) and the application itself are stored in
one transaction (Store.put_all): an insert that fails — the database gone, the worker killed — leaves neither,
so the guardian's next try is not refused as a duplicate of an application that does not exist."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.clock import SHANGHAI
from bot.privacy import FieldCipher
from bot.store.base import StoreError
from bot.store.repos import Applications
from dialogs.validators import generate_id_number

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI)


class ApplicationInsertFails:
    """The real store, except that writing an application record fails (put or put_all)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.failing = inner, True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def put(self, kind: str, *args: Any, **kwargs: Any) -> int:
        if self.failing and kind == Applications.KIND:
            raise StoreError("database gone")
        return await self.inner.put(kind, *args, **kwargs)

    async def put_all(self, writes: list) -> None:
        if self.failing and any(w.kind == Applications.KIND for w in writes):
            raise StoreError("database gone")
        await self.inner.put_all(writes)


async def test_a_failed_insert_leaves_no_key_and_the_retry_goes_through(store):
    failing = ApplicationInsertFails(store)
    apps = Applications(failing, FieldCipher(b"k" * 32))
    data = {"child": {"name": "韩小明", "id_number": generate_id_number(dt.date(2016, 3, 2), "男", seq=411)},
            "amount_fen": 15000}
    with pytest.raises(StoreError):
        await apps.create_unique("o-guardian", "sh-child-fund", dict(data), NOW, "2026")
    assert await store.count(Applications.UNIQUE_KIND) == 0  # no key without its application
    failing.failing = False
    created = await apps.create_unique("o-guardian", "sh-child-fund", dict(data), NOW + dt.timedelta(seconds=5), "2026")
    assert [a["id"] for a in await apps.for_user("o-guardian")] == [created["id"]]
