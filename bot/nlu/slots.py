"""Slot extraction from one normalised message: place and scheme, the child's facts, a claim.

Fact slot names are the rule engine's fact vocabulary (bot/rules/facts.py) so answers can pass
them straight to `engine.eligibility`; claim slots (kind, hospital_level, amount, years_insured,
condition) are the keys of `engine.reimbursement`'s claim.
"""
from __future__ import annotations

import re
from typing import Any

from bot.nlu.lexicon import Lexicon
from bot.nlu.numbers import NUMBER_RUN, NUMERAL_CHARS, has_digit, parse_number

MASK = "□"  # replaces scheme names so "少儿住院互助基金" does not read as "住院"

_NEG = r"(?:没有|没|未|不|非|无)"
# A fact said with a negation in front of it in the same clause is false: "不是低保家庭", "不属于新疆班".
_NEGATION_BEFORE = re.compile(r"(?:不是|并不是|并非|不属于|不算|没有|没|未|不|非|无)(?:在|是|属于|参加|上|读|有)?(?:的)?$")
_CLAUSE_END = re.compile(r"[,，。;；!！?？]|但是|但|可是|不过|而是")
_ASKING = re.compile(r"(?:是不是|有没有|是否|算不算|属不属于|能不能|可不可以|在不在|是不)(?:在|是|属于|参加|上|读|有)?(?:的)?$")
NEGATION_REACH = 5  # characters between the negation and the fact it denies
_PARENT = r"(?:父|母|爸|妈|家长|监护人|大人|家里人|单位)"

# After a numeral these characters mean it is not money.
_NOT_MONEY_AFTER = tuple("岁周年月日号天级次个人%小分秒点期届班档")
_MONEY_SUFFIX = re.compile(r"^(?:多)?(?:元|块|圆|rmb|块钱|人民币)")
# Money that is not the bill asked about: a deposit, what the guardian already paid or was refunded.
_NOT_THE_BILL = re.compile(r"(?:押金|预交|预缴|预付|自己付|自己出|自付了|个人付|自费了|已经报|报了|报销了|退了|返了)[^，,。；;0-9]{0,4}$")
_COST_CUE = re.compile(r"(花|费|付|共|计|医药|支出|开销|用了|用掉|要了|收了|账单|自费|发票|总额|金额|住院|门诊|急诊|看病|治病|手术"
                       r"|结算|总共|一共|合计"
                       r"|一次|每次|一回|这次|那次|上次|另一次)")  # "看了两次，一次800一次600"

_AGE = re.compile(r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})(?:周岁|岁)(半)?")
_CHILDREN = re.compile(r"([两俩二三四2-4])个(?:孩子|娃|小孩|宝宝|女儿|儿子|学生)|(?:双胞胎|龙凤胎)")
_BARE_AGE = re.compile(r"(?:孩子|娃|他|她|老大|老二|宝宝)?(?:今年|已经|都)?([0-9]{1,2}|[一二三四五六七八九十]{1,3})了")
_MONTHS_OLD = re.compile(r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})个(?:多)?月(?:大|的宝宝|的孩子|的婴儿)")
_YEARS_INSURED = re.compile(
    r"(?:参保|缴费|交费|交了|缴了|保了|买了|连续参保|连续缴费|连续交)(?:已经|已)?(?:满|了|有)?"
    r"([0-9]{1,2}|[一二两三四五六七八九十]{1,3})(?:个)?(?:整)?年")
_YEARS_INSURED_FIRST = re.compile(r"(?:第一年|刚参保|刚刚参保|新参保|今年才参保|头一年|首次参保|第一次参保"
                                  r"|(?:不|没|未|还没)(?:满|到|够)(?:一|1)年|刚(?:刚)?(?:参加|加入|买|交)|今年才(?:参加|交|买))")

_STAGES: list[tuple[str, str]] = [
    (r"(?:幼儿园|托儿所|托幼|小班|中班|大班|入托|上托|早教|在园)", "nursery"),
    (r"(?:(?<!中)小学|[一二三四五六]年级)", "primary"),
    (r"(?:初中|初[一二三]|中学生|七年级|八年级|九年级)", "junior"),
    (r"(?:高中|高[一二三]|高考)", "senior"),
    (r"(?:中专|职校|技校|中职|职高|技工学校|职业学校|中等专业学校)", "vocational"),
    (r"(?:特殊学校|特教|培智)", "special"),
    (r"(?:工读学校|工读)", "reform"),
    (r"(?:大学|大[一二三四]|本科|研究生|高校|大专|高等院校|大学生|院校|硕士|博士生|科研院所)", "university"),
]
# A hospital named after its university ("复旦大学附属儿科医院", "北京大学第一医院") says nothing of the child's school.
_UNIVERSITY_HOSPITAL = re.compile(r"[\u4e00-\u9fff]{0,10}(?:大学|学院)(?:附属|医学院|第[一二三四五六七八九十\d]+|口腔|儿科|儿童"
                                  r"|人民|中医|肿瘤|眼耳鼻喉科|妇产科)[\u4e00-\u9fff]{0,10}?医院")
