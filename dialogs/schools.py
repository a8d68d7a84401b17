"""The school directory (`policies/schools/<city>.csv`): look-up by code, by district, fuzzy by name.

The CSV format is documented in `policies/schools/README.md`; `import_csv` checks an operator's
file and installs it as the directory the dialogs read at start-up.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

COLUMNS = ("code", "name", "district", "stage")
SHANGHAI_DISTRICTS = (
    "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区",
    "宝山区", "嘉定区", "浦东新区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区",
)
DEFAULT_FILE = "shanghai.csv"
MIN_SCORE = 60  # below this a fuzzy match is noise ("小学" alone matches everything weakly)


@dataclass(frozen=True)
class School:
    code: str
    name: str
    district: str
    stage: str


class SchoolImportError(ValueError):
    """The CSV cannot be imported; the message lists the problems line by line (Chinese)."""


class SchoolDirectory:
    def __init__(self, schools: list[School]) -> None:
        self._schools = list(schools)
        self._by_code = {s.code: s for s in self._schools}
        self._names = [s.name for s in self._schools]

    @classmethod
    def load(cls, path: Path) -> "SchoolDirectory":
        if not Path(path).exists():
            return cls([])
        schools, _errors = parse_csv(_read_text(Path(path)))
        return cls(schools)

    def __len__(self) -> int:
        return len(self._schools)

    def get(self, code: str) -> School | None:
        return self._by_code.get(str(code or "").strip())

    def districts(self) -> list[str]:
        present = {s.district for s in self._schools}
        ordered = [d for d in SHANGHAI_DISTRICTS if d in present]
        return ordered + sorted(present - set(ordered))

    def in_district(self, district: str) -> list[School]:
        return [s for s in self._schools if s.district == district]

    def search(self, query: str, district: str | None = None, limit: int = 5) -> list[School]:
        """Best fuzzy matches of a (partial, misspelt) school name, optionally within a district."""
        query = (query or "").strip()
        if not query:
            return []
        exact = [s for s in self._schools if s.name == query and (not district or s.district == district)]
        if exact:
            return exact
        pool = [s for s in self._schools if not district or s.district == district]
        contains = [s for s in pool if query in s.name]
        if contains:
            return sorted(contains, key=lambda s: len(s.name))[:limit]
        names = [s.name for s in pool]
        hits = process.extract(query, names, scorer=fuzz.WRatio, limit=limit, score_cutoff=MIN_SCORE)
        return [pool[index] for _name, _score, index in hits]


# GB/T 2260 area codes of Shanghai's districts (first six digits of an ID number), merged ones included.
_REGION_DISTRICTS = {
    "310101": "黄浦区", "310103": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区",
    "310107": "普陀区", "310108": "静安区", "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区",
    "310113": "宝山区", "310114": "嘉定区", "310115": "浦东新区", "310119": "浦东新区", "310116": "金山区",
    "310117": "松江区", "310118": "青浦区", "310120": "奉贤区", "310151": "崇明区", "310230": "崇明区",
}


def district_of_region(code: str) -> str | None:
    """The Shanghai district of an ID number's area code ("310106" → 静安区), None elsewhere."""
    return _REGION_DISTRICTS.get((code or "")[:6])


def district_in(text: str) -> str | None:
    """The first Shanghai district named in a text ("静安区联航路4号", "浦东张江…" → 浦东新区)."""
    text = text or ""
    found = []
    for district in SHANGHAI_DISTRICTS:
        short = district[:-2] if district.endswith("新区") else district[:-1]
        at = text.find(district)
        at = at if at >= 0 else text.find(short)
        if at >= 0:
            found.append((at, district))
    return min(found)[1] if found else None


def district_of(text: str) -> str | None:
    """"浦东" → 浦东新区, "静安" → 静安区 (exact full names also accepted)."""
    text = (text or "").strip()
    if not text:
        return None
    for district in SHANGHAI_DISTRICTS:
        short = district[:-2] if district.endswith("新区") else district[:-1]
        if text in (district, short) or text == f"上海市{district}":
            return district
    return None


def parse_csv(text: str) -> tuple[list[School], list[str]]:
    """Schools and Chinese error lines ("第3行：…") of a directory CSV."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [f"表头缺少列：{'、'.join(missing)}（应为 {','.join(COLUMNS)}）"]
    schools: list[School] = []
    errors: list[str] = []
    seen: set[str] = set()
    for line_no, row in enumerate(reader, start=2):
        code, name, district, stage = ((row.get(c) or "").strip() for c in COLUMNS)
        if not any((code, name, district, stage)):
            continue
        if not code or not name:
            errors.append(f"第{line_no}行：学校代码和名称不能为空")
        elif code in seen:
            errors.append(f"第{line_no}行：学校代码 {code} 重复")
        elif district not in SHANGHAI_DISTRICTS:
            errors.append(f"第{line_no}行：区“{district}”不是上海的16个区之一")
        else:
            seen.add(code)
            schools.append(School(code, name, district, stage))
    return schools, errors


def import_csv(path: Path | str, target: Path | str | None = None) -> int:
    """Check an operator's school CSV (UTF-8 or GBK, as Excel saves it) and install it as
    `target` (default `policies/schools/shanghai.csv`). Returns the number of schools imported;
    raises SchoolImportError listing every bad line, leaving the current directory untouched."""
    source = Path(path)
    if target is None:
        target = Path(__file__).resolve().parent.parent / "policies" / "schools" / DEFAULT_FILE
    target = Path(target)
    schools, errors = parse_csv(_read_text(source))
    if errors:
        raise SchoolImportError("学校名录有误，未导入：\n" + "\n".join(errors))
    if not schools:
        raise SchoolImportError("学校名录是空的，未导入。")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for school in schools:
        writer.writerow((school.code, school.name, school.district, school.stage))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(buffer.getvalue())
    os.replace(tmp, target)  # atomic: a running bot never reads a half-written file
    return len(schools)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise SchoolImportError("无法识别文件编码，请另存为 UTF-8 编码的 CSV。")
