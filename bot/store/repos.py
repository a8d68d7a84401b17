"""Typed repositories over the generic `Store`: the domain records and their encryption.

Every backend gets the same records, so all domain logic lives here once. Personal data (ID and
phone numbers, bank cards) is encrypted by `FieldCipher` before it reaches a backend; look-ups by
ID number go through a blind index (`id_hash`).
"""
from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any, Callable

from bot.privacy import FieldCipher
from bot.store.base import Record, Store, VersionConflict, Write

SESSION_SCHEMA = 1
SESSION_TTL = 30 * 24 * 3600  # idle conversations are forgotten after 30 days
SESSION_FORM_KEY = "enroll"  # where the enrolment dialogs keep their state (dialogs.enrollment.ENROLL_KEY)

# Application statuses, in the order a successful application passes through them.
DRAFT, SUBMITTED, PRE_APPROVED, AWAITING_PAYMENT, PAID, DONE = (
    "draft", "submitted", "pre_approved", "awaiting_payment", "paid", "done")
REJECTED, EXPIRED, CANCELLED = "rejected", "expired", "cancelled"
# A self-declared exemption (低保, 困境儿童, 免缴材料 …) is a claim until staff have verified it.
AWAITING_VERIFICATION = "awaiting_verification"
STATUS_LABELS = {
    DRAFT: "填写中", SUBMITTED: "已提交，等待预审", PRE_APPROVED: "预审通过", AWAITING_PAYMENT: "待缴费",
    AWAITING_VERIFICATION: "预审通过，免缴资格待审核",
    PAID: "已缴费", DONE: "已办结", REJECTED: "预审未通过", EXPIRED: "已过期", CANCELLED: "已取消",
}

CLOSED = (REJECTED, EXPIRED, CANCELLED)  # an application of these no longer blocks a new one for the child

# The stages of the dashboard's funnel (办理漏斗) an application can have reached, each one's statuses
# including the next's; the furthest one reached is kept as the index value `reached`, so that the
# funnel is counted from index values instead of reading every application's history.
FUNNEL_STAGES = (
    ("submitted", "已提交", {SUBMITTED, PRE_APPROVED, AWAITING_PAYMENT, AWAITING_VERIFICATION, PAID, DONE}),
    ("pre_approved", "预审通过", {PRE_APPROVED, AWAITING_PAYMENT, AWAITING_VERIFICATION, PAID, DONE}),
    ("paid", "已缴费", {PAID, DONE}),
)
CREATE_IN_FLIGHT = dt.timedelta(minutes=2)  # a claim whose application is not written yet is taken as in flight

# Fields holding personal data, encrypted at rest wherever they appear in a record. The birth date is
# part of the ID number (digits 7–14): with the masked ID's last four and the 户籍 district it leaves
# one candidate, so it is as secret as the number itself.
SECRET_FIELDS = ("id_number", "phone", "card_number", "birth_date")


def _iso(when: dt.datetime) -> str:
    return when.isoformat(timespec="seconds")


class Sessions:
    """One conversation state per guardian, written with compare-and-set."""

    KIND = "session"

    def __init__(self, store: Store, cipher: FieldCipher) -> None:
        self.store, self.cipher = store, cipher

    async def load(self, user_id: str) -> tuple[dict[str, Any], int]:
        return self.decode(await self.store.get(self.KIND, user_id))

    def decode(self, rec: Record | None) -> tuple[dict[str, Any], int]:
        """(session data, version) of a stored session record (a new session for None)."""
        if rec is None:
            return {"schema": SESSION_SCHEMA}, 0
        return decrypt_fields(rec.data, self.cipher), rec.version

    def write(self, user_id: str, data: dict[str, Any], version: int) -> Write:
        """The compare-and-set write that saves `data` over `version` (for `Store.put_and_release`)."""
        data = dict(data, schema=SESSION_SCHEMA)
        return Write(self.KIND, user_id, encrypt_fields(data, self.cipher), expected_version=version,
                     index=self.index_of(data), ttl=SESSION_TTL)

    @staticmethod
    def index_of(data: dict[str, Any]) -> dict[str, str] | None:
        """The scheme of the form the guardian is filling in, so segments find "started, not submitted"
        guardians without reading every session."""
        state = data.get(SESSION_FORM_KEY)
        form = state.get("form") if isinstance(state, dict) else None
        return {"form_scheme": str(form.get("scheme") or ""), "form_open": "1"} if isinstance(form, dict) else None

    async def save(self, user_id: str, data: dict[str, Any], version: int) -> int:
        """Raises VersionConflict when another worker saved first."""
        w = self.write(user_id, data, version)
        return await self.store.put(w.kind, w.key, w.data, expected_version=w.expected_version, index=w.index,
                                    ttl=w.ttl)