_NOT_IN_SCHOOL = re.compile(
    r"(?:没|未|不|没有)(?:在)?(?:上学|读书|入学|上幼儿园|上托儿所|入园|入托|在校|念书|读了|念了|上了学)|辍学|休学|散居|在家带"
    r"|(?:不是|没|不)(?:在校)?学生|(?:没|未)(?:有)?(?:上|读)(?:幼儿园|托儿所|小学)")
_IN_SCHOOL = re.compile(r"在读|在校|在籍|就读|上学|读书|念书|学籍|在园|入学")

_HUKOU_WORD = r"(?:户籍|户口|籍|本地人|户)"
_PARENT_HUKOU = re.compile(
    r"(?:父母|爸爸|妈妈|爸|妈|父亲|母亲|家长)(?:中)?(?:一方|有一方|有一个|其中一个|一个)?(?:是|有)?"
    r"(?:北京|本市|本地|上海|宁波)(?:市)?(?:的)?(?:非农业|城镇)?(?:户籍|户口|籍)")
_PARENT_HUKOU_NOT = re.compile(
    r"(?:父母|爸爸|妈妈|爸|妈|父亲|母亲|家长)(?:双方)?(?:都|也|均)?(?:不是|没有|非|不)(?:北京|本市|本地|上海|宁波)?(?:市)?(?:的)?"
    r"(?:非农业|城镇)?(?:户籍|户口|籍)")
_LOCAL_WORDS = r"(?:本市|本地|当地|沪)"
# Provinces and big cities that are none of our schemes' cities: their 户口 is 外地 to every scheme. Not
# 浙江 or 安徽: a 浙江 户口 may be 宁波's and an 安徽 one 宣城's.
_ELSEWHERE = (r"(?:河北|山西|内蒙古?|辽宁|吉林|黑龙江|江苏|福建|江西|山东|河南|湖北|湖南|广东|广西|海南|四川|贵州"
              r"|云南|西藏|陕西|甘肃|青海|宁夏|新疆|天津|重庆|香港|澳门|台湾|南京|苏州|无锡|杭州|温州|合肥|广州|深圳"
              r"|武汉|成都|西安|郑州|长沙|济南|青岛|沈阳|大连|哈尔滨|长春|石家庄|太原|南昌|福州|厦门|昆明|贵阳|南宁)")
_OUTSIDE = re.compile(
    r"(?:外地|外省|外省市|外市|非本市|非本地|异地|老家)(?:的)?(?:农业|非农业|城镇|农村)?(?:户籍|户口|籍|人)"
    rf"|{_ELSEWHERE}(?:省|市|自治区)?(?:的)?(?:农业|非农业|城镇|农村)?(?:户籍|户口)"
    rf"|(?:户籍|户口)(?:在|是|属于){_ELSEWHERE}"
    r"|(?:户籍|户口)(?:不在|没在|不是|并非|在外地|在外省|在老家)"
    r"|(?:不是|并非|并不是|没有)(?:本市|本地|当地|沪)(?:的)?(?:户籍|户口|人|籍)"
    r"|(?:外地|外省|外省市|非本市)(?:生源|的)?(?:学生|孩子|小孩|娃)")  # "外省学生": a student from elsewhere
_RURAL = re.compile(r"(?<!非)(?:农业|农村)(?:户籍|户口)|(?<!非)农业")
_URBAN = re.compile(r"非农业|非农|城镇户口|城镇户籍|城市户口")

