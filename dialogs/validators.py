"""Pure validators for what guardians type into enrolment forms.

Every check either returns the normalised value (or facts derived from it) or raises
`ValidationError` whose message is one clear Chinese sentence telling the guardian what to fix.
No I/O, no clock: callers pass `today` where a date matters.
"""
from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from dataclasses import dataclass

# GB 11643-1999: weights of the first 17 digits and the check character for (sum mod 11).
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# First two digits of a mainland region code (provinces), plus 81/82/83 used by the
# 港澳台居民居住证 numbers.
_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65",
    "71", "81", "82", "83", "91",
}
_RESIDENCE_PERMIT_PREFIXES = ("810000", "820000", "830000")

SEX_MALE, SEX_FEMALE = "男", "女"
MAX_INPUT = 200  # longer messages are junk for any single form field


class ValidationError(ValueError):
    """Bad input; `str(exc)` is the Chinese sentence shown to the guardian."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class IdInfo:
    birth_date: dt.date
    sex: str  # 男 | 女
    region: str  # first six digits


# Full-width ASCII (Ａ１，) → half-width; the ideographic and no-break spaces → a space.
_HALF_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20, 0xA0: 0x20}


def normalize(text: str | None) -> str:
    """Full-width ASCII → half-width, ideographic spaces → spaces, trimmed (CJK left untouched)."""
    return text.translate(_HALF_WIDTH).strip() if text else ""


def _require(text: str | None, what: str) -> str:
    value = normalize(text)
    if not value:
        raise ValidationError(f"没有收到内容，请输入{what}。")
    if len(value) > MAX_INPUT:
        raise ValidationError(f"内容太长了，请只输入{what}。")
    return value


def id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS))
    return _ID_CHECK[total % 11]


# "身份证号是…" / "手机：…": a label typed before the number is not part of it.
_ID_LABEL = re.compile(r"^(?:我的|孩子的?|他的|她的)?(?:居民)?(?:身份证|证件|户口簿|居住证)?(?:号码|号)?(?:是|为)?:?")
_PHONE_LABEL = re.compile(r"^(?:我的|家长的?)?(?:手机号码|手机号|手机|电话号码|电话|联系电话)?(?:是|为)?:?")


# Digits said aloud (a voice message's recognition, or typed so): "三一零一…", "幺三九…".
_SPOKEN_DIGITS = str.maketrans("零〇一幺二两三四五六七八九", "0011223456789")


def _id_compact(text: str) -> str:
    """An ID-like number as typed or said → its characters only: full-width, spaces, dashes and a label
    dropped, spoken digits read as digits."""
    value = normalize(text).replace(" ", "").replace("-", "").upper()
    return _ID_LABEL.sub("", value, count=1).translate(_SPOKEN_DIGITS)


def _parse_id18(text: str | None, what: str) -> tuple[str, dt.date, str]:
    value = _id_compact(_require(text, what))
    if not value:
        raise ValidationError(f"请输入{what}。")
    if re.search(r"[^0-9X]", value):
        raise ValidationError(f"{what}只能由数字和末位的X组成，请检查后重新输入。")
    if len(value) != 18:
        raise ValidationError(f"{what}应为18位，您输入的是{len(value)}位，请检查后重新输入。")
    if "X" in value[:17]:
        raise ValidationError(f"{what}只有最后一位可以是X，请检查后重新输入。")
    if value[:2] not in _PROVINCES:
        raise ValidationError(f"{what}的前六位地区码不正确，请检查后重新输入。")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(f"{what}第7到14位的出生日期不正确，请检查后重新输入。") from None
    if birth.year < 1900:
        raise ValidationError(f"{what}第7到14位的出生日期不正确，请检查后重新输入。")
    if id_check_char(value[:17]) != value[17]:
        raise ValidationError(f"{what}的校验位不对，可能有一位输错了，请逐位核对后重新输入。")
    sex = SEX_MALE if int(value[16]) % 2 else SEX_FEMALE
    return value, birth, sex


def check_id_number(text: str | None, today: dt.date | None = None) -> IdInfo:
    """居民身份证 / 户口簿 number (18 characters, GB 11643 check digit).

    Returns the birth date and sex it encodes. `today` rejects birth dates in the future."""
    value, birth, sex = _parse_id18(text, "身份证号码")
    if today is not None and birth > today:
        raise ValidationError("身份证号码里的出生日期晚于今天，请检查后重新输入。")
    return IdInfo(birth_date=birth, sex=sex, region=value[:6])


def normalize_id_number(text: str | None) -> str:
    """The canonical form (upper-case X, no spaces) of a number that passed `check_id_number`."""
    return _id_compact(text or "")


def generate_id_number(birth_date: dt.date, sex: str, region: str = "310101", seq: int | None = None) -> str:
    """A valid (fictional) 18-digit ID number: for tests and demos, never for real people.

    `sex` is 男/女 (or "M"/"F"); `seq` (0–999) is adjusted to the parity the sex requires."""
    male = sex in (SEX_MALE, "M", "m", "male")
    if seq is None:
        seq = random.randrange(0, 1000)
    seq %= 1000
    if (seq % 2 == 1) != male:
        seq = seq + 1 if seq < 999 else seq - 1
    first17 = f"{region}{birth_date:%Y%m%d}{seq:03d}"
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("region must be six digits")
    return first17 + id_check_char(first17)


def check_residence_permit(text: str | None) -> str:
    """港澳台居民居住证: 18 characters like an ID number, starting 810000/820000/830000."""
    value, _birth, _sex = _parse_id18(text, "居住证号码")
    if not value.startswith(_RESIDENCE_PERMIT_PREFIXES):
        raise ValidationError("港澳台居民居住证号码应以810000、820000或830000开头，请检查后重新输入。")
    return value


def id_type_of(text: str | None) -> str:
    """The document a number belongs to, from its format: 港澳台居民居住证 (18 characters from 810000/820000/
    830000), 港澳居民来往内地通行证 (H/M + 8 or 10 digits), 护照 (letters and digits), else 身份证 — an
    18-digit resident ID is the same number on the 身份证 and the 户口簿, and a mistyped one (all digits)
    is checked as an ID so that its error is told."""
    value = _id_compact(text or "")
    if len(value) == 18 and value.startswith(_RESIDENCE_PERMIT_PREFIXES):
        return "港澳台居民居住证"
    if re.fullmatch(r"[HM]\d{8}(\d{2})?", value):
        return "港澳居民来往内地通行证"
    if re.fullmatch(r"[A-Z0-9]{5,17}", value) and re.search(r"[A-Z]", value[:-1] if len(value) in (15, 18) else value):
        return "护照"
    return "身份证"


def check_hk_macau_permit(text: str | None) -> str:
    """港澳居民来往内地通行证 (回乡证): H or M followed by 8 (or 10) digits."""
    value = _require(text, "通行证号码").replace(" ", "").upper()
    if not re.fullmatch(r"[HM]\d{8}(\d{2})?", value):
        raise ValidationError("港澳居民来往内地通行证号码应为H或M开头加8位数字（如H12345678），请检查后重新输入。")
    return value


def check_passport(text: str | None) -> str:
    """Passport numbers: 5–17 letters and digits, at least one digit (formats vary by country)."""
    value = _require(text, "护照号码").replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z0-9]{5,17}", value) or not re.search(r"\d", value):
        raise ValidationError("护照号码应为5到17位字母和数字，请按护照资料页上的号码重新输入。")
    return value


def check_phone(text: str | None) -> str:
    """Mainland mobile number → 11 digits (spaces, dashes and a +86 prefix are tolerated)."""
    value = _require(text, "手机号码")
    compact = _PHONE_LABEL.sub("", re.sub(r"[\s\-()（）]", "", value), count=1).translate(_SPOKEN_DIGITS)
    if not compact:
        raise ValidationError("请输入11位手机号码。")
    if compact.startswith("+86"):
        compact = compact[3:]
    elif compact.startswith("0086"):
        compact = compact[4:]
    if re.search(r"[^0-9]", compact):
        raise ValidationError("手机号码只能包含数字，请输入11位手机号码。")
    if len(compact) != 11:
        raise ValidationError(f"手机号码应为11位，您输入的是{len(compact)}位，请检查后重新输入。")
    if not re.fullmatch(r"1[3-9]\d{9}", compact):
        raise ValidationError("这不像是一个手机号码（应以13至19开头），请检查后重新输入。")
    return compact


def check_luhn(number: str) -> bool:
    """Luhn (mod 10) checksum used by bank card numbers."""
    digits = [int(c) for c in number if c.isdigit()]
    if not digits or len(digits) != len(number):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_check_digit(payload: str) -> str:
    """The digit that makes `payload + digit` pass `check_luhn` (for test card numbers)."""
    for d in "0123456789":
        if check_luhn(payload + d):
            return d
    raise ValueError(payload)  # pragma: no cover - one digit always fits


def check_bank_card(text: str | None, label: str = "卡号") -> str:
    """Bank card or passbook number: 16–19 digits passing the Luhn check."""
    value = re.sub(r"[\s\-]", "", _require(text, label))
    if re.search(r"[^0-9]", value):
        raise ValidationError(f"{label}只能包含数字，请检查后重新输入。")
    if not 16 <= len(value) <= 19:
        raise ValidationError(f"{label}应为16到19位数字，您输入的是{len(value)}位，请检查后重新输入。")
    if not check_luhn(value):
        raise ValidationError(f"{label}的校验不通过，可能有一位输错了，请对照卡面逐位核对后重新输入。")
    return value


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x20000 <= code <= 0x323AF  # extensions B–H (生僻字)
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x2F800 <= code <= 0x2FA1F  # compatibility supplement
        or code == 0x3007  # 〇
    )


_MIDDLE_DOTS = "·•・‧∙⋅．.\u00b7\u30fb\uff65"


# Replies and commands a guardian types at the wrong moment; no one is named like this.
NOT_NAMES = frozenset(
    "同意 不同意 好的 好滴 是的 对的 确认 确定 可以 嗯嗯 知道 知道了 收到 继续 下一步 提交 确认提交 没有 不是"
    " 不对 取消 返回 谢谢 你好 您好 明白 了解 不知道 参保 我要参保 办理 人工 转人工 进度 帮助 上一步 修改 重新开始".split())


# Endings of schools, hospitals and places: a person's name never ends like this.
# One-character endings only on longer words: 李路 may be a child's name, 世纪大道路 and 静安区 are not.
_PLACE_NAME = re.compile(r"(?:小学|中学|学校|学院|大学|幼儿园|托儿所|医院|校区|新区|大道|街道)$|^.{3,}[路街镇]$"
                         r"|^.{2,}[区县市省]$")


def check_name(text: str | None, label: str = "姓名") -> str:
    """A person's name: Chinese characters (生僻字 of every extension included) with an optional
    middle dot "·" (minority and transliterated names), or a name in Latin letters (passports)."""
    value = _require(text, label)
    value = "".join("·" if ch in _MIDDLE_DOTS else ch for ch in value)
    if all(_is_cjk(ch) or ch == "·" for ch in value.replace(" ", "")):
        value = value.replace(" ", "")
        if value.startswith("·") or value.endswith("·") or "··" in value:
            raise ValidationError(f"{label}中的“·”只能放在两个字之间，请重新输入。")
        if not 2 <= len(value) <= 30:
            raise ValidationError(f"{label}应为2到30个汉字，请重新输入。")
        if value in NOT_NAMES:  # "同意" typed once more after the consent step is not the child's name
            raise ValidationError(f"“{value}”看起来不是{label}，请输入证件上的{label}。")
        if _PLACE_NAME.search(value):  # the school typed one step early: "北京东路小学" names no person
            raise ValidationError(f"“{value}”看起来是学校或地点的名称，请输入证件上的{label}。")
        return value
    if re.fullmatch(r"[A-Za-z]+([ '\-][A-Za-z]+)*", value) and len(value) <= 60:
        return value.upper()
    if re.search(r"\d", value):
        raise ValidationError(f"{label}里不能有数字，请输入证件上的{label}。")
    if any(unicodedata.category(ch) in ("So", "Sk", "Cs", "Co") for ch in value):
        raise ValidationError(f"{label}里不能有表情或符号，请输入证件上的{label}。")
    raise ValidationError(f"{label}只能包含汉字（少数民族姓名可用“·”分隔），请输入证件上的{label}。")


_DATE_PATTERNS = (
    re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"),
    re.compile(r"(\d{4})(\d{2})(\d{2})"),
)


def check_date(text: str | None, label: str = "日期", today: dt.date | None = None) -> dt.date:
    """A calendar date typed as 2015-03-02, 2015/3/2, 2015.3.2, 20150302 or 2015年3月2日."""
    value = _require(text, label).replace(" ", "")
    for pattern in _DATE_PATTERNS:
        match = pattern.fullmatch(value)
        if match:
            try:
                when = dt.date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                raise ValidationError(f"{label}不存在，请按“2015-03-02”的格式重新输入。") from None
            if when.year < 1900 or (today is not None and when > today):
                raise ValidationError(f"{label}不能晚于今天，请按“2015-03-02”的格式重新输入。")
            return when
    raise ValidationError(f"请按“2015-03-02”的格式输入{label}。")


def age_on(birth: dt.date, on: dt.date) -> int:
    """Completed years (周岁) on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _refuse_reply_words(value: str, label: str) -> None:
    """"对的", "好的", "是", "同意" typed at a free-text step answer an earlier question; they are never a
    school's name or an address, and must not be stored as one."""
    if value in NOT_NAMES or is_acknowledgement(value) or parse_yes_no(value) is not None:
        raise ValidationError(f"“{value}”不是{label}，请输入{label}。")


