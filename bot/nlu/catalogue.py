"""The intent catalogue in policies/nlu/intents.yaml."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.yamlio import load_yaml


@dataclass
class Intent:
    name: str
    title: str
    keywords: dict[str, float]
    examples: list[str]
    topics: list[str] = field(default_factory=list)  # engine.procedure topics, main first
    # Filled by the matcher: feature sets of each example.
    example_features: list[frozenset[str]] = field(default_factory=list)


@dataclass
class Catalogue:
    intents: dict[str, Intent]
    fallback_menu: list[str]

    @classmethod
    def load(cls, path: Path) -> "Catalogue":
        raw = load_yaml(path) or {}
        intents: dict[str, Intent] = {}
        for name, spec in (raw.get("intents") or {}).items():
            spec = spec or {}
            intents[name] = Intent(
                name=name,
                title=str(spec.get("title") or name),
                keywords={str(k).lower(): float(v) for k, v in (spec.get("keywords") or {}).items()},
                examples=[str(e) for e in spec.get("examples") or []],
                topics=[str(t) for t in spec.get("topics") or []],
            )
        menu = [m for m in raw.get("fallback_menu") or [] if m in intents]
        return cls(intents=intents, fallback_menu=menu)

    def title(self, name: str) -> str:
        intent = self.intents.get(name)
        return intent.title if intent else name