_FLAGS: list[tuple[str, Any, re.Pattern[str]]] = [
    ("special_class", True, re.compile(r"新疆班|西藏班|西藏中学|内高班|内地班")),
    ("counterpart_support", True, re.compile(r"对口支援|都江堰")),
    ("hardship", True, re.compile(r"低保|孤儿|困境儿童|困难儿童|特困|困难学生|困难家庭|社会救助|残疾|特殊救济|居保对象")),
    ("insured_elsewhere", False, re.compile(
        r"(?:没|未|没有)(?:在)?(?:当地|那边|就读地|学校所在地|外地)?(?:参加|参|买|交)(?:过)?(?:当地|那边|那里|就读地)(?:的)?(?:公费医疗|医保|医疗保险)")),
    ("insured_elsewhere", False, re.compile(
        r"(?:当地|那边|那里|就读地)(?:也)?(?:没有|没|未)(?:参保|参加医保|参加|买医保|买|交)")),
    ("insured_elsewhere", True, re.compile(
        r"(?<![没未])(?:已经|已)?(?:参加|参|买|交)(?:了)?(?:当地|那边|那里|就读地)(?:的)?(?:公费医疗|医保|医疗保险)")),
    ("roster_uploaded", False, re.compile(r"(?:没|未|还没|没有)(?:有)?上传|查不到(?:孩子|信息)|系统里没有")),
    ("roster_uploaded", True, re.compile(r"(?<![没未])(?:已经|已)上传")),
    # "免缴的孩子还要登记银行卡吗": said of the child (not "哪些人免缴", "能免缴吗")
    ("fee_exempt_proof", True, re.compile(r"(?:是|属于)免缴|免缴(?:费)?(?:的|人员|对象)(?:孩子|学生)?(?:还|也|需要|要不要|用不用|要)")),
    ("gaokao_repeat", True, re.compile(r"复读")),
    ("overseas_chinese", True, re.compile(r"华侨")),
    ("jiedu_fee_exempt", True, re.compile(r"知青|随军|博士后|台商|台胞|引进人才|留学回国|海归")),
    ("studying_abroad", True, re.compile(r"(?:在|去)?(?:国外|海外|出国|香港|澳门|台湾|港澳台|港澳)(?:读书|留学|上学|就读|读)")),
    ("studying_elsewhere", True, re.compile(r"(?:在)?(?:外地|外省|外省市)(?:读书|上学|就读|读|念书|上大学)")),
    ("parent_work_residence_permit", True, re.compile(r"工作居住证")),
    # a parent at a company, self-employed or a migrant worker: not civil-servant staff ("我是企业员工", "我们打工的")
    ("former_child_pooling", False, re.compile(
        r"(?:我|我们|孩子(?:他|她)?(?:爸|妈|爸爸|妈妈|父亲|母亲)|家长)(?:是|在)?(?:在)?(?:企业|公司|私企|外企|民企|工厂|厂里)"
        r"(?:上班|工作|员工|职工)?|企业员工|公司员工|个体户|做生意|自由职业|打工|灵活就业")),
    ("former_child_pooling", True, re.compile(r"机关事业单位|机关单位|机关子女|子女统筹|子女医疗统筹|公务员")),
    ("full_time", True, re.compile(r"(?<!非)全日制")),
    ("full_time", False, re.compile(r"非全日制|在职研究生|函授|自考")),
    ("employed", False, re.compile(r"(?:没|未|不)(?:有)?(?:工作|就业|在职|上班)|非在职|无业")),
    ("employed", True, re.compile(r"(?<![没未不非无])(?:在职|已工作|已经工作|上班了|参加工作)")),
    ("local_student_origin", False, re.compile(
        r"外地生源|外省生源|非(?:北京|本市|本地)生源|外地考来|外省考来|(?:外地|外省|外省市)(?:的)?(?:学生|孩子).{0,8}(?:大学|高校|本科|大专)")),
    ("local_student_origin", True, re.compile(r"(?<![外非])(?:北京|本市|本地)生源")),
    ("insured_last_year", False, re.compile(
        r"(?:没|未|从没|从来没|还没|没有)(?:有)?(?:在[^，,。]{0,6})?(?:参保|参加|参|交|缴|买)(?:过)"
        r"|去年(?:没|未)(?:有)?(?:参保|参加|交|缴|买)")),
    ("insured_last_year", True, re.compile(r"续保|去年(?:已经|已)?(?:参保|参加|交|缴|买)|上一年度已|(?<![没未])(?:交|缴|参保)过(?:了)?")),
    ("insured_last_year", False, re.compile(r"首次参保|第一次参保|新参保|新生|第一次交|第一次买|刚入学")),
    ("failure_reason", "balance", re.compile(r"余额不足|余额不够|钱不够|没存够|存的钱不够")),
    ("failure_reason", "account", re.compile(r"不匹配|无此账户|账号不对|账户不对|账号错|卡号错")),
    ("adult_tier", "A", re.compile(r"a档")),
    ("adult_tier", "B", re.compile(r"b档")),
]
_PERMIT_B = re.compile(r"b类")
_PERMIT_POINTS = re.compile(r"积分(?:达标|达到|够|满|已达|合格)|(?:有|拿到)(?:了)?积分|居住证积分")
_PERMIT_NONE = re.compile(r"(?:没有|没|无)(?:办)?居住证")
_EMPLOYEE = re.compile(r"职工(?:基本)?(?:医保|医疗保险|医疗|社保)")
# "住一级医院", "医院住了几天": a stay is 住院 even without the word; "住在南京东路" (where one lives) is not.
_KIND = [("inpatient", re.compile(
             r"住院|住了[0-9一二两三四五六七八九十]*天院|住了院|开刀|手术"
             r"|住了(?:[0-9一二两三四五六七八九十几]+|好几|半)个?(?:天|晚|夜|周|星期|礼拜|月)"
             r"|住(?:进|到)?(?:了)?(?:[一二三123]级|三甲|二甲|儿童|儿科)?医院")),
         ("outpatient", re.compile(r"门诊|急诊|门急诊|看病拿药|配药|拿药|挂号"))]