def check_address(text: str | None, label: str = "详细地址") -> str:
    """A street address: 4–100 characters containing Chinese, no emoji."""
    value = _require(text, label)
    _refuse_reply_words(value, label)
    if any(unicodedata.category(ch) in ("So", "Cs", "Co") for ch in value):
        raise ValidationError(f"{label}里不能有表情或特殊符号，请重新输入。")
    if not any(_is_cjk(ch) for ch in value):
        raise ValidationError(f"请用中文输入{label}，例如“XX路XX弄X号”。")
    if not 4 <= len(value) <= 100:
        raise ValidationError(f"{label}应为4到100个字，例如“XX路XX弄X号”。")
    return value


def check_free_text(text: str | None, label: str, max_len: int = 60) -> str:
    """Short free text (e.g. a school or employer name)."""
    value = _require(text, label)
    _refuse_reply_words(value, label)
    if len(value) > max_len:
        raise ValidationError(f"{label}最多{max_len}个字，请简要输入。")
    if any(unicodedata.category(ch) in ("So", "Cs", "Co") for ch in value):
        raise ValidationError(f"{label}里不能有表情或特殊符号，请重新输入。")
    return value


_YES = frozenset({"是", "是的", "对", "对的", "属于", "有", "有的", "确认", "确定", "正确", "没错", "y", "yes", "1"})
_NO = frozenset({"否", "不是", "不对", "不属于", "没有", "无", "不", "n", "no", "2", "错", "错了", "有误", "不正确"})
# Acknowledgements: they say "I read you", never which of two answers is true.
ACKNOWLEDGEMENTS = frozenset({"好", "好的", "好滴", "好吧", "嗯", "嗯嗯", "恩", "ok", "okay", "知道了", "知道", "收到",
                              "明白", "明白了", "了解", "行", "可以", "哦", "噢"})
