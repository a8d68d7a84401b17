"""Issue 15 item 3: a roster file cannot freeze the bot. An XLSX whose rows are numbered into the millions
stops at the line limit instead of being read whole; an XLSX that unpacks past the cap is refused before
it is parsed; a forged sheet dimension does not pad rows; and the reading, checking and sealing of the
rows run on a thread, not on the event loop that answers guardians."""
from __future__ import annotations

import io
import re
import threading
import zipfile

import pytest
from openpyxl import Workbook

import bot.roster_import as roster_import
from bot.roster_import import MAX_LINES, RosterFileError, import_roster, read_rows
from tests.staff.conftest import now, services  # noqa: F401 - fixtures
from tests.staff.test_roster_import import SCHOOLS, csv_bytes, good_rows, xlsx_bytes


def _sheet_with_a_far_row(row: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["姓名", "身份证号", "班级", "学校代码"])
    sheet.cell(row=row, column=1, value="张三")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_row_numbered_in_the_millions_stops_at_the_line_limit():
    data = _sheet_with_a_far_row(1_048_576)  # Excel's last row
    assert len(data) < 10_000  # small on disk: two rows, the blank ones between are implied
    with pytest.raises(RosterFileError, match="行数超过"):
        read_rows(data, "big.xlsx")


def test_a_row_just_inside_the_line_limit_is_read():
    rows = read_rows(_sheet_with_a_far_row(MAX_LINES // 2), "far.xlsx")
    assert [line for line, _cells in rows] == [MAX_LINES // 2]


def test_an_xlsx_that_unpacks_past_the_cap_is_refused(monkeypatch):
    data = xlsx_bytes(good_rows(200))
    monkeypatch.setattr(roster_import, "MAX_UNCOMPRESSED", 20_000)
    with pytest.raises(RosterFileError, match="解压后"):
        read_rows(data, "roster.xlsx")


def test_a_forged_dimension_does_not_pad_rows():
    data = xlsx_bytes(good_rows(3))
    source, patched = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            part = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                part = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD4"', part)
                assert b"XFD4" in part
            out.writestr(info, part)
    rows = read_rows(patched.getvalue(), "roster.xlsx")
    assert len(rows) == 3 and all(len(cells) == 5 for _line, cells in rows)


async def test_reading_checking_and_sealing_run_off_the_event_loop(services, now, monkeypatch):  # noqa: F811
    loop_thread = threading.get_ident()
    seen: dict[str, int] = {}
    real_read, real_blind = roster_import.read_rows, services.cipher.blind

    def spy_read(*args, **kwargs):
        seen["read"] = threading.get_ident()
        return real_read(*args, **kwargs)

    def spy_blind(value):
        seen.setdefault("blind", threading.get_ident())
        return real_blind(value)

    monkeypatch.setattr(roster_import, "read_rows", spy_read)
    monkeypatch.setattr(services.cipher, "blind", spy_blind)
    report = await import_roster(services.roster, csv_bytes(good_rows(20)), "roster.csv", now, schools=SCHOOLS)
    assert report.ok and report.imported == 20
    assert seen["read"] != loop_thread and seen["blind"] != loop_thread


async def test_a_big_roster_is_written_in_chunks(services, now, monkeypatch):  # noqa: F811
    calls: list[int] = []
    real = services.store.put_many

    async def counting(kind, items):
        calls.append(len(items))
        await real(kind, items)

    monkeypatch.setattr(services.store, "put_many", counting)
    monkeypatch.setattr(type(services.roster), "WRITE_CHUNK", 7)
    report = await import_roster(services.roster, csv_bytes(good_rows(20)), "roster.csv", now, schools=SCHOOLS)
    assert report.imported == 20 and calls == [7, 7, 6]
    assert len(await services.roster.lookup(good_rows(20)[19][1])) == 1
