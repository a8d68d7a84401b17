"""Roster upload: CSV and XLSX, good and bad files, row-level report, explicit partial import."""
from __future__ import annotations

import datetime as dt
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from bot.roster_import import import_roster, read_rows, RosterFileError
from dialogs.validators import generate_id_number

SCHOOLS = {"3101010001": "黄浦区北京东路小学", "3101010002": "黄浦区瑞金二路幼儿园"}
HEADER = ["姓名", "身份证号", "班级", "学校代码", "学校名称"]


def ids(n: int) -> list[str]:
    return [generate_id_number(dt.date(2015, 1, 1) + dt.timedelta(days=i), "男" if i % 2 else "女", seq=i)
            for i in range(n)]


def csv_bytes(rows: list[list[str]], header=HEADER, encoding="utf-8-sig") -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_bytes(rows: list[list[object]], header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def bad_check_digit(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def good_rows(n: int, school: str = "3101010001") -> list[list[str]]:
    return [[f"张小{'一二三四五六七八九十'[i % 10]}", number, f"一年级{i % 3 + 1}班", school, SCHOOLS[school]]
            for i, number in enumerate(ids(n))]


async def test_good_csv_is_imported_and_looked_up(services, now):
    rows = good_rows(5) + [[r[0], r[1], r[2], "3101010002", ""] for r in good_rows(7)[5:]]
    report = await import_roster(services.roster, csv_bytes(rows), "名单.csv", now, schools=SCHOOLS)
    assert report.ok and report.imported == 7 and report.schools == {"3101010001": 5, "3101010002": 2}
    found = await services.roster.lookup(rows[0][1])
    assert found[0]["name"] == rows[0][0] and found[0]["school_code"] == "3101010001"
    school = await services.roster.school("3101010002")
    assert school["school_name"] == SCHOOLS["3101010002"] and school["count"] == 2  # name from the directory


async def test_bad_csv_reports_every_bad_row_and_imports_nothing(services, now):
    rows = good_rows(6)
    numbers = [r[1] for r in rows]
    rows[1][1] = bad_check_digit(numbers[1])  # line 3
    rows[2][1] = numbers[2][:-1]  # line 4: 17 characters
    rows[3][1] = numbers[0]  # line 5: duplicate of line 2
    rows[4][2] = ""  # line 6: no class
    rows[5][3] = "9999999999"  # line 7: unknown school
    report = await import_roster(services.roster, csv_bytes(rows), "roster.csv", now, schools=SCHOOLS)
    assert not report.ok and report.imported == 0 and report.good == 1
    by_line = {p.line: p for p in report.problems}
    assert sorted(by_line) == [3, 4, 5, 6, 7]
    assert "校验位" in by_line[3].reason
    assert "18位" in by_line[4].reason
    assert "重复" in by_line[5].reason and "第2行" in by_line[5].reason
    assert by_line[6].reason == "缺少班级"
    assert "学校名录" in by_line[7].reason
    assert "没有导入任何数据" in report.message
    for problem in report.problems:  # no full ID number in the report
        assert all(n not in str(report.to_dict()) for n in numbers)
    assert await services.roster.lookup(numbers[0]) == []


async def test_import_good_rows_on_request(services, now):
    rows = good_rows(4)
    rows[2][1] = bad_check_digit(rows[2][1])
    report = await import_roster(services.roster, csv_bytes(rows), "roster.csv", now, schools=SCHOOLS,
                                 import_good_rows=True)
    assert report.imported == 3 and [p.line for p in report.problems] == [4]
    assert "已按您的要求导入其余3名" in report.message
    assert len(await services.roster.lookup(rows[0][1])) == 1


async def test_xlsx_good_and_bad(services, now):
    rows = good_rows(3)
    report = await import_roster(services.roster, xlsx_bytes(rows), "名单.xlsx", now)
    assert report.ok and report.imported == 3
    rows.append(["李四", int(ids(4)[3][:17] + "0") if ids(4)[3][-1] != "X" else 0, "二年级1班", "3101010001", ""])
    rows.append(["", ids(5)[4], "二年级1班", "3101010001", ""])
    report = await import_roster(services.roster, xlsx_bytes(rows), "名单.xlsx", now)
    assert [(p.line, p.field) for p in report.problems] == [(5, "id_number"), (6, "name")]
    assert "文本" in report.problems[0].reason and report.imported == 0


async def test_gbk_csv_english_header_and_tabs(services, now):
    rows = [[r[0], r[1], r[2], r[3]] for r in good_rows(2)]
    data = csv_bytes(rows, header=["name", "id_number", "class_name", "school_code"], encoding="gbk")
    assert (await import_roster(services.roster, data, "roster.csv", now)).imported == 2
    tabbed = "\n".join("\t".join(r) for r in [HEADER[:4]] + rows).encode()
    assert (await import_roster(services.roster, tabbed, "roster.txt", now)).imported == 2


@pytest.mark.parametrize("data,filename,needle", [
    (b"", "a.csv", "空"),
    ("姓名,班级\n张三,一班\n".encode(), "a.csv", "身份证号"),
    (b"PK\x03\x04garbage", "a.xlsx", "Excel"),
    (b"\x00\x01\x02", "a.csv", "CSV"),
    (b"x", "a.pdf", "只支持"),
])
async def test_unreadable_files_give_a_clear_error(services, now, data, filename, needle):
    report = await import_roster(services.roster, data, filename, now)
    assert not report.ok and needle in report.file_error and report.imported == 0
    with pytest.raises(RosterFileError):
        read_rows(data, filename)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=400),
                      st.lists(st.lists(st.text(max_size=20), max_size=6), max_size=8).map(
                          lambda rows: "\n".join(",".join(r) for r in [HEADER] + rows).encode("utf-8"))),
       filename=st.sampled_from(["a.csv", "a.xlsx", "a.txt", "", "a.pdf"]))
def test_any_upload_gives_a_report_never_an_exception(data, filename):
    from bot.roster_import import read_rows, validate_rows

    try:
        rows = read_rows(data, filename)
    except RosterFileError as exc:
        assert str(exc)
        return
    good, problems = validate_rows(rows, schools=SCHOOLS, today=dt.date(2026, 9, 1))
    assert len(good) + len({p.line for p in problems}) == len(rows)