_AGREE = frozenset({"同意", "我同意", "已阅读并同意", "好", "好的", "可以", "ok", "没问题", "继续", "继续办理", "确认提交",
                    "提交", "行"})
_DISAGREE = frozenset({"不同意", "不要", "不用", "算了"})


def _answer_word(text: str | None) -> str:
    return normalize(text).lower().rstrip("。.!！~～")


# The question's own verb said back: "户籍在宁波大市吗？" — "在的"; "原来参加吗？" — "参加了" / "没参加".
_ECHO_YES = frozenset({"在", "在的", "参加了", "参加过", "参加的", "交了", "交过", "交过了", "办了", "办过", "办过了",
                       "上传了", "已上传", "传了", "是本市的", "属于的"})
_ECHO_NO = frozenset({"不在", "没参加", "没参加过", "没有参加", "未参加", "没交", "没交过", "没办", "没办过", "没上传",
                      "未上传", "没传", "不属于的"})
_CLAUSE_BREAK = re.compile(r"[，,。;；!！ ]")
_DOUBT = re.compile(r"不|没|否|非|无|吗|？|\?|不知道|不确定|可能|好像|应该")


def parse_yes_no(text: str | None) -> bool | None:
    """A clear 是/否 to a question of fact (是/对/属于/有/yes, 否/不是/不属于/没有/no and their variants, the
    question's verb said back — 在的, 参加了, 没参加 —, or one of them followed by what it is about: "是的，原来参加了",
    "不是，我们是外地户口"); None for anything else — "好的", "嗯", "ok" or "知道了" acknowledge, they do not
    answer, and a yes that goes on with a doubt ("是的，不过没有…") is asked again."""
    return yes_no_and_rest(text)[0]


