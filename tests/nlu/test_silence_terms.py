"""A pack is said to be silent on a thing asked by name (支付宝, 到账…) only when its seed really never names it.
The five seeds are kept in this repository, under tests/fixtures/seeds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "seeds"


def seed_text(engine, scheme: str) -> str:
    return re.sub(r"\s+", "", (SEEDS / engine.pack(scheme).seed).read_text(encoding="utf-8")).lower()


def test_a_pack_is_silent_on_a_term_only_when_its_seed_never_names_it(engine, qa, nlu):
    terms = nlu.lexicon.silence_terms
    assert terms
    asked = " ".join(terms)
    for scheme in engine.scheme_ids:
        for term in qa.index.unsaid(scheme, asked, terms):
            assert term.lower() not in seed_text(engine, scheme), f"{scheme}: the seed names {term}"


@pytest.mark.parametrize("question, silent_on", [
    ("上海居民医保能用支付宝交吗", "支付宝"),
    ("北京一小报销多久到账", "到账"),
    # answers the rule engine computes (a window, a fee, a bill) say it too, also before a question back
    ("新生儿出生多久内要办理上海少儿住院基金", "新生儿"),
    ("孩子刚出生能参加少儿住院基金吗", "新生儿"),
    ("少儿住院基金错过了还能交吗", "补交"),
    ("北京一小孩子意外受伤住院能报多少", "意外"),
    ("上海居民医保打疫苗能报销吗", "疫苗"),
    ("上海医保能在外地用吗", "异地就医"),  # neither Shanghai guide speaks of care elsewhere
    ("少儿基金能用现金交吗", "现金"),
    ("Can I pay the Shanghai fund in cash?", "现金"),  # English: after the English lead, the seed's own lines
])
def test_the_answer_says_what_the_seed_does_not_say_before_the_related_lines(qa, now, question, silent_on):
    lines = qa.answer(question, {}, now).text.splitlines()
    said = [i for i, line in enumerate(lines) if f"的材料里没有提到“{silent_on}”" in line]
    shown = [i for i, line in enumerate(lines) if line.startswith(("【", "·"))] or [len(lines)]
    assert said and said[0] < shown[0], lines  # said before any of the seed's lines (after an English lead)


def test_a_pack_that_names_the_term_is_not_called_silent(qa, now):
    reply = qa.answer("宁波医保能用支付宝交吗", {}, now).text
    assert "没有提到" not in reply and "支付宝" in reply


def test_a_figure_still_follows_the_silence_note(qa, now):
    reply = qa.answer("新生儿上海居民医保交多少钱", {}, now).text
    first, rest = reply.split("\n", 1)
    assert "没有提到“新生儿”" in first and "180元" in rest


def test_a_pack_whose_seed_shows_care_elsewhere_is_not_called_silent_on_it(qa, now):
    reply = qa.answer("宣城合工大医保外地看病能报吗", {}, now).text
    assert "没有提到“异地就医”" not in reply and "异地就医" in reply
