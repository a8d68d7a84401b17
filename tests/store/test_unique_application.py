"""One live application per child, scheme and period: the check and the creation are one atomic step in
every backend (issue 14: Redis used to give two applications for two simultaneous submissions)."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.clock import SHANGHAI
from bot.privacy import FieldCipher
from bot.store.repos import REJECTED, Applications, DuplicateApplication
from dialogs.validators import generate_id_number

NOW = dt.datetime(2026, 9, 10, 10, 0, tzinfo=SHANGHAI)
CHILD = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)


def _data() -> dict:
    return {"child": {"name": "韩小明", "id_number": CHILD}, "amount_fen": 15000}


@pytest.mark.parametrize("tries", [6])
async def test_simultaneous_submissions_of_one_child_make_one_application(store_maker, tries):
    for attempt in range(tries):
        # Separate connections, as two workers would have: each guardian's submission on its own store.
        stores = await store_maker.peers(2)
        apps = [Applications(s, FieldCipher(b"k" * 32)) for s in stores]
        period = f"2026-09-01|{attempt}"
        results = await asyncio.gather(
            *(a.create_unique(f"o-guardian-{i}", "sh-child-fund", _data(), NOW, period) for i, a in enumerate(apps)),
            return_exceptions=True)
        created = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if isinstance(r, DuplicateApplication)]
        assert len(created) == 1 and len(refused) == 1, results
        found = await apps[0].find_by_id_number(CHILD, "sh-child-fund")
        assert len(found) == attempt + 1  # one per period: the refused submission wrote nothing


async def test_a_closed_application_frees_the_child_and_other_periods_are_apart(store):
    apps = Applications(store, FieldCipher(b"k" * 32))
    first = await apps.create_unique("o-1", "sh-child-fund", _data(), NOW, "2026-09-01|2026")
    with pytest.raises(DuplicateApplication) as dup:
        await apps.create_unique("o-2", "sh-child-fund", _data(), NOW, "2026-09-01|2026")
    assert dup.value.existing["id"] == first["id"]
    other_year = await apps.create_unique("o-1", "sh-child-fund", _data(), NOW, "2027-09-01|2027")
    other_scheme = await apps.create_unique("o-1", "sh-resident-student", _data(), NOW, "2026-09-01|2026")
    assert len({first["id"], other_year["id"], other_scheme["id"]}) == 3
    await apps.update(first["id"], NOW, status=REJECTED)
    again = await apps.create_unique("o-2", "sh-child-fund", _data(), NOW, "2026-09-01|2026")
    assert again["id"] != first["id"] and again["user_id"] == "o-2"
