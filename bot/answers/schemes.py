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
                 guess: Callable[[str], str | None] | None = None,
                 own_words: Callable[[str], str | None] | None = None) -> None:
        """`guess(text)` names a scheme from the question's content alone, or None; `own_words(text)` only
        from domain words a single pack uses (what a figure may rest on)."""
        self.engine = engine
        self.guess = guess
        self.own_words = own_words or guess
        self.weak: set[str] = set()  # preference words too general to decide a figure
        self.preference = preference  # scheme id → words favouring it within its city
        self.by_city: dict[str, list[str]] = {}
        for scheme_id in engine.scheme_ids:
            self.by_city.setdefault(engine.pack(scheme_id).city, []).append(scheme_id)

    def city_of(self, scheme_id: str) -> str:
        return self.engine.pack(scheme_id).city

    def choose(self, slots: dict[str, Any], state: dict[str, Any], text: str,
               capable: Callable[[Any], bool] | None = None, figure: bool = False,
               fits: Callable[[str], bool] | None = None, own_words_text: str | None = None) -> SchemeChoice:
        """`capable(pack)` says whether a scheme can answer this kind of question at all; `figure`: the
        answer carries a figure (fee, reimbursement, deadline), so a scheme is never guessed from the
        wording alone: the schemes the question's cues leave (`fits(scheme)`: the facts said do not rule
        the child out) are asked about with numbered choices unless one is left."""
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
        if not candidates and figure:
            left = [s for s in known if (capable is None or capable(self.engine.pack(s))) and (fits is None or fits(s))]
            if len(left) == 1:
                return SchemeChoice(left[0])  # the only scheme the question's cues leave (a 三级医院 bill…)
            # "预审", "京卡": words only one pack uses, outside the words of what is asked ("一年交多少")
            own_words = self.own_words(own_words_text if own_words_text is not None else text) if self.own_words else None
            if own_words in known and (fits is None or fits(own_words)):
                return SchemeChoice(own_words, guessed=True)
            return self._ask(sorted(left or known, key=self._order))
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
        if fits and figure:
            fitting = [s for s in candidates if fits(s)]
            if len(fitting) == 1:
                return SchemeChoice(fitting[0])
            candidates = fitting or candidates
        weak = self.weak if figure else set()  # "上海孩子医保一年多少钱": 医保 is no reason to pick one for a figure
        scores = {s: sum(1 for w in self.preference.get(s, []) if w in text and w not in weak) for s in candidates}
        top = max(scores.values())
        leaders = [s for s, v in scores.items() if v == top]
        one_city = len({self.city_of(s) for s in candidates}) == 1  # the words pick within a city, not across cities
        if top > 0 and len(leaders) == 1 and one_city:
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
