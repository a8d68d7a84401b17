"""School roster (在籍在册名单) upload: CSV or XLSX, validated row by row before anything is stored.

Columns (header names in Chinese or English, any order): 姓名/name, 身份证号/id_number, 班级/class_name,
学校代码/school_code, optional 学校名称/school_name. Every bad row is reported with its line number and
reason; ID numbers in the report are masked. A file with bad rows imports nothing, unless the clerk
explicitly asks to import the good rows (`import_good_rows=True`). Each school in the file replaces
that school's earlier roster (`Roster.replace_school`).
"""
from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bot.privacy import mask_id
from bot.store.repos import Roster
from dialogs.validators import ValidationError, check_id_number, check_name, normalize, normalize_id_number

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
# Lines read, blank ones included: an XLSX row numbered 2 000 000 makes the reader produce every blank
# row before it, and blank rows do not count towards MAX_ROWS.
MAX_LINES = 2 * MAX_ROWS
MAX_COLUMNS = 30  # cells read per row: a forged sheet dimension would pad every row to 16 384
MAX_UNCOMPRESSED = 64 * 1024 * 1024  # an XLSX is a zip: a 125 KB file can hold millions of rows
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "学生姓名", "name"),
    "id_number": ("身份证号", "身份证号码", "证件号码", "id_number", "id"),
    "class_name": ("班级", "class_name", "class"),
    "school_code": ("学校代码", "学校编码", "school_code"),
    "school_name": ("学校名称", "school_name"),
}
REQUIRED = ("name", "id_number", "class_name", "school_code")
LABELS = {"name": "姓名", "id_number": "身份证号", "class_name": "班级", "school_code": "学校代码", "school_name": "学校名称"}


class RosterFileError(ValueError):
    """The file as a whole cannot be read (format, header, size); the message is Chinese."""


@dataclass(frozen=True)
class RowProblem:
    line: int  # line of a CSV file / row of the worksheet, header = 1
    field: str  # column key ("" for the whole row)
    reason: str  # Chinese
    value: str = ""  # what the cell held, masked when it is an ID number


@dataclass
class RosterReport:
    filename: str
    rows: int = 0  # data rows read (blank lines skipped)
    good: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    imported: int = 0  # rows stored
    schools: dict[str, int] = field(default_factory=dict)  # school code → rows stored
    file_error: str = ""

    @property
    def ok(self) -> bool:
        return not self.file_error and not self.problems

    @property
    def bad_lines(self) -> int:
        return len({p.line for p in self.problems})

    @property
    def message(self) -> str:
        if self.file_error:
            return f"文件无法导入：{self.file_error}"
        if self.ok:
            return f"导入成功：共{self.rows}行，已导入{self.imported}名学生（{len(self.schools)}所学校）。"
        if self.imported:
            return (f"共{self.rows}行，其中{self.bad_lines}行有问题未导入；已按您的要求导入其余{self.imported}名学生。"
                    "请修正有问题的行后重新上传（重新上传会替换该校名单）。")
        return (f"共{self.rows}行，其中{self.bad_lines}行有问题，本次没有导入任何数据。"
                "请修正后重新上传，或勾选“只导入无误的行”。")

    def to_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "ok": self.ok, "rows": self.rows, "good": self.good,
                "bad_lines": self.bad_lines, "imported": self.imported, "schools": self.schools,
                "message": self.message, "problems": [asdict(p) for p in self.problems]}


async def import_roster(roster: Roster, data: bytes, filename: str, now: dt.datetime, *,
                        schools: Mapping[str, str] | None = None, import_good_rows: bool = False) -> RosterReport:
    """Validate and (when clean, or when asked to) store a roster file. Never raises on bad input."""
    report = RosterReport(filename=filename)
    try:
        # Reading and checking 50 000 rows takes seconds of CPU: on a thread, so guardians are still answered.
        rows, (entries, report.problems) = await asyncio.to_thread(_read_and_validate, data, filename, schools,
                                                                   now.date())
    except RosterFileError as exc:
        report.file_error = str(exc)
        return report
    report.rows, report.good = len(rows), len(entries)
    if report.problems and not import_good_rows:
        return report
    by_school: dict[str, list[dict[str, str]]] = {}
    for entry in entries:
        by_school.setdefault(entry["school_code"], []).append(entry)
    for code, group in sorted(by_school.items()):
        name = next((e["school_name"] for e in group if e.get("school_name")), "") or (schools or {}).get(code, "")
        stored = [{k: e[k] for k in ("name", "id_number", "class_name")} for e in group]
        report.schools[code] = await roster.replace_school(code, name, stored, now)
    report.imported = sum(report.schools.values())
    return report


def _read_and_validate(data: bytes, filename: str, schools: Mapping[str, str] | None, today: dt.date):
    rows = read_rows(data, filename)
    return rows, validate_rows(rows, schools=schools, today=today)


def school_names(policies_dir: Path) -> dict[str, str] | None:
    """The school directory (code → name) roster codes are checked against; None when there is none."""
    try:
        from dialogs.schools import SchoolDirectory

        directory = SchoolDirectory.load(Path(policies_dir) / "schools" / "shanghai.csv")
    except Exception:  # noqa: BLE001 - an unreadable directory: import without the code check
        return None
    names = {s.code: s.name for d in directory.districts() for s in directory.in_district(d)}
    return names or None


