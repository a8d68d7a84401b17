"""What the question answerer hands back to the router."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Answer:
    text: str
    intent: str
    slots: dict[str, Any] = field(default_factory=dict)
    confident: bool = True
    scheme: str | None = None