class DuplicateApplication(Exception):
    """The child already has a live application of the scheme for the period (`existing`; None while the
    other one is still being written)."""

    def __init__(self, existing: dict[str, Any] | None) -> None:
        super().__init__("duplicate application")
        self.existing = existing


@dataclass
class Applications:
    """Durable enrolment applications with their status history."""

    store: Store
    cipher: FieldCipher
    KIND = "application"

    UNIQUE_KIND = "application_key"

    async def create_unique(self, user_id: str, scheme: str, data: dict[str, Any], now: dt.datetime,
                            period: str) -> dict[str, Any]:
        """`create`, unless the child (by the blind index of the ID number) already has a live application of
        `scheme` for `period`: then DuplicateApplication. The check and the creation are one atomic step in
        every backend: the application's key (scheme, child, period) is claimed with a compare-and-set in the
        same transaction that inserts the application (`Store.put_all`), so of two guardians
        submitting the same child at the same moment exactly one gets the key. A key whose application has
        closed (rejected, expired, cancelled) is taken over, again by compare-and-set."""
        id_number = (data.get("child") or {}).get("id_number")
        if not id_number:
            return await self.create(user_id, scheme, data, now)
        key = f"{scheme}:{self.cipher.blind(id_number)}:{period}"
        record = self._new_record(user_id, scheme, data, now)
        for _attempt in range(5):
            rec = await self.store.get(self.UNIQUE_KIND, key)
            if rec is not None:
                holder = await self.get(rec.data["application_id"])
                if holder is None and now - dt.datetime.fromisoformat(rec.data["at"]) < CREATE_IN_FLIGHT:
                    raise DuplicateApplication(None)  # a key written apart from its application (older versions)
                if holder is not None and holder["status"] not in CLOSED:
                    raise DuplicateApplication(holder)
            # The key and the application in one transaction: a failure or crash leaves both or neither.
            claim = Write(self.UNIQUE_KIND, key, {"application_id": record["id"], "at": _iso(now)},
                          expected_version=rec.version if rec else 0)
            try:
                await self.store.put_all([claim, self.write(record, expected_version=0)])
            except VersionConflict:
                continue  # another submission took the key first: look at what it is now
            return record
        raise VersionConflict(key)

    @staticmethod
    def _new_id(now: dt.datetime) -> str:
        return now.strftime("A%Y%m%d") + secrets.token_hex(4).upper()

    async def create(self, user_id: str, scheme: str, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        record = self._new_record(user_id, scheme, data, now)
        await self._write(record, expected_version=0)
        return record

    def _new_record(self, user_id: str, scheme: str, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        record = {
            "id": self._new_id(now), "user_id": user_id, "scheme": scheme, "status": data.pop("status", SUBMITTED),
            "created_at": _iso(now), "updated_at": _iso(now), **data,
        }
        record.setdefault("history", []).append({"status": record["status"], "at": _iso(now)})
        return record

    async def get(self, app_id: str) -> dict[str, Any] | None:
        rec = await self.store.get(self.KIND, app_id)
        return self._read(rec) if rec else None

    async def update(self, app_id: str, now: dt.datetime, *, status: str | None = None,
                     expect_status: tuple[str, ...] | None = None, note: str = "",
                     also: Callable[[dict[str, Any]], list[Write]] | None = None, **changes: Any) -> dict[str, Any]:
        """Change fields and optionally the status; CAS-safe. Raises VersionConflict when the current
        status is not in `expect_status` (e.g. a duplicate payment notification for a paid application).
        `also(updated application)` gives writes of other records that must happen with this change or
        not at all (the order it settles): one transaction (`Store.put_all`)."""
        for _attempt in range(5):
            rec = await self.store.get(self.KIND, app_id)
            if rec is None:
                raise KeyError(app_id)
            current = self._read(rec)
            if expect_status is not None and current["status"] not in expect_status:
                raise VersionConflict(f"{app_id} is {current['status']}")
            current.update(changes)
            current["updated_at"] = _iso(now)
            if status and status != current["status"]:
                current["status"] = status
                current.setdefault("history", []).append({"status": status, "at": _iso(now), "note": note})
            try:
                write = self.write(current, expected_version=rec.version)
                if also is None:
                    await self.store.put(write.kind, write.key, write.data, expected_version=write.expected_version,
                                         index=write.index)
                else:
                    await self.store.put_all([write, *also(current)])
                return current
            except VersionConflict:
                continue
        raise VersionConflict(app_id)

    async def for_user(self, user_id: str) -> list[dict[str, Any]]:
        return [self._read(r) for _, r in await self.store.query(self.KIND, user_id=user_id)]

    async def by_status(self, status: str, scheme: str | None = None) -> list[dict[str, Any]]:
        idx = {"status": status} | ({"scheme": scheme} if scheme else {})
        return [self._read(r) for _, r in await self.store.query(self.KIND, **idx)]

    async def all(self) -> list[dict[str, Any]]:
        return [self._read(r) for _, r in await self.store.query(self.KIND)]

    async def find_by_id_number(self, id_number: str, scheme: str | None = None) -> list[dict[str, Any]]:
        idx = {"id_hash": self.cipher.blind(id_number)} | ({"scheme": scheme} if scheme else {})
        return [self._read(r) for _, r in await self.store.query(self.KIND, **idx)]

    async def _write(self, record: dict[str, Any], expected_version: int) -> int:
        w = self.write(record, expected_version)
        return await self.store.put(w.kind, w.key, w.data, expected_version=w.expected_version, index=w.index)

    def write(self, record: dict[str, Any], expected_version: int | None) -> Write:
        """The store write of an application record: encrypted, with its index values."""
        return Write(self.KIND, record["id"], encrypt_fields(record, self.cipher), expected_version=expected_version,
                     index=self.index_of(record))

    def index_of(self, record: dict[str, Any]) -> dict[str, str]:
        child = record.get("child") or {}
        return {**self.plain_index(record),
                "id_hash": self.cipher.blind(child["id_number"]) if child.get("id_number") else ""}

    @staticmethod
    def plain_index(record: dict[str, Any]) -> dict[str, str]:
        """The index values that need no key (all but the ID number's blind index), from the stored record."""
        return {
            "user_id": record["user_id"], "scheme": record["scheme"], "status": record["status"],
            "school_code": str(record.get("school_code") or ""),
            "created_on": str(record.get("created_at") or "")[:10],
            "reached": reached_stage(record),
        }

    def _read(self, rec: Record) -> dict[str, Any]:
        return decrypt_fields(rec.data, self.cipher)


def reached_stage(record: dict[str, Any]) -> str:
    """The furthest FUNNEL_STAGES stage the application's status or history has reached ("" none)."""
    reached = {step.get("status") for step in record.get("history") or ()} | {record.get("status")}
    return next((stage for stage, _label, statuses in reversed(FUNNEL_STAGES) if reached & statuses), "")


async def application_values(store: Store, rows: list[tuple[str, dict[str, str]]],
                             fields: tuple[str, ...]) -> list[dict[str, str]]:
    """The index values of applications (`Store.query_index(Applications.KIND, fields)` rows) with every one
    of `fields`: a record indexed before a field was added, and not re-indexed yet (bot.store.reindex), is
    read for it."""
    found = []
    for key, values in rows:
        if len(values) < len(fields):  # query_index gives only the fields asked for
            rec = await store.get(Applications.KIND, key)
            values = {**(Applications.plain_index(rec.data) if rec else dict.fromkeys(fields, "")), **values}
        found.append(values)
    return found


async def created_on(store: Store, key: str, values: dict[str, str]) -> str:
    """An application's creation date from its index values (see `application_values`)."""
    return (await application_values(store, [(key, values)], ("created_on",)))[0]["created_on"]


class Subscribers:
    """Guardians who follow the account: region, schemes, last interaction (48-hour window), opt-out."""

    KIND = "subscriber"

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, openid: str) -> dict[str, Any] | None:
        rec = await self.store.get(self.KIND, openid)
        return rec.data if rec else None

    async def touch(self, openid: str, now: dt.datetime, *, add: dict[str, str] | None = None,
                    **changes: Any) -> dict[str, Any]:
        """Record an interaction (and any changed fields), creating the subscriber if needed. `add` puts a
        value into a list field (schemes, reminders) within the same compare-and-set, so that two forms
        submitted at once both stay — and it costs no read of its own."""
        for _attempt in range(5):
            rec = await self.store.get(self.KIND, openid)
            data = dict(rec.data) if rec else {"openid": openid, "subscribed": True, "first_seen": _iso(now),
                                               "schemes": [], "district": "", "school_code": ""}
            data.update(changes)
            for field, value in (add or {}).items():
                data[field] = sorted(set(data.get(field) or []) | {value})
            data["last_interaction"] = _iso(now)
            try:
                await self.store.put(self.KIND, openid, data, expected_version=rec.version if rec else 0,
                                     index=self.index_of(data))
                return data
            except VersionConflict:
                continue
        raise VersionConflict(openid)

    async def query(self, **index: str) -> list[dict[str, Any]]:
        return [r.data for _, r in await self.store.query(self.KIND, **index)]

    @staticmethod
    def index_of(data: dict[str, Any]) -> dict[str, str]:
        return {
            "subscribed": "1" if data.get("subscribed", True) else "0",
            "opted_out": "1" if data.get("opted_out") else "0",
            "district": str(data.get("district") or ""),
            "school_code": str(data.get("school_code") or ""),
            **{Subscribers.scheme_field(scheme): "1" for scheme in data.get("schemes") or []},
        }

    @staticmethod
    def scheme_field(scheme: str) -> str:
        """The index field saying the guardian declared `scheme` (index fields hold no ':')."""
        return "in." + str(scheme).replace(":", "_")


# A guardian's request for a person (转人工): open (waiting for staff), answered, closed.
HANDOFF_OPEN, HANDOFF_ANSWERED, HANDOFF_CLOSED = "open", "answered", "closed"
HANDOFF_LABELS = {HANDOFF_OPEN: "待回复", HANDOFF_ANSWERED: "已回复", HANDOFF_CLOSED: "已关闭"}
HANDOFF_MESSAGE_CHARS = 500
HANDOFF_MESSAGES_KEPT = 100  # the oldest guardian messages beyond this are dropped; staff replies are all kept


class Handoffs:
    """Requests for a person, with the guardian's messages and every staff reply, each with its time.

    While a request is not closed, the guardian's later messages are added to it (and a new message
    after a staff reply makes it wait for staff again). Texts must already be free of personal numbers:
    callers pass them through bot.privacy.redact."""

    KIND = "handoff"

    def __init__(self, store: Store) -> None:
        self.store = store

    async def request(self, user_id: str, now: dt.datetime, text: str, **details: Any) -> dict[str, Any]:
        """转人工: add the words to the guardian's request still in progress, or open a new one."""
        current = await self.active_for(user_id)
        if current:
            added = await self.add_message(current["id"], now, text)
            if added:
                return added
        handoff_id = f"H{now:%Y%m%d%H%M%S}{secrets.token_hex(3).upper()}"
        record = {"id": handoff_id, "user_id": user_id, "status": HANDOFF_OPEN, "at": _iso(now), "updated_at": _iso(now),
                  "messages": [_message("guardian", text, now)], **details}
        await self._write(record, expected_version=0)
        return record

    async def active_for(self, user_id: str) -> dict[str, Any] | None:
        rows = await self.store.query(self.KIND, user_id=user_id, active="1")
        return self._read(*rows[-1]) if rows else None

    async def get(self, handoff_id: str) -> dict[str, Any] | None:
        rec = await self.store.get(self.KIND, handoff_id)
        return self._read(handoff_id, rec) if rec else None

    async def add_message(self, handoff_id: str, now: dt.datetime, text: str) -> dict[str, Any] | None:
        """The guardian wrote again: kept, and the request waits for staff. None once it is closed."""
        def change(record: dict[str, Any]) -> bool:
            if record["status"] == HANDOFF_CLOSED:
                return False
            guardian = [m for m in record["messages"] if m["from"] == "guardian"]
            if len(guardian) >= HANDOFF_MESSAGES_KEPT:
                record["messages"].remove(guardian[0])
            record["messages"].append(_message("guardian", text, now))
            record["status"] = HANDOFF_OPEN
            return True
        return await self._change(handoff_id, now, change)

    async def reply(self, handoff_id: str, now: dt.datetime, text: str, delivery: str) -> dict[str, Any] | None:
        """A staff reply and how it went out (`delivery`); the request is then answered. None if unknown."""
        def change(record: dict[str, Any]) -> bool:
            record["messages"].append(_message("staff", text, now) | {"delivery": delivery})
            if record["status"] != HANDOFF_CLOSED:
                record["status"] = HANDOFF_ANSWERED
            return True
        return await self._change(handoff_id, now, change)

    async def close(self, handoff_id: str, now: dt.datetime) -> dict[str, Any] | None:
        def change(record: dict[str, Any]) -> bool:
            record["status"], record["closed_at"] = HANDOFF_CLOSED, _iso(now)
            return True
        return await self._change(handoff_id, now, change)

    async def listing(self, limit: int = 200) -> list[dict[str, Any]]:
        """Waiting requests first (longest waiting first), then answered, then the latest closed ones
        (closed requests pile up: only as many as the page shows are read)."""
        found: list[dict[str, Any]] = []
        for status in (HANDOFF_OPEN, HANDOFF_ANSWERED):
            rows = [self._read(k, r) for k, r in await self.store.query(self.KIND, status=status)]
            rows.sort(key=lambda r: r["updated_at"], reverse=status != HANDOFF_OPEN)
            found += rows
        room = max(limit - len(found), 0)
        closed = (await self.store.query_keys(self.KIND, status=HANDOFF_CLOSED))[::-1][:room] if room else []
        found += [r for r in [await self.get(k) for k in closed] if r]
        return found[:limit]

    async def for_user(self, user_id: str) -> list[dict[str, Any]]:
        return [self._read(k, r) for k, r in await self.store.query(self.KIND, user_id=user_id)]

    async def count_open(self) -> int:
        return await self.store.count(self.KIND, status=HANDOFF_OPEN)

    async def _change(self, handoff_id: str, now: dt.datetime, change) -> dict[str, Any] | None:
        for _attempt in range(5):
            rec = await self.store.get(self.KIND, handoff_id)
            if rec is None:
                return None
            record = self._read(handoff_id, rec)
            if not change(record):
                return None
            record["updated_at"] = _iso(now)
            try:
                await self._write(record, expected_version=rec.version)
                return record
            except VersionConflict:
                continue
        raise VersionConflict(handoff_id)

    async def _write(self, record: dict[str, Any], expected_version: int) -> int:
        index = {"status": record["status"], "user_id": record["user_id"],
                 "active": "0" if record["status"] == HANDOFF_CLOSED else "1"}
        return await self.store.put(self.KIND, record["id"], record, expected_version=expected_version, index=index)

    @staticmethod
    def _read(key: str, rec: Record) -> dict[str, Any]:
        """Requests stored before the inbox existed held one `text`; they read as one message."""
        data = dict(rec.data)
        data.setdefault("id", key)
        data.setdefault("updated_at", data.get("at", ""))
        if "messages" not in data:
            data["messages"] = [{"from": "guardian", "text": data.get("text", ""), "at": data.get("at", "")}]
        return data


class SentMessages:
    """Messages the bot sent a guardian outside a reply (pre-review results, payment links, staff
    replies), kept masked for the application's page in the admin. Texts must already be redacted."""

    KIND = "sent_message"
    TTL = 400 * 24 * 3600  # one enrolment season and the next
    TEXT_CHARS = 300

    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, openid: str, text: str, now: dt.datetime, how: str) -> None:
        key = f"{openid}:{now:%Y%m%d%H%M%S}:{secrets.token_hex(3)}"
        await self.store.put(self.KIND, key, {"user": openid, "text": text[:self.TEXT_CHARS], "at": _iso(now),
                                              "how": how}, index={"user": openid}, ttl=self.TTL)

    async def for_user(self, openid: str, since: str = "") -> list[dict[str, Any]]:
        """The guardian's messages, oldest first, from the ISO time `since` on."""
        rows = [r.data for _, r in await self.store.query(self.KIND, user=openid)]
        return sorted((m for m in rows if m["at"] >= since), key=lambda m: m["at"])