def read_rows(data: bytes, filename: str) -> list[tuple[int, dict[str, str]]]:
    """(line, {column key: text}) for every non-blank data row. Rows are read one at a time and reading
    stops at the limits, so a file's size on disk says how long it can take."""
    if not data:
        raise RosterFileError("文件是空的。")
    if len(data) > MAX_BYTES:
        raise RosterFileError(f"文件太大（超过{MAX_BYTES // 1024 // 1024}MB），请按学校拆分后上传。")
    lower = (filename or "").lower()
    if lower.endswith(".xlsx") or data[:2] == b"PK":
        lines = _xlsx_lines(data)
    elif lower.endswith((".csv", ".txt")) or not lower:
        lines = _csv_lines(data)
    else:
        raise RosterFileError("只支持 CSV 或 Excel（.xlsx）文件。")
    too_many = RosterFileError(f"行数超过{MAX_ROWS}行，请按学校拆分后上传。")
    columns: dict[str, int] | None = None
    rows = []
    for count, (line, cells) in enumerate(lines, start=1):
        if count > MAX_LINES:
            raise too_many
        if columns is None:
            columns = _map_header(cells)
            continue
        if not any(str(c or "").strip() for c in cells):
            continue
        rows.append((line, {key: _cell_text(cells[i]) if i < len(cells) else "" for key, i in columns.items()}))
        if len(rows) > MAX_ROWS:
            raise too_many
    if columns is None:
        raise RosterFileError("文件里没有内容。")
    return rows


def validate_rows(rows: list[tuple[int, dict[str, str]]], *, schools: Mapping[str, str] | None = None,
                  today: dt.date | None = None) -> tuple[list[dict[str, str]], list[RowProblem]]:
    """The good entries (normalised) and a problem for every bad cell, in line order."""
    good: list[dict[str, str]] = []
    problems: list[RowProblem] = []
    first_line: dict[str, int] = {}  # normalised ID number → line it first appeared on
    for line, row in rows:
        row_problems = [RowProblem(line, key, f"缺少{LABELS[key]}") for key in REQUIRED if not row.get(key, "").strip()]
        entry = {key: normalize(row.get(key, "")) for key in COLUMNS}
        if entry["name"]:
            try:
                entry["name"] = check_name(entry["name"])
            except ValidationError as exc:
                row_problems.append(RowProblem(line, "name", exc.message, entry["name"][:30]))
        if entry["id_number"]:
            row_problems += _check_id(line, entry, first_line, today)
        if entry["school_code"] and schools is not None and entry["school_code"] not in schools:
            row_problems.append(RowProblem(line, "school_code", "学校代码不在学校名录中", entry["school_code"][:20]))
        if len(entry["class_name"]) > 30:
            row_problems.append(RowProblem(line, "class_name", "班级名称太长（最多30个字）", entry["class_name"][:30]))
        problems += row_problems
        if not row_problems:
            good.append(entry)
    return good, problems


def _check_id(line: int, entry: dict[str, str], first_line: dict[str, int], today: dt.date | None) -> list[RowProblem]:
    raw = entry["id_number"]
    if raw.startswith("!"):  # marker left by _cell_text for numbers Excel stored as floats
        return [RowProblem(line, "id_number", "身份证号被Excel存成了数字，末几位已丢失；请把该列设为“文本”后重新录入",
                           mask_id(raw[1:]))]
    number = normalize_id_number(raw)
    try:
        check_id_number(number, today=today)
    except ValidationError as exc:
        reason = re.sub(r"[，,]?请[^，。]*重新输入。?$", "", exc.message)  # the guardian-facing advice
        return [RowProblem(line, "id_number", reason, mask_id(number))]
    entry["id_number"] = number
    if number in first_line:
        return [RowProblem(line, "id_number", f"与第{first_line[number]}行的身份证号重复", mask_id(number))]
    first_line[number] = line
    return []


def _map_header(header: list[Any]) -> dict[str, int]:
    names = [normalize(str(h or "")).replace(" ", "").lower() for h in header]
    columns: dict[str, int] = {}
    for key, aliases in COLUMNS.items():
        for alias in aliases:
            if alias.lower() in names:
                columns[key] = names.index(alias.lower())
                break
    missing = [LABELS[k] for k in REQUIRED if k not in columns]
    if missing:
        raise RosterFileError(f"第一行表头缺少列：{'、'.join(missing)}（应包含 姓名、身份证号、班级、学校代码，可选 学校名称）。")
    return columns


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and len(str(value)) >= 15:
        return "!" + str(value)  # an ID number Excel turned into a number: precision is gone past 15 digits
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value).strip()


def _csv_lines(data: bytes) -> Iterator[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes almost anything
        raise RosterFileError("无法识别文件编码，请另存为 UTF-8 编码的 CSV。")
    if "\x00" in text:
        raise RosterFileError("这不是文本格式的 CSV 文件。")
    first = text.split("\n", 1)[0]
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise RosterFileError(f"CSV 格式错误（第{reader.line_num}行）：{exc}") from None


def _xlsx_lines(data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook

    _check_unpacked_size(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise RosterFileError("无法打开这个 Excel 文件，请确认是 .xlsx 格式（不支持旧版 .xls）。") from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the file's own <dimension> may claim 16 384 columns
        try:
            for n, row in enumerate(sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS), start=1):
                yield n, list(row)
        except RosterFileError:
            raise
        except Exception:  # noqa: BLE001 - a damaged sheet part
            raise RosterFileError("Excel 文件内容已损坏，请重新保存后上传。") from None
    finally:
        book.close()


def _check_unpacked_size(data: bytes) -> None:
    """Refuse an XLSX whose parts unpack to more than MAX_UNCOMPRESSED (zipfile never reads a part past
    the size its directory declares, so the declared sizes bound the work)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError):
        raise RosterFileError("无法打开这个 Excel 文件，请确认是 .xlsx 格式（不支持旧版 .xls）。") from None
    if unpacked > MAX_UNCOMPRESSED:
        raise RosterFileError(f"Excel 文件解压后超过{MAX_UNCOMPRESSED // 1024 // 1024}MB，请按学校拆分后上传。")
