"""The SQLite store checkpoints its write-ahead log on a thread, never inside a commit on the event loop."""
from __future__ import annotations

import gc
import sqlite3
import time

from bot.store import sqlite as sqlite_store
from bot.store.sqlite import SQLiteStore


def _main_file_count(path) -> int:
    """Records in the database file itself, ignoring the log (immutable=1 never reads the -wal file)."""
    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        return db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    except sqlite3.Error:  # not even the schema is in the file yet, or a checkpoint is writing it
        return -1
    finally:
        db.close()


def _wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


async def test_commits_leave_checkpoints_to_the_thread(tmp_path):
    path = tmp_path / "bot.db"
    store = SQLiteStore(str(path))
    try:
        assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == sqlite_store._COMMIT_CHECKPOINT_PAGES
        for n in range(200):
            await store.put("thing", f"k{n}", {"n": n, "text": "长" * 300})
        # The thread copies the log into the file within a pass or two.
        assert _wait_for(lambda: _main_file_count(path) == 200)
        assert _wait_for(lambda: store._checkpointer.passes >= 1)  # counted just after the pass's checkpoint
        assert (await store.get("thing", "k199")).data["n"] == 199
    finally:
        await store.close()
    assert not store._checkpointer._thread.is_alive()


async def test_a_store_dropped_without_close_stops_its_thread(tmp_path):
    store = SQLiteStore(str(tmp_path / "bot.db"))
    thread = store._checkpointer._thread
    del store
    gc.collect()
    assert _wait_for(lambda: not thread.is_alive())


async def test_memory_databases_have_no_thread():
    store = SQLiteStore(":memory:")
    assert store._checkpointer is None
    await store.put("thing", "a", {"n": 1})
    await store.close()
