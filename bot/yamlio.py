"""YAML reading for every data file (policy packs, forms, intents): the C parser when PyYAML has it,
which makes start-up several times faster than the pure-Python SafeLoader, with the same safety."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str) -> Any:
    return yaml.load(text, Loader=SAFE_LOADER)


def load_yaml(path: Path | str) -> Any:
    return load_yaml_text(Path(path).read_text(encoding="utf-8"))