def _message(sender: str, text: str, now: dt.datetime) -> dict[str, Any]:
    return {"from": sender, "text": text[:HANDOFF_MESSAGE_CHARS], "at": _iso(now)}


def encrypt_fields(data: Any, cipher: FieldCipher) -> Any:
    """A copy of `data` with every SECRET_FIELDS value encrypted (already encrypted ones kept)."""
    return _map_secrets(data, lambda v: v if v.startswith(FieldCipher.PREFIX) else cipher.encrypt(v))


def decrypt_fields(data: Any, cipher: FieldCipher) -> Any:
    return _map_secrets(data, lambda v: cipher.decrypt(v) if v.startswith(FieldCipher.PREFIX) else v)


def _map_secrets(node: Any, fn) -> Any:
    """Copy JSON-like data in one walk, passing secret string fields through `fn` (no deepcopy).
    Runs twice per message over the whole session, so leaves are handled inline, not by a call each."""
    if type(node) is dict:
        out = {}
        for key, value in node.items():
            kind = type(value)
            if kind is str:
                out[key] = fn(value) if value and key in SECRET_FIELDS else value
            elif kind is dict or kind is list:
                out[key] = _map_secrets(value, fn)
            else:
                out[key] = value
        return out
    if type(node) is list:
        return [_map_secrets(item, fn) if type(item) in (dict, list) else item for item in node]
    return node