_AS_INPATIENT = re.compile(r"按住院|按照住院|算住院|当住院|和住院一样|跟住院一样")
_LEVEL = [(3, re.compile(r"三级|三甲|三乙|3级|大医院|市级医院|儿童医院|儿科医院|新华|瑞金|华山|协和|儿研所")),
          (2, re.compile(r"二级|二甲|二乙|2级|区级医院|(?<!社)区中心医院|(?<!社)区医院")),
          (1, re.compile(r"一级|1级|社区|卫生院|卫生服务中心|乡镇医院|诊所"))]
_SCHOOL_CITY = r"(?:在|来)({city})(?:市)?(?:读|上|就读|念|的(?:学校|大学|中学|小学|幼儿园))"
_SCHOOL_ELSEWHERE = re.compile(_SCHOOL_CITY.replace("({city})", _ELSEWHERE).replace("(?:市)?", "(?:省|市)?"))


_GROUP_AFTER_CITY = re.compile(r"(?:的|市|中小学生|小学生|中学生|大学生|学生|少儿|儿童|婴幼儿|孩子|小孩)+$")


def _hukou_kind(text: str) -> str | None:
    """非农业 or 农业 户口, a denied one meaning the other ("不是农业户口" → 非农业)."""
    for pattern, kind, other in ((_URBAN, "non_agricultural", "agricultural"), (_RURAL, "agricultural", "non_agricultural")):
        found = pattern.search(text)
        if found:
            return other if negated(text, found.start()) else kind
    return None


def negated(text: str, start: int) -> bool:
    """A negation word just before `start`, in the same clause ("不是低保", "不在上海读书"); "是不是低保"
    asks instead of denying."""
    before = text[max(0, start - NEGATION_REACH - 2):start]
    clause = _CLAUSE_END.split(before)[-1]
    return bool(_NEGATION_BEFORE.search(clause[-NEGATION_REACH:])) and not _ASKING.search(clause)


def _affirmed(pattern: re.Pattern[str], text: str) -> bool:
    """The pattern said and not denied: "也没有居住证积分" is no points, never the points route."""
    found = pattern.search(text)
    return bool(found) and not negated(text, found.start())


def _small_int(text: str) -> int | None:
    value = parse_number(text)
    if value is None or value != value.to_integral():
        return None
    return int(value)


