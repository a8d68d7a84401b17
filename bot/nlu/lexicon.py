"""The domain vocabulary in policies/nlu/lexicon.yaml, plus scheme aliases from the rule engine."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bot.yamlio import load_yaml


@dataclass
class Lexicon:
    words: list[str]
    city_names: dict[str, str]  # surface word → city
    scheme_aliases: dict[str, set[str]]  # surface word → scheme ids it may name
    scheme_preference: dict[str, list[str]]  # scheme id → words that favour it within its city
    conditions: dict[str, str]  # surface word → condition id
    synonyms: dict[str, list[str]] = field(default_factory=dict)  # guardian's word → document words
    colloquial: dict[str, str] = field(default_factory=dict)  # "咋" → "怎么", applied before matching
    traditional: dict[int, str] = field(default_factory=dict)  # str.translate table 報 → 报
    typo_targets: list[str] = field(default_factory=list)  # words a typo may be corrected into
    vocabulary: list[str] = field(default_factory=list)  # the `words` list itself: the schemes' own terms
    typo_excluded: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # whole-message commands (上一步, 取消…)
    generic_names: dict[str, dict[str, str]] = field(default_factory=dict)  # name → {city: scheme id}
    weak_preference: list[str] = field(default_factory=list)
    # Things a guardian asks about by name (支付宝, 到账, 发票…): a pack whose lines name neither the term nor a
    # synonym of it is silent on it, and the answer says so before showing the related lines.
    silence_terms: list[str] = field(default_factory=list)
    scheme_cities: dict[str, str] = field(default_factory=dict)  # scheme id → its city (from the packs)
    event_words: dict[str, str] = field(default_factory=dict)  # "预审通过" → the application's time field
    line_conditions: list[dict] = field(default_factory=list)  # pack lines the guardian's facts rule out

    @classmethod
    def load(cls, path: Path, engine_aliases: dict[str, list[str]] | None = None,
             scheme_cities: dict[str, str] | None = None) -> "Lexicon":
        raw = load_yaml(path) or {}
        city_names: dict[str, str] = {}
        for city, spec in (raw.get("cities") or {}).items():
            for word in [city, *(spec.get("names") or []), *(spec.get("districts") or [])]:
                city_names[str(word)] = city
        aliases: dict[str, set[str]] = {}
        for source in (raw.get("scheme_cues") or {}, engine_aliases or {}):
            for scheme_id, words in source.items():
                for word in words or []:
                    word = str(word).strip().lower()
                    if len(word) >= 2:  # one-character aliases would fire everywhere
                        aliases.setdefault(word, set()).add(scheme_id)
        for name, by_city in (raw.get("generic_names") or {}).items():
            aliases[str(name).lower()] = set((by_city or {}).values())  # the name alone: any of them
        conditions = {str(w): cond for cond, words in (raw.get("conditions") or {}).items() for w in words}
        words = [str(w) for w in raw.get("words") or []]
        vocabulary = list(words)
        words += [w for w in city_names if len(w) >= 2] + list(aliases) + list(conditions)
        return cls(
            words=sorted(set(words)),
            city_names=city_names,
            scheme_aliases=aliases,
            scheme_preference={k: [str(w).lower() for w in v] for k, v in (raw.get("scheme_preference") or {}).items()},
            conditions=conditions,
            synonyms={str(k): [str(w) for w in v or []] for k, v in (raw.get("synonyms") or {}).items()},
            colloquial={str(k): str(v) for k, v in (raw.get("colloquial") or {}).items()},
            traditional={ord(str(k)): str(v) for k, v in (raw.get("traditional") or {}).items() if len(str(k)) == 1},
            vocabulary=vocabulary,
            typo_targets=sorted(set(words) | {str(w) for w in raw.get("typo_targets") or []}
                                | {str(w) for w in raw.get("commands") or []}),
            typo_excluded=[str(w) for w in raw.get("typo_excluded") or []],
            commands=[str(w) for w in raw.get("commands") or []],
            generic_names={str(k): {str(c): str(i) for c, i in (v or {}).items()}
                           for k, v in (raw.get("generic_names") or {}).items()},
            weak_preference=[str(w) for w in raw.get("weak_preference") or []],
            silence_terms=[str(w) for w in raw.get("silence_terms") or []],
            event_words={str(k): str(v) for k, v in (raw.get("event_words") or {}).items()},
            line_conditions=[{"words": [str(w) for w in c.get("words") or []],
                              "contradicted_by": dict(c.get("contradicted_by") or {})}
                             for c in raw.get("line_conditions") or [] if isinstance(c, dict)],
            scheme_cities=_cities_of_schemes(raw.get("generic_names") or {}, scheme_cities or {}),
        )

    def standardise(self, text: str) -> str:
        """Simplified characters, colloquial words rewritten: keywords and slots see standard Chinese."""
        text = text.translate(self.traditional)
        if self._colloquial_words is None:
            return text
        return self._colloquial_words.sub(lambda m: self.colloquial[m.group()], text)

    @cached_property
    def _colloquial_words(self) -> re.Pattern | None:
        """All colloquial words in one pass, the longest first at each place: rewriting them one after
        another rewrote overlaps twice ("几多钱" → "几多少钱" → "多少少钱")."""
        if not self.colloquial:
            return None
        return re.compile("|".join(re.escape(w) for w in sorted(self.colloquial, key=len, reverse=True)))


def _cities_of_schemes(generic: dict, from_packs: dict[str, str]) -> dict[str, str]:
    """Each scheme's city: the packs' own word, else what the generic names say (tools without packs)."""
    cities = {str(sid): str(city) for by_city in generic.values() for city, sid in (by_city or {}).items()}
    return {**cities, **{str(k): str(v) for k, v in from_packs.items()}}