def yes_no_and_rest(text: str | None) -> tuple[bool | None, str]:
    """`parse_yes_no`'s answer and what was said after it ("不是，在静安区" → (False, "在静安区")); the rest is ""
    when the whole message is the answer, or when there is no answer."""
    value = _answer_word(text)
    if value in _YES or value in _ECHO_YES:
        return True, ""
    if value in _NO or value in _ECHO_NO:
        return False, ""
    brk = _CLAUSE_BREAK.search(value)
    if brk is None:
        return None, ""
    head, rest = value[:brk.start()], value[brk.end():]
    if (head in _YES or head in _ECHO_YES) and not head.isascii() and not _DOUBT.search(rest):
        return True, rest
    if (head in _NO or head in _ECHO_NO) and not head.isascii():
        return False, rest
    return None, ""


_CONSENT = frozenset({"同意", "我同意", "已阅读并同意", "同意遵守", "继续", "继续办理", "i agree", "agree"})


def parse_consent(text: str | None) -> bool:
    """Consent to the 办理须知 is said, not acknowledged: 同意 (or a clear 是), never "好的"/"嗯"/"ok"."""
    value = _answer_word(text)
    return value in _CONSENT or parse_yes_no(value) is True


def parse_agreement(text: str | None) -> bool | None:
    """Agreeing to go on (办理须知, a reminder offer): a yes, or 同意/好的/继续…; None when unclear."""
    value = _answer_word(text)
    if value in _AGREE:
        return True
    if value in _DISAGREE:
        return False
    return parse_yes_no(value)