class SlotExtractor:
    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._aliases = sorted(lexicon.scheme_aliases, key=len, reverse=True)
        self._cities = sorted(lexicon.city_names, key=len, reverse=True)
        city_alt = "|".join(re.escape(c) for c in self._cities)
        self._hukou_city = re.compile(
            rf"({city_alt}|{_LOCAL_WORDS})(?:市)?(?:的)?(?:非农业|农业|城镇|农村)?{_HUKOU_WORD}"
            rf"|(?:户籍|户口)(?:在|是|属于)({city_alt}|{_LOCAL_WORDS})")
        self._school_city = re.compile(_SCHOOL_CITY.format(city=city_alt))
        # "北京东路小学" is in Shanghai and 宁波路 too: a city's name in a street's name is not that city.
        self._city_word = re.compile(rf"(?:{city_alt})(?![东西南北中]?(?:路|大街|街|大道|巷|弄))")
        # A message naming several ("白血病化疗") means the treatment: groups in the lexicon's order
        # (treatments before diseases), the longest word first within a group.
        groups = list(dict.fromkeys(lexicon.conditions.values()))
        self._conditions = sorted(lexicon.conditions, key=lambda w: (groups.index(lexicon.conditions[w]), -len(w)))

    # -- public -------------------------------------------------------------------------------
    def extract(self, text: str) -> tuple[dict[str, Any], str]:
        """Slots found in a normalised message, and the message with scheme names masked."""
        slots: dict[str, Any] = {}
        masked = self._schemes(text, slots)
        self._city(text, slots)
        self._person(text, slots)  # unmasked: "机关事业单位子女" is both a scheme name and a fact
        self._claim(masked, slots)
        return slots, masked

    # -- place and scheme ---------------------------------------------------------------------
    def _schemes(self, text: str, slots: dict[str, Any]) -> str:
        definite: list[set[str]] = []
        generic: list[tuple[str, int]] = []  # (name, where) of names several schemes go by
        masked = text
        for alias in self._aliases:
            start = masked.find(alias)
            if start < 0:
                continue
            if alias in self.lexicon.generic_names:
                generic.append((alias, start))
            else:
                definite.append(set(self.lexicon.scheme_aliases[alias]))
            masked = masked.replace(alias, MASK * len(alias))
        named_cities = {self.lexicon.scheme_cities.get(s) for ids in definite if len(ids) == 1 for s in ids} - {None}
        for name, start in generic:
            by_city = self.lexicon.generic_names[name]
            city = self._city_just_before(text, start)
            if city in by_city:  # "上海中小学生医保"
                definite.append({by_city[city]})
            elif named_cities & set(by_city):  # "少儿基金和居民医保": the city of the other scheme named
                definite.append({by_city[c] for c in named_cities if c in by_city})
            else:
                definite.append(set(by_city.values()))
        if definite:
            # Each mention narrows the choice ("北京" + "城镇居民医保"); disjoint mentions → keep all.
            common = set.intersection(*definite)
            candidates = common or set.union(*definite)
            if not common and sum(1 for ids in definite if len(ids) == 1) >= 2:
                slots["several_schemes"] = True  # "合工大的和上海中小学生医保": two schemes named, both asked about
            slots["scheme_candidates"] = sorted(candidates)
            if len(candidates) == 1:
                slots["scheme"] = next(iter(candidates))
        return masked

    def _city_just_before(self, text: str, start: int) -> str | None:
        """The city named right before a scheme's name ("上海的中小学生医保", "宁波市居民医保")."""
        before = _GROUP_AFTER_CITY.sub("", text[max(0, start - 10):start])  # "上海中小学生居民医保"
        for word in self._cities:
            if before.endswith(word):
                return self.lexicon.city_names[word]
        return None

    def _city(self, text: str, slots: dict[str, Any]) -> None:
        school = self._school_city.search(text)
        if school:
            city = self.lexicon.city_names[school.group(1)]
            slots["city"] = city
            # "不在上海读书": the school is somewhere else, though the question is about Shanghai
            slots["school_city"] = "外地" if negated(text, school.start()) else city
            return
        if _SCHOOL_ELSEWHERE.search(text):  # "在成都读书": a school in none of our cities
            slots["school_city"] = "外地"
        found = self._city_word.search(text)  # the first place named, the longest name at that spot
        if found:
            slots["city"] = self.lexicon.city_names[found.group()]
            named = list(dict.fromkeys(self.lexicon.city_names[m.group()] for m in self._city_word.finditer(text)))
            if len(named) > 1:
                slots["cities"] = named  # "宁波婴幼儿医保和上海少儿基金哪个交得多": both places

    # -- the child ----------------------------------------------------------------------------
    def _person(self, text: str, slots: dict[str, Any]) -> None:
        several = _CHILDREN.search(text)
        if several:  # "家里两个孩子", "双胞胎"
            slots["children"] = _small_int(several.group(1)) if several.group(1) else 2
        ages = [v for m in _AGE.finditer(text) if (v := _small_int(m.group(1))) is not None and v <= 30]
        if len(ages) > 1 and slots.get("children", len(ages)) >= 2:
            slots["ages"] = ages  # "一个4岁一个10岁": one fee each, no single age
            slots["children"] = max(slots.get("children", 0), len(ages))
            ages = []
        age = _AGE.search(text) if ages else None
        if age and (value := _small_int(age.group(1))) is not None and value <= 30:
            below = re.match(r"(?:以下|之下|以内)", text[age.end():]) or re.search(r"(?:不到|未满|不满)$", text[:age.start()])
            slots["age"] = max(0, value - 1) if below else value  # "6岁以下" → at most 5
        elif _MONTHS_OLD.search(text) or re.search(r"刚出生|新生儿|新生宝宝|刚生|出生不久", text):
            slots["age"] = 0
        elif (bare := _BARE_AGE.fullmatch(text.strip("。.!！~"))) and (value := _small_int(bare.group(1))) is not None \
                and value <= 25:
            slots["age"] = value  # "16了" / "孩子今年十六了": an age said with no unit
        if _NOT_IN_SCHOOL.search(text):
            slots["in_school"] = False
            slots["school_stage"] = "none"
        else:
            schooling = _UNIVERSITY_HOSPITAL.sub("", text)
            for pattern, stage in _STAGES:
                if re.search(pattern, schooling):
                    slots["school_stage"] = stage
                    slots["in_school"] = True
                    break
            if "in_school" not in slots and _IN_SCHOOL.search(text):
                slots["in_school"] = True
        self._hukou(text, slots)
        for name, value, pattern in _FLAGS:
            if name in slots:
                continue
            found = pattern.search(text)
            if found:
                # "不是低保家庭": the fact denied. Patterns that spell out their own negation keep their value.
                slots[name] = (not value) if value is True and negated(text, found.start()) else value
        if "roster_uploaded" in slots and "in_school" not in slots:
            slots["in_school"] = True  # "孩子的学校没有上传信息": the child has a school
        self._permit(text, slots)
        if slots.get("parent_residence_permit") in ("B", "points") and "hukou_city" not in slots:
            slots["hukou_city"] = "外地"  # a 居住证 is held by residents without the city's 户口
        employee = _EMPLOYEE.search(text)
        if employee:
            before = text[max(0, employee.start() - 8):employee.start()]
            if not re.search(_PARENT, before):
                slots["employee_insurance"] = not re.search(_NEG + r"(?:参加|参|交|买|有)?(?:过)?$", before)
        if re.search(r"婴幼儿|婴儿|宝宝|新生儿", text):
            slots.setdefault("person_group", "infant")
        elif re.search(r"成年居民|成年人|成人", text):
            slots.setdefault("person_group", "adult")
        elif (group := re.search(r"中小学生|学生|未成年", text)) and not negated(text, group.start()):
            slots.setdefault("person_group", "student")

    @staticmethod
    def _permit(text: str, slots: dict[str, Any]) -> None:
        if _affirmed(_PERMIT_B, text):
            slots["parent_residence_permit"] = "B"
        elif _affirmed(_PERMIT_POINTS, text):
            slots["parent_residence_permit"] = "points"
        elif (none := _PERMIT_NONE.search(text)) and not text.startswith("积分", none.end()):
            slots["parent_residence_permit"] = "none"  # "没有居住证积分" may still hold a B类 permit: not "none"

    def _hukou(self, text: str, slots: dict[str, Any]) -> None:
        parent = _PARENT_HUKOU_NOT.search(text) or _PARENT_HUKOU.search(text)
        if parent:  # the parent's 户口, not the child's ("父母都不是非农业户口": not theirs either)
            slots["parent_local_hukou"] = parent.re is _PARENT_HUKOU
            text = text[:parent.start()] + text[parent.end():]
        if _OUTSIDE.search(text):
            slots["hukou_city"] = "外地"
        else:
            match = self._hukou_city.search(text)
            if match:
                word = match.group(1) or match.group(2)
                # "不是上海户口": the 户口 is somewhere else
                slots["hukou_city"] = "外地" if negated(text, match.start()) else self.lexicon.city_names.get(word, "本市")
        kind = _hukou_kind(text)
        if kind:
            slots["hukou_type"] = kind
        if "hukou_city" not in slots and slots.get("hukou_type") and slots.get("city"):
            slots["hukou_city"] = slots["city"]  # "北京的孩子…非农业户口": the 户口 named is that city's

    # -- a medical bill -----------------------------------------------------------------------
    def _claim(self, text: str, slots: dict[str, Any]) -> None:
        for kind, pattern in _KIND:
            if pattern.search(text):
                slots["kind"] = kind
                break
        if slots.get("kind") == "inpatient" and _AS_INPATIENT.search(text) and _KIND[1][1].search(text):
            slots["kind"] = "outpatient"  # "化疗门诊能按住院报吗": outpatient costs settled as inpatient
        for level, pattern in _LEVEL:
            if pattern.search(text):
                slots["hospital_level"] = level
                break
        if re.search(r"[0-9一二三四五六七八九十]{1,3}月(?:[0-9一二三四五六七八九十]{1,3}[日号])?(?:以后|之后|后|前|以前|之前|底|初)", text):
            slots["date_mention"] = True  # "9月以后还能参保吗" asks about the calendar
        self._when_asked(text, slots)
        if _DONE_ALREADY.search(text):
            slots["done_already"] = True  # "我们已经给孩子办好了": said of an enrolment made, not asked for
        elif (_ENROLL_REQUEST.search(text) and not _ASKS.search(text)) or _ENROLL_LAST.search(text):
            slots["enroll_request"] = True  # "帮我孩子办下北京的一小医保", "…怎么办理 我要办": a request
        self._event_time(text, slots)
        self._amounts(text, slots)
        years = _YEARS_INSURED.search(text)
        if years and (value := _small_int(years.group(1))) is not None:
            slots["years_insured"] = value
        elif re.search(r"(?:一|1)年以上|超过(?:一|1)年|不止一年", text) and re.search(r"参保|缴费|交", text):
            slots["years_insured"] = 2
        elif _YEARS_INSURED_FIRST.search(text):
            slots["years_insured"] = 0
        for word in self._conditions:
            if word in text:
                slots["condition"] = word  # the guardian's word: the engine matches its own aliases
                break

    def _event_time(self, text: str, slots: dict[str, Any]) -> None:
        """"昨天上午9点预审通过的": when a step of the guardian's own application happened, for deadlines
        that run from it (pay within 24 hours of 预审通过)."""
        found = _EVENT_TIME.search(text)
        if not found:
            return
        for word, field_name in self.lexicon.event_words.items():
            if word in text:
                hour = _small_int(found.group(3)) or 0
                if found.group(2) in ("下午", "晚上", "傍晚") and hour < 12:
                    hour += 12
                slots["event"] = {"field": field_name, "days_ago": _DAYS_AGO[found.group(1)], "hour": min(hour, 23),
                                  "minute": 30 if found.group(4) else 0}
                return

    @staticmethod
    def _when_asked(text: str, slots: dict[str, Any]) -> None:
        """"今天能交吗" / "这个月还来得及吗" / "28号能办吗": a day or month the guardian asks about. Without a
        day, "能交吗" is marked `can_ask`: said of a child described ("户口在江苏，少儿基金能交吗"), it asks
        whether the child may join."""
        if not _CAN_DO.search(text):
            return
        if _CAN_JOIN.search(text) and not _ASKS_WHEN.search(text):  # "什么时候能参保", "还来得及吗": the window
            slots["can_ask"] = True
        dated = _DATE_ASKED.search(text)
        if dated and (month := _small_int(dated.group(1))) and (day := _small_int(dated.group(2))):
            after = 1 if re.match(r"(?:以后|之后|后|过后|往后)", text[dated.end():]) else 0
            slots["when_asked"] = f"date:{month}-{day}+{after}"  # "9月30号以后还能交吗": 10月1日
            slots["date_mention"] = True
            return
        for pattern, when in _WHEN:
            found = pattern.search(text)
            if found:
                if when == "day":
                    day = _small_int(found.group(1)) or 0
                    if re.match(r"(?:以后|之后|后|过后|往后)", text[found.end():]):
                        day += 1  # "27号以后还能交吗": the 28th on
                    when = f"day:{day}"
                slots["when_asked"] = when
                slots["date_mention"] = True
                return

    def _amounts(self, text: str, slots: dict[str, Any]) -> None:
        """The bill asked about. With several ("第一次住院花了3000，这次花了2000，这次能报多少"): the one the
        question points to (这次/本次…), earlier ones kept as this year's earlier costs; "一共/总共" asks
        about their sum; with no cue the candidates are kept (`amount_choices`) so the answer can ask."""
        paid = _REIMBURSED.search(text)
        if paid and (value := parse_number(paid.group(1))) is not None and has_digit(paid.group(1)):
            slots["reimbursed_this_year"] = _plain(value)  # "今年已经报了16万": toward the yearly cap
        found = _money_mentions(text)
        if not found:
            return
        values = list(dict.fromkeys(value for _start, value in found))
        if len(values) == 1:
            slots["amount"] = _plain(values[0])
            return
        if _TOTAL.search(text):
            slots["amount"] = _plain(sum(values))
            slots["amount_parts"] = [_plain(v) for v in values]  # per-stay thresholds apply to each
            levels = _levels_of(text, [start for start, _value in found])
            if len(set(levels)) > 1 and None not in levels:  # "一级医院…2000，后来二级医院…3000"
                slots["amount_levels"] = levels
            return
        asked_kind = _kind_of(text[found[-1][0]:])  # "…门诊能报多少": the bill of that kind
        of_kind = [value for start, value in found if asked_kind and _kind_of(_clause_before(text, start)) == asked_kind]
        if asked_kind and len(set(of_kind)) == 1:
            slots["amount"], slots["kind"] = _plain(of_kind[0]), asked_kind
            return
        current = [value for start, value in found if _CURRENT.search(_clause_before(text, start))]
        if len(current) == 1:
            slots["amount"] = _plain(current[0])
            earlier = [value for start, value in found if value != current[0]]
            slots["costs_this_year"] = _plain(sum(earlier))
            return
        slots["amount_choices"] = [_plain(v) for v in values]


