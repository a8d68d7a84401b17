"""Which scheme a question is about: named scheme, city, cues, the conversation so far — or ask."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from bot.answers.format import numbered

CITY_QUESTION = "请问是哪个地方、哪一项医保？请回复序号："


@dataclass
class SchemeChoice:
    scheme: str | None
    question: str = ""
    options: list[str] = field(default_factory=list)
    guessed: bool = False  # from the question's wording alone: no place named, nothing remembered


class SchemeChooser:
    def __init__(self, engine: Any, preference: dict[str, list[str]],
                 guess: Callable[[str], str | None] | None = None) -> None:
        """`guess(text)` names a scheme from the question's content alone, or None."""
        self.engine = engine
        self.guess = guess
        self.preference = preference  # scheme id → words favouring it within its city
        self.by_city: dict[str, list[str]] = {}
        for scheme_id in engine.scheme_ids:
            self.by_city.setdefault(engine.pack(scheme_id).city, []).append(scheme_id)

    def city_of(self, scheme_id: str) -> str:
        return self.engine.pack(scheme_id).city

    def choose(self, slots: dict[str, Any], state: dict[str, Any], text: str,
               capable: Callable[[Any], bool] | None = None) -> SchemeChoice:
        """`capable(pack)` says whether a scheme can answer this kind of question at all."""
        known = set(self.engine.scheme_ids)
        city = slots.get("city")
        candidates = [s for s in slots.get("scheme_candidates") or [] if s in known]
        if city:
            in_city = [s for s in candidates if self.city_of(s) == city]
            # "宁波城乡居民医保": the city wins over an alias another city's pack also uses — unless the
            # named scheme's own city is said too ("在北京上学能参加上海少儿住院互助基金吗").
            named_with_city = [s for s in candidates if self.city_of(s) and self.city_of(s) in text]
            candidates = in_city or named_with_city or list(self.by_city.get(city, []))
        if not candidates:
            remembered = state.get("scheme")
            if remembered in known and not city and (capable is None or capable(self.engine.pack(remembered))):
                return SchemeChoice(remembered)
            # e.g. the Shanghai fund has no benefit table: a bill question goes to the city's other scheme
            candidates = list(self.by_city.get(state.get("city") or "", []))
        if not candidates:
            guessed = self.guess(text) if self.guess else None
            if guessed in known:
                return SchemeChoice(guessed, guessed=True)
            return self._ask(sorted(known, key=self._order))
        if len(candidates) == 1:
            return SchemeChoice(candidates[0])
        if capable:
            able = [s for s in candidates if capable(self.engine.pack(s))]
            if len(able) == 1:
                return SchemeChoice(able[0])
            candidates = able or candidates
        scores = {s: sum(1 for w in self.preference.get(s, []) if w in text) for s in candidates}
        top = max(scores.values())
        leaders = [s for s, v in scores.items() if v == top]
        if top > 0 and len(leaders) == 1:
            return SchemeChoice(leaders[0])
        if state.get("scheme") in candidates:
            return SchemeChoice(state["scheme"])
        return self._ask(sorted(candidates, key=self._order))

    def _order(self, scheme_id: str) -> tuple[str, str]:
        return (self.city_of(scheme_id), scheme_id)

    def _ask(self, options: list[str]) -> SchemeChoice:
        names = [self.engine.pack(s).name for s in options]
        return SchemeChoice(None, f"{CITY_QUESTION}\n{numbered(names)}", options)

    def pick_option(self, text: str, options: list[str]) -> str | None:
        """A reply to the numbered scheme question: its number, or words from a scheme's name."""
        stripped = text.strip().strip("。.、 ")
        if stripped.isdigit() and 0 < int(stripped) <= len(options):
            return options[int(stripped) - 1]
        for scheme_id in options:
            pack = self.engine.pack(scheme_id)
            if any(n and n in text for n in [pack.short_name, pack.name, *pack.aliases]):
                return scheme_id
        return None
