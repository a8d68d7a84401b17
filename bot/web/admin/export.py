"""Tables staff download (CSV for any tool, XLSX for Excel), safe to open in a spreadsheet.

A cell that starts with = + - @ (or a tab or carriage return) would be run as a formula by Excel or
WPS — a guardian could type `=HYPERLINK(...)` as a child's name. Such cells are written with a leading
apostrophe, so the sheet shows them as text (OWASP "CSV injection").
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    writer.writerows([neutralise(v) for v in row] for row in rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "申请") -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])

    def cells(values: Iterable[Any]) -> list[Any]:
        out = []
        for value in values:
            cell = WriteOnlyCell(sheet, value=neutralise(value))
            cell.data_type = "s"  # always text: openpyxl would otherwise store "=..." as a formula
            out.append(cell)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