_DAYS_AGO = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}
_EVENT_TIME = re.compile(r"(今天|今日|昨天|昨日|前天)(?:的)?(凌晨|早上|上午|中午|下午|傍晚|晚上)?"
                         r"([0-9]{1,2}|[一二三四五六七八九十]{1,3})(?:点|时|:00)(半)?")
# "今天能交吗" asks about doing something on a date; "这个月门诊能报多少" does not.
# "帮我孩子办下…", "给娃办个少儿基金", "我想办北京一小", "想给孩子上个医保", "我来办一下": asking to enrol.
_ENROLL_REQUEST = re.compile(
    r"(?:(?:帮|给|替|为)(?:我|我家|我们)?(?:的)?(?:孩子|娃|宝宝|小孩|儿子|女儿|闺女|孙子|孙女|小朋友)?"
    r"|(?:我|我们)(?:想|要|来|准备|打算)(?:给|帮|替)?(?:孩子|娃|宝宝|小孩|儿子|女儿)?)"
    r"(?:办|参保|报名|买|上|交|弄|登记)(?![了过完好])")  # "交了", "办好了": done already, not asked for
_ENROLL_LAST = re.compile(r"(?:我要办|我要参保|我要报名|我要办理|帮我办(?:一下|理)?|我想办(?:理)?|开始办理)[！!。.]?$")
_DONE_ALREADY = re.compile(r"(?:办|交|缴|参保|买|报名)(?:好了|过了|完了|好啦|过啦)|已经(?:给|帮|替)?[^，,。]{0,6}(?:办|交|缴|参保|买|报名)")
_ASKS = re.compile(r"吗|么|多少|什么|怎么|咋|几|哪|能不能|可不可以|是否|呢|？|\?|要不要|需不需要|如何")
_DATE_ASKED = re.compile(r"([0-9]{1,2}|[一二三四五六七八九十]{1,3})月([0-9]{1,2}|[一二三四五六七八九十]{1,3})(?:号|日)")
_CAN_JOIN = re.compile(r"(?:能|可以|可不可以|能不能)(?:再|还)?(?:交|缴|办|参保|参加|报名|买|登记|申请)")
_ASKS_WHEN = re.compile(r"什么时候|啥时候|什么时间|何时|哪天|哪一天|几号|几月|多久|截止|期限")
_CAN_DO = re.compile(r"(?:能|可以|可不可以|能不能)(?:去|再|还)?(?:交|缴|办|参保|参加|报名|买|登记|补|申请|申报)|来得及|还行|行不行"
                     r"|赶得上|办得了|交得了|晚了|迟了|还有机会")
_WHEN: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"今天|今日|现在|目前|马上|这会|此刻|当下"), "today"),
    (re.compile(r"明天|明日"), "tomorrow"),
    (re.compile(r"这个月|本月|这月|月底前"), "this_month"),
    (re.compile(r"下个月|下月"), "next_month"),
    (re.compile(r"今年(?:内)?(?:还)?(?:能|可以|来得及|赶得上|办|交)|年底前|年内"), "this_year"),  # not "今年读高三"
    (re.compile(r"(?<![月0-9])([0-9]{1,2}|[一二三四五六七八九十]{1,3})(?:号|日)"), "day"),
]


def _levels_of(text: str, starts: list[int]) -> list[int | None]:
    """The hospital level said in each bill's own stretch of the message (from the bill before it)."""
    levels = []
    for i, start in enumerate(starts):
        stretch = text[(starts[i - 1] if i else 0):start]
        levels.append(next((level for level, pattern in _LEVEL if pattern.search(stretch)), None))
    return levels


def _kind_of(text: str) -> str | None:
    return next((kind for kind, pattern in _KIND if pattern.search(text)), None)


def _plain(value):
    return int(value) if value == value.to_integral() else float(value)


_REIMBURSED = re.compile(rf"(?:已经|已|今年)(?:报了|报销了|报销)([{NUMERAL_CHARS}kw]+)")
_TOTAL = re.compile(r"一共|总共|加起来|合计|总计|两次|几次|加在一起")
_CURRENT = re.compile(r"这次|这回|本次|这一次|此次|现在|最近|第二次|后来|今天|这个月|本月")


