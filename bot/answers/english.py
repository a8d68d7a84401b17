"""The parts of a reply the bot owns, in English for a guardian who wrote English: the verdict (yes/no),
the figure with its year, the scheme's name, the question back. The seed's own lines follow in Chinese,
quoted as they are (the bot does not translate policy text)."""
from __future__ import annotations

from typing import Any

from bot.answers.format import money

QUOTED = "Details, as the scheme's material says (in Chinese):"
KIND = {"inpatient": "hospital stay", "outpatient": "outpatient bill"}
# The Chinese reply's first words → its yes/no in English ("不可以。" before "可以。": the longer first).
VERDICTS = {
    "eligibility": (("可以参加", "Yes, the child can join the {name}."),
                    ("按规定不能", "No, the child cannot join the {name}.")),
    "deadline": (("不可以。", "No, {name} is not open then; the next date is below."),
                 ("可以。", "Yes, {name} is open for it then.")),
}
NO_REFUND = ("不予退回", "不接受退保", "不退")
NEEDS = {
    "amount": "How much was the bill (yuan)?",
    "hospital_level": "Which level of hospital was it (level 1, 2 or 3)?",
    "kind": "Was it a hospital stay (住院) or an outpatient visit (门诊)?",
    "years_insured": "How many years has the child been insured without a break?",
    "age": "How old is the child?",
    "hukou_city": "In which city is the child's hukou registered?",
    "scheme": "Which scheme do you mean? Reply with the number:",
}


def scheme_name(names: dict[str, str], pack: Any) -> str:
    return names.get(pack.id) or pack.short_name


def lead(intent: str, pack: Any, names: dict[str, str], facts: dict[str, Any], engine: Any, today, text: str,
         need: list[str] | None = None, figure: Any = None) -> str:
    """One or two English sentences that open the reply; "" when the bot owns no part worth saying."""
    name = scheme_name(names, pack)
    if need:
        ask = NEEDS.get(need[0], "I need one more detail (question below, in Chinese).")
        return f"{name}: {ask}"
    if intent == "fee":
        result = engine.fee(pack.id, facts, today)
        year = f", {result.year} standard" if result.year else ""
        if result.exempt:
            return f"{name}{year}: exempt from the personal fee."
        amount = figure if figure is not None else result.amount  # the tier the Chinese answer chose
        if amount is not None:
            period = "school year" if ((pack.raw or {}).get("fees") or {}).get("period_name") == "学年" else "year"
            return f"{name}{year}: the personal fee is {money(amount)} yuan a {period}."
        tiers = "; ".join(f"{t.name} {money(t.amount)} yuan" for t in result.tiers)
        return f"{name}{year}: the fee depends on the child — {tiers}." if tiers else ""
    if intent == "reimbursement":
        claim = {k: facts[k] for k in ("kind", "hospital_level", "amount", "years_insured", "condition",
                                       "costs_this_year") if k in facts}
        claim["on"] = today.isoformat()
        result = engine.reimbursement(pack.id, claim)
        if result.status == "ok":
            year = f", {result.standard_year} standard" if result.standard_year else ""
            bill = facts.get("amount")
            rest = f"; you pay about {money(bill - result.amount)} yuan" if isinstance(bill, (int, float)) else ""
            return (f"{name}{year}: the fund pays about {money(result.amount)} yuan of a {money(bill)} yuan "
                    f"{KIND.get(claim.get('kind'), 'bill')}{rest}.")
        if result.status == "not_covered":
            if "没有写明" in text or "未写明" in text:
                return f"{name}: the material does not state this (see below); ask the scheme's office."
            return f"No, {name} does not reimburse this case (the rule below)."
        return ""
    for starts, said in VERDICTS.get(intent, ()):
        if text.startswith(starts):
            return said.format(name=name)
    if intent == "deadline":
        return f"{name}: dates below."
    if intent == "refund" and any(w in text for w in NO_REFUND):
        return f"No, {name}: paid fees are not refunded (the material's words below)."
    return f"{name}:"


def scheme_question(names: dict[str, str], packs: list[Any]) -> str:
    listed = "\n".join(f"{i}. {scheme_name(names, p)}" for i, p in enumerate(packs, 1))
    return f"{NEEDS['scheme']}\n{listed}"
