"""Issue 15 item 11: the production install asks for versions past the known CVEs reachable here, and
parses uploaded XLSX through defusedxml."""
from __future__ import annotations

import re
import tomllib

from bot.config import ROOT

FLOORS = {"aiohttp": (3, 12, 14), "cryptography": (44,), "defusedxml": (0, 7)}


def _floor(requirement: str) -> tuple[int, ...]:
    match = re.search(r">=\s*([0-9.]+)", requirement)
    assert match, f"{requirement!r} has no lower bound"
    return tuple(int(part) for part in match.group(1).split("."))


def test_production_dependencies_have_safe_floors():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    production = {re.split(r"[<>=!\[ ;]", r, maxsplit=1)[0].lower(): r for r in project["dependencies"]}
    for name, floor in FLOORS.items():
        assert name in production, f"{name} is not a production dependency"
        assert _floor(production[name]) >= floor, production[name]


def test_openpyxl_uses_defusedxml():
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML
