"""The JSON text of stored records: compact UTF-8 (what `json.dumps(..., ensure_ascii=False,
separators=(",", ":"))` writes), made by orjson — a C encoder, five times faster on a 3 KB session,
which every message reads once and writes once. Falls back to the standard library without it."""
from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; this keeps a bare install working
    orjson = None


def dumps(data: Any) -> str:
    if orjson is not None:
        try:
            return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # what orjson refuses (an int beyond 64 bits…) the standard encoder may take
            pass
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    return orjson.loads(text) if orjson is not None else json.loads(text)