def is_acknowledgement(text: str | None) -> bool:
    return _answer_word(text) in ACKNOWLEDGEMENTS


# Words of a question or a sentence, which no name contains ("什么意思", "我不懂", "要交多少钱").
_SENTENCE_WORDS = ("什么", "怎么", "为什么", "意思", "不懂", "不明白", "不知道", "不会", "请问", "多少", "哪", "吗",
                   "呢", "吧", "啊", "我", "你", "您", "谁", "能不能", "可不可以", "是不是", "要不要", "如何", "办理",
                   "参保", "缴费", "交钱", "医保", "帮", "看不懂", "没懂", "一下")
_ENGLISH_SENTENCE = re.compile(r"\b(i|you|what|how|why|don'?t|do|does|not|understand|help|please|is|are|can|the|me|my)\b",
                               re.IGNORECASE)


def looks_like_sentence(text: str | None) -> bool:
    """A question or a sentence rather than a name: a name step answers it as a digression."""
    value = normalize(text)
    if not value:
        return False
    if any(mark in value for mark in "?？!！,，"):
        return True
    if re.search(r"[A-Za-z]", value):
        return bool(_ENGLISH_SENTENCE.search(value)) or len(value.split()) > 4
    return any(word in value for word in _SENTENCE_WORDS) or len(value) > 12 and "·" not in value