class Roster:
    """Schools' uploaded rosters (在籍在册 lists). The Shanghai fund only accepts children whose
    school has uploaded them; pre-review and the dialog's roster check look children up here."""

    KIND = "roster"
    SCHOOLS_KIND = "roster_school"
    WRITE_CHUNK = 100  # roster rows per store transaction: other guardians' writes get in between

    def __init__(self, store: Store, cipher: FieldCipher) -> None:
        self.store, self.cipher = store, cipher

    async def replace_school(self, school_code: str, school_name: str, entries: list[dict[str, Any]],
                             now: dt.datetime) -> int:
        """Store a school's roster (entries: name, id_number, class_name). Returns the count stored.
        Earlier entries of the school that are not in the new file are removed."""
        old = {key for key, _ in await self.store.query(self.KIND, school_code=school_code)}
        # An HMAC and an AES operation per child: tens of thousands of them would hold up every guardian
        # on the event loop, so they run on a thread, and the rows are written a chunk per transaction.
        items = await asyncio.to_thread(self._sealed_entries, school_code, school_name, entries, now)
        for start in range(0, len(items), self.WRITE_CHUNK):
            await self.store.put_many(self.KIND, items[start:start + self.WRITE_CHUNK])
            await asyncio.sleep(0)  # an embedded store's write does not yield by itself: let guardians in
        old.difference_update(key for key, _data, _index in items)
        for key in old:
            await self.store.delete(self.KIND, key)
        await self.store.put(self.SCHOOLS_KIND, school_code, {"school_code": school_code, "school_name": school_name,
                                                              "count": len(items), "imported_at": _iso(now)})
        return len(items)

    def _sealed_entries(self, school_code: str, school_name: str, entries: list[dict[str, Any]],
                        now: dt.datetime) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
        items = []
        for entry in entries:
            id_hash = self.cipher.blind(entry["id_number"])
            data = encrypt_fields({**entry, "school_code": school_code, "school_name": school_name,
                                   "imported_at": _iso(now)}, self.cipher)
            items.append((f"{school_code}:{id_hash}", data, {"school_code": school_code, "id_hash": id_hash}))
        # In key order, each chunk's rows sit next to each other in the table's B-tree: a chunk then
        # rewrites a few pages instead of one per row (the keys are hashes, in random order otherwise).
        return sorted(items, key=lambda item: item[0])

    async def lookup(self, id_number: str) -> list[dict[str, Any]]:
        """Roster entries (any school) for this ID number, decrypted."""
        rows = await self.store.query(self.KIND, id_hash=self.cipher.blind(id_number))
        return [decrypt_fields(r.data, self.cipher) for _, r in rows]

    async def school(self, school_code: str) -> dict[str, Any] | None:
        rec = await self.store.get(self.SCHOOLS_KIND, school_code)
        return rec.data if rec else None

    async def schools(self) -> list[dict[str, Any]]:
        return [r.data for _, r in await self.store.query(self.SCHOOLS_KIND)]
