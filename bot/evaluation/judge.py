"""Judging one reply against one case. Strict on purpose: a figure is a whole number ("150" is not in
"1500", "9月1" is not in "9月15"), a yes/no is the reply's first yes/no word ("不可以" is a no), and a
reply that lists every scheme's figures fails the cases whose `must_not` holds the other schemes'."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.evaluation.cases import Case

# WeChat refuses a text message over 2048 bytes (passive reply and customer-service message alike).
WECHAT_TEXT_LIMIT_BYTES = 2048
CRASH_TEXT = "系统出了点问题"  # the pipeline's reply when a turn raised (bot/pipeline.py)

RIGHT, MISS, WRONG_FIGURE, WRONG_CLAIM, ERROR = "right", "miss", "wrong_figure", "wrong_claim", "error"
SEVERITY = {RIGHT: 0, MISS: 1, WRONG_CLAIM: 2, WRONG_FIGURE: 3, ERROR: 4}

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SPACE = re.compile(r"\s+")
_NUMBERED = re.compile(r"(?:^|[\n：:；;，,。？?！!）)\s])\s*([1-9])\s*[.．、)）]")
_CIRCLED = "①②③④⑤⑥⑦⑧⑨"
_ASKS = ("？", "?", "请回复", "回复序号", "请选择", "请问", "想问", "哪", "which", "Which")
_NEGATORS = "不没未无非"
ANSWER_WINDOW = 100  # characters (whitespace removed) in which a yes/no answer must come
_AMOUNT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(万?)元")


@dataclass
class Verdict:
    status: str = RIGHT
    reasons: list[str] = field(default_factory=list)

    def fail(self, status: str, reason: str) -> None:
        if SEVERITY[status] > SEVERITY[self.status]:
            self.status = status
        self.reasons.append(reason)

    @property
    def right(self) -> bool:
        return self.status == RIGHT


def normalise(text: str) -> str:
    """NFKC (full-width digits and ％), no whitespace, no thousands separators."""
    text = unicodedata.normalize("NFKC", text or "")
    return _THOUSANDS.sub("", _SPACE.sub("", text))


def _pattern(needle: str) -> re.Pattern:
    """A needle that starts or ends with a digit matches only at a number's edge; a long digit string
    (a phone number) is found anywhere, since replies write 0563-3831616 and 05633831616 alike."""
    body = re.escape(needle)
    if needle.isdigit() and len(needle) >= 7:
        return re.compile(body)
    if needle[:1].isdigit():
        body = r"(?<![\d.])" + body
    if needle[-1:].isdigit():
        body = body + r"(?!\d)"
    return re.compile(body)


def contains(reply: str, needle: str) -> bool:
    needle = normalise(needle)
    return bool(needle) and _pattern(needle).search(reply) is not None


def polarity(reply: str, yes_words: tuple[str, ...], no_words: tuple[str, ...], asks: bool = False) -> str:
    """'yes' or 'no' after the reply's first yes/no word within its opening (a direct answer leads);
    '' when it has none, or when the reply asks back with choices (a menu's "也可以换个说法" is no
    "可以"). A yes word inside a no word, or right after a negator (不/没/未/无/非), is not a yes."""
    if asks:
        return ""
    reply = reply[:ANSWER_WINDOW]
    hits: list[tuple[int, int, str]] = []
    for words, kind in ((no_words, "no"), (yes_words, "yes")):
        for word in words:
            for m in _pattern(normalise(word)).finditer(reply):
                hits.append((m.start(), m.end(), kind))
    no_spans = [(s, e) for s, e, k in hits if k == "no"]
    firsts = []
    for start, end, kind in hits:
        if kind == "yes" and (any(s <= start < e for s, e in no_spans)
                              or (start > 0 and reply[start - 1] in _NEGATORS)):
            continue
        firsts.append((start, kind))
    return min(firsts)[1] if firsts else ""


def first_amount(reply: str) -> str | None:
    """The first amount in yuan the reply gives, as written ("500", "17万")."""
    m = _AMOUNT.search(reply)
    return m.group(1) + m.group(2) if m else None


def asks_with_choices(reply: str) -> bool:
    """At least two numbered choices and a question; `reply` keeps its line breaks."""
    reply = unicodedata.normalize("NFKC", reply or "")
    numbers = set(_NUMBERED.findall("\n" + reply))
    circled = {c for c in _CIRCLED if c in reply}
    return max(len(numbers), len(circled)) >= 2 and any(a in reply for a in _ASKS)


def judge(case: Case, replies: list[str], *, yes_words: tuple[str, ...], no_words: tuple[str, ...],
          errors: int = 0) -> Verdict:
    """The verdict on a case from every reply of its conversation; the last one is judged for content."""
    verdict = Verdict()
    judge_delivery(verdict, replies, errors)
    return judge_content(verdict, case, replies[-1] if replies else "", yes_words=yes_words, no_words=no_words)


def judge_delivery(verdict: Verdict, replies: list[str], errors: int = 0) -> None:
    """Every reply is there, fits in one WeChat text message, and no turn raised."""
    if errors:
        verdict.fail(ERROR, f"{errors} 轮处理时抛出异常")
    for text in replies:
        if len(text.encode("utf-8")) > WECHAT_TEXT_LIMIT_BYTES:
            verdict.fail(ERROR, f"回复 {len(text)} 字，超过微信文本消息上限（{WECHAT_TEXT_LIMIT_BYTES} 字节）")
        if not text.strip():
            verdict.fail(ERROR, "空回复")
        elif CRASH_TEXT in text:
            verdict.fail(ERROR, "回复是出错提示")


def judge_content(verdict: Verdict, case: Case, last: str, *, yes_words: tuple[str, ...],
                  no_words: tuple[str, ...]) -> Verdict:
    """What the last reply says, against the case's must / must_not / lead / answer / clarify."""
    asks = asks_with_choices(last)
    reply = normalise(last)
    for message in case.messages:  # repeating the question earns nothing
        said = normalise(message)
        if said:
            reply = reply.replace(said, "")
    for alternatives in case.must:
        if not any(contains(reply, a) for a in alternatives):
            verdict.fail(MISS, "缺少 " + " / ".join(alternatives))
    for needle in case.must_not:
        if contains(reply, needle):
            if any(ch.isdigit() for ch in needle):
                verdict.fail(WRONG_FIGURE, f"出现错误数字 {needle}")
            else:
                verdict.fail(WRONG_CLAIM, f"出现错误说法 {needle}")
    if case.lead:
        first = first_amount(reply)
        if first is None:
            verdict.fail(MISS, f"没有给出金额（应先说 {' / '.join(case.lead)} 元）")
        elif first not in case.lead:
            verdict.fail(WRONG_FIGURE, f"先说的金额是 {first} 元，应为 {' / '.join(case.lead)} 元")
    if case.answer:
        said = polarity(reply, yes_words, no_words, asks)
        if not said:
            verdict.fail(MISS, f"没有明确回答（应为{'可以' if case.answer == 'yes' else '不可以'}）")
        elif said != case.answer:
            verdict.fail(WRONG_CLAIM, f"答反了：应为{'可以' if case.answer == 'yes' else '不可以'}")
    if case.clarify and not asks:
        verdict.fail(MISS, "没有带编号选项的追问")
    return verdict
