"""The shared vocabulary of facts about a child that eligibility and fee rules read.

Dialogs and NLU fill these names; packs only refer to them. Values are normalised here
(Chinese yes/no words, numeric strings, ISO dates) so rules compare plain Python values.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FactSpec:
    name: str
    kind: str  # "int" | "bool" | "str" | "date"
    question: str
    choices: tuple[str, ...] = ()


def _spec(name: str, kind: str, question: str, *choices: str) -> FactSpec:
    return FactSpec(name, kind, question, tuple(choices))


FACTS: dict[str, FactSpec] = {s.name: s for s in [
    _spec("age", "int", "孩子现在多大（周岁）？"),
    _spec("birth_date", "date", "孩子的出生日期是哪天？"),
    _spec("hukou_city", "str", "孩子的户籍（户口）在哪个城市？"),
    _spec("hukou_type", "str", "孩子是农业户籍还是非农业户籍？", "agricultural", "non_agricultural"),
    _spec("parent_local_hukou", "bool", "孩子的父母是否有一方是本市非农业户籍？"),
    _spec("parent_residence_permit", "str",
          "父母持有哪种上海市居住证？（积分达到标准 / B类居住证 / 没有）", "points", "B", "none"),
    _spec("parent_work_residence_permit", "bool", "父母是否持有《北京市工作居住证》？"),
    _spec("in_school", "bool", "孩子是否在校（园、所）就读，在籍在册？"),
    _spec("school_city", "str", "孩子在哪个城市上学（入托）？"),
    _spec("school_stage", "str",
          "孩子在读什么学段？（托幼 / 小学 / 初中 / 高中 / 中专职校技校 / 特殊学校 / 工读学校 / 大学 / 未上学）",
          "nursery", "primary", "junior", "senior", "vocational", "special", "reform", "university", "none"),
    _spec("full_time", "bool", "孩子是否为全日制学历教育在读？"),
    _spec("school_name", "str", "孩子就读的学校名称是什么？"),
    _spec("roster_uploaded", "bool", "学校是否已上传孩子的参保信息（系统能查到孩子的信息）？"),
    _spec("employee_insurance", "bool", "孩子是否已经参加职工基本医疗保险？"),
    _spec("hardship", "bool", "孩子是否属于低保家庭子女、孤儿、困境（困难）儿童或特困人员中的儿童？"),
    _spec("special_class", "bool", "孩子是否在新疆班、西藏班（或北京西藏中学）就读？"),
    _spec("counterpart_support", "bool", "孩子是否为对口支援都江堰和西部地区农村、在沪就读中职学校的学生？"),
    _spec("studying_elsewhere", "bool", "孩子是否在外省市就读？"),
    _spec("insured_elsewhere", "bool", "孩子是否已在就读地参加公费医疗或基本医疗保险？"),
    _spec("studying_abroad", "bool", "孩子是否在国外或港澳台地区就读？"),
    _spec("gaokao_repeat", "bool", "孩子是否为高考复读生？"),
    _spec("overseas_chinese", "bool", "孩子是否为在京接受义务教育的华侨适龄子女？"),
    _spec("jiedu_fee_exempt", "bool",
          "孩子是否享受免收借读费（原北京知青子女、随军家属子女、博士后子女、台商子女、引进人才子女、留学回国人员子女）？"),
    _spec("local_student_origin", "bool", "孩子是否为本市生源的大学生？"),
    _spec("employed", "bool", "孩子是否在职（已工作）？"),
    _spec("former_child_pooling", "bool", "孩子原来是否参加机关子女医疗统筹（父母是机关事业单位工作人员）？"),
    _spec("hukou_ningbo", "bool", "孩子的户籍是否在宁波大市？"),
    _spec("insured_last_year", "bool", "孩子上一年度是否已在学校参加当地城乡居民医保（续保）？"),
    _spec("adult_tier", "str", "成年居民选择哪一档缴费？（A档 / B档）", "A", "B"),
    _spec("fee_exempt_proof", "bool", "是否有免缴费的证明材料？"),
]}

_YES = {"是", "有", "对", "是的", "有的", "已", "已经", "yes", "y", "true", "1"}
_NO = {"否", "不", "不是", "没有", "无", "未", "没", "no", "n", "false", "0"}
_CHOICE_WORDS = {
    "hukou_type": {"农业": "agricultural", "农业户籍": "agricultural", "农业户口": "agricultural",
                   "非农": "non_agricultural", "非农业": "non_agricultural", "非农业户籍": "non_agricultural",
                   "非农业户口": "non_agricultural", "城镇": "non_agricultural", "城镇户口": "non_agricultural"},
    "parent_residence_permit": {"积分": "points", "积分达标": "points", "积分达到标准": "points",
                                "b": "B", "b类": "B", "B类": "B", "没有": "none", "无": "none"},
    "school_stage": {"托儿所": "nursery", "幼儿园": "nursery", "托幼": "nursery", "小学": "primary",
                     "初中": "junior", "高中": "senior", "中专": "vocational", "职校": "vocational",
                     "技校": "vocational", "中职": "vocational", "中专职校技校": "vocational",
                     "特殊学校": "special", "工读学校": "reform", "工读": "reform", "大学": "university",
                     "高校": "university", "大专": "university", "科研院所": "university",
                     "未上学": "none", "没上学": "none"},
    "adult_tier": {"a": "A", "a档": "A", "A档": "A", "b": "B", "b档": "B", "B档": "B"},
}


CITY_FACTS = {"hukou_city", "school_city"}


class BadFact(ValueError):
    """A fact value that cannot be understood (treated as missing, so the question is asked again)."""


def normalise(name: str, value: Any) -> Any:
    """Return the typed value of one fact, or raise BadFact."""
    spec = FACTS.get(name)
    if value is None or spec is None:
        return value
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in _YES:
            return True
        if word in _NO:
            return False
        raise BadFact(name)
    if spec.kind == "int":
        if isinstance(value, bool):
            raise BadFact(name)
        try:
            number = int(str(value).strip().removesuffix("岁").removesuffix("周"))
        except ValueError as exc:
            raise BadFact(name) from exc
        if number < 0 or number > 150:
            raise BadFact(name)
        return number
    if spec.kind == "date":
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise BadFact(name) from exc
    text = str(value).strip()
    if name in CITY_FACTS and len(text) > 2:
        text = text.removesuffix("市")
    return _CHOICE_WORDS.get(name, {}).get(text, _CHOICE_WORDS.get(name, {}).get(text.lower(), text))


def age_on(birth: dt.date, on: dt.date) -> int:
    """Full years (周岁) on a date."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def prepare(facts: dict[str, Any] | None, on: dt.date) -> tuple[dict[str, Any], list[str]]:
    """Normalised facts plus the names of facts given but not understood. Derives age from birth_date and
    hukou_ningbo from hukou_city."""
    clean: dict[str, Any] = {}
    bad: list[str] = []
    for name, value in (facts if isinstance(facts, dict) else {}).items():
        try:
            typed = normalise(name, value)
        except BadFact:
            bad.append(name)
            continue
        if typed is not None and typed != "":
            clean[name] = typed
    if "hukou_ningbo" not in clean and clean.get("hukou_city"):
        # 宁波大市 as a place the guardian names: the seeds list none of its places, so only 宁波 itself
        # (the NLU's place names map there) is inside; a place it cannot tell is asked about.
        clean["hukou_ningbo"] = clean["hukou_city"] == "宁波"
    if "age" not in clean and isinstance(clean.get("birth_date"), dt.date):
        if clean["birth_date"] <= on:
            clean["age"] = age_on(clean["birth_date"], on)
        else:
            bad.append("birth_date")
    return clean, bad


def question_for(name: str) -> str:
    spec = FACTS.get(name)
    return spec.question if spec else f"请提供：{name}"