def _clause_before(text: str, start: int) -> str:
    return re.split(r"[,，。;；]", text[:start])[-1]


def _money_mentions(text: str) -> list[tuple[int, Any]]:
    """(position, value) of each numeral that reads as money: a money unit or 万/千, or a cost word before
    it. When some follow a cost word ("交了150元，住院花了5000"), only those are the bill."""
    found: list[tuple[int, Any, bool]] = []
    for match in NUMBER_RUN.finditer(text):
        run = match.group()
        after = text[match.end():match.end() + 4]
        before = text[max(0, match.start() - 6):match.start()]
        value = parse_number(run)
        if value is None or value <= 0 or not has_digit(run):
            continue  # "ok", "kw": a unit letter is no number
        if after.startswith(_NOT_MONEY_AFTER) and not _MONEY_SUFFIX.match(after) and not after.startswith("分别"):
            continue
        has_unit = bool(_MONEY_SUFFIX.match(after)) or any(u in run for u in "万千kw")
        near_cost = bool(_COST_CUE.search(before)) and (any(c.isdigit() for c in run) or value >= 10)
        if not (has_unit or near_cost):
            continue
        if re.fullmatch(r"(?:19|20)\d\d", run) and not (_MONEY_SUFFIX.match(after) or near_cost):
            continue  # "2024参保": a year, not money
        if _NOT_THE_BILL.search(re.split(r"[,，。;；]", text[:match.start()])[-1]):
            continue  # "押金交了5000", "自己付了3千": not the bill
        found.append((match.start(), value, near_cost))
    bills = [f for f in found if f[2]] or found
    return [(start, value) for start, value, _cost in bills]
