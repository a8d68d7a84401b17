"""Colloquial paraphrases → intent. None of these sentences is in the catalogue's examples."""
from __future__ import annotations

import pytest

from bot.nlu import UNCLEAR

CASES = [
    ("娃住院能报多少", "reimbursement"),
    ("孩子住了一周院花了八千，医保能给报多少", "reimbursement"),
    ("三甲医院看急诊花了600能报销不", "reimbursement"),
    ("门诊报销比例多少", "reimbursement"),
    ("住院自己要出多少钱", "reimbursement"),
    ("北京一小多少钱", "fee"),
    ("今年保费涨了没，要交几块钱", "fee"),
    ("上海学生医保一年交多少", "fee"),
    ("低保户的孩子要不要交钱", "fee"),
    ("宁波婴幼儿的缴费标准", "fee"),
    ("北京一小免缴有哪些人", "fee"),  # who is exempt from paying: a fee question, not eligibility
    ("孤儿能免交吗", "fee"),
    ("孩子15岁没上学能参保不", "eligibility"),
    ("孩子在北京上学户口在河北能办一小吗", "eligibility"),
    ("上海小孩医保一年几多钱", "fee"),  # 几多 → 多少 once, not 多少少
    ("预审没通过怎么办", "progress"),
    ("我们是外地户口，孩子能在上海参保吗", "eligibility"),
    ("孩子读大学了还能参加吗", "eligibility"),
    ("孩子在上海上学但户口在江苏，少儿住院基金能交吗", "eligibility"),  # "能交吗" of a child described
    ("北京一小孩子16岁了还能交吗", "eligibility"),  # the age is what is asked about
    ("你好，少儿基金多少钱", "fee"),  # the greeting is manners, the question is the rest
    ("您好 请问北京一小什么时候截止", "deadline"),
    ("你好呀", "greeting"),
    ("阿拉小囡上海户口读小学，居民医保交几钿", "fee"),  # 上海话
    ("侬好，小囡住院好报伐", "reimbursement"),
    ("啷个给娃儿办北京一小", "procedure"),  # how it is done (a question), not a request to start
    ("孩子8岁还来得及交吗", "deadline"),  # 来得及: the time
    ("帮我孩子办下北京的一小医保", "enroll"),  # a request with no question in it
    ("合工大宣城校区医保怎么办理 我要办", "enroll"),  # the question, then the request
    ("钱交上了吗", "progress"),  # the guardian's own payment, not the fee
    ("办好了没有", "progress"),
    ("我交的钱到了吗", "progress"),
    ("给娃办个上海的少儿基金", "enroll"),
    ("孩子的一小医保我来办一下", "enroll"),
    ("想给孩子上个医保", "enroll"),
    ("给孩子办需要什么材料", "materials"),
    ("户口外地在上海读初中，居民医保可以买吗", "eligibility"),
    ("少儿住院基金能交吗", "payment"),  # nothing said of the child: how to pay
    ("哪些孩子可以参加少儿基金", "eligibility"),
    ("有职工医保还能参加少儿基金吗", "eligibility"),
    ("少儿基金啥时候开始交", "deadline"),
    ("一小缴费截止到几号", "deadline"),
    ("现在还来得及参保吗", "deadline"),
    ("参保后从哪天开始能报销", "deadline"),
    ("办少儿基金要带啥证件", "materials"),
    ("需要户口本吗", "materials"),
    ("要交什么资料给学校", "materials"),
    ("宣城大学生第一次参保怎么弄", "procedure"),
    ("参保流程能说一下吗", "procedure"),
    ("在哪里办理参保登记", "procedure"),
    ("一小要开什么银行的卡", "payment"),
    ("能用微信支付吗", "payment"),
    ("交费方式有哪些", "payment"),
    ("扣款没扣成功咋办", "payment_failure"),
    ("交不上钱，一直提示失败", "payment_failure"),
    ("名字里有生僻字交不了费", "payment_failure"),
    ("交了钱不想保了能退吗", "refund"),
    ("多交了一次怎么退款", "refund"),
    ("我的申请审核通过了没", "progress"),
    ("提交好几天了没收到短信", "progress"),
    ("医保中心的电话是多少", "contacts"),
    ("有事找谁咨询", "contacts"),
    ("医疗证去哪拿", "aftercare"),
    ("孩子社保卡怎么办理", "aftercare"),
    ("看病可以去哪些医院", "hospitals"),
    ("定点医院能换吗", "hospitals"),
    ("我要给孩子参保", "enroll"),
    ("帮我报名少儿基金", "enroll"),
    ("您好", "greeting"),
    ("谢谢啦", "greeting"),
    ("你都能干什么", "help"),
    ("找人工客服", "human"),
    ("明天天气怎么样", "out_of_scope"),
    ("公积金怎么取", "out_of_scope"),
    # regional and spoken forms (咋, 啥, 俺, 娃)
    ("娃的医保咋交", "payment"),
    ("俺家娃住院咋报销", "reimbursement"),
    ("啥时候交", "deadline"),
    ("参加这个要不要钱", "fee"),
    ("今年的还能交吗", "deadline"),
    ("孩子上大学了还用交吗", "fee"),
    ("扣款没成功怎么弄", "payment_failure"),
    ("交钱了怎么查有没有成功", "progress"),
    ("孩子看病去哪个医院", "hospitals"),
    ("怎么报名", "procedure"),
    ("能帮我办吗", "enroll"),
    ("在哪交钱", "payment"),
    ("可以分期交吗", "payment"),
    ("我想给孩子办医保", "enroll"),
    ("我要参加少儿基金", "enroll"),
    ("再办一个", "enroll"),
    ("少儿基金150是一年吗", "fee"),
    ("我要给孩子买医保", "enroll"),
    ("现在可以参保吗", "deadline"),
]


@pytest.mark.parametrize("text, intent", CASES, ids=[c[0] for c in CASES])
def test_intent(nlu, text, intent):
    u = nlu.understand(text)
    assert u.intent == intent, (u.intent, u.candidates)
    assert 0 < u.confidence <= 1


@pytest.mark.parametrize("text", ["嗯", "那个", "asdfgh", "我想问问", "。。。"])
def test_unsure_is_unclear(nlu, text):
    assert nlu.understand(text).intent == UNCLEAR


def test_understanding_shape(nlu):
    u = nlu.understand("北京的孩子住院花了2万，一小医保能报多少钱")
    assert u.tokens and all(isinstance(t, str) for t in u.tokens)
    assert u.candidates[0][0] == u.intent
    assert "一小" in u.tokens or "北京" in u.tokens


def test_menu_digit_uses_context(nlu):
    context = {"menu": ["reimbursement", "fee", "deadline"]}
    assert nlu.understand("2", context).intent == "fee"
    assert nlu.understand("三", context).intent == "deadline"
    assert nlu.understand("9", context).intent != "fee"


def test_pending_question_keeps_intent(nlu):
    context = {"pending": {"intent": "reimbursement", "need": ["hospital_level"]}}
    assert nlu.understand("三级", context).intent == "reimbursement"
    assert nlu.understand("上海的", context).intent == "reimbursement"
    # A clearly new question is not an answer to ours.
    assert nlu.understand("少儿基金要带什么材料", context).intent == "materials"


def test_domain_words_stay_whole(nlu):
    tokens = nlu.tokenizer.cut("少儿住院互助基金和城乡居民医保的起付标准，预审通过后看办件进度")
    for word in ["少儿住院互助基金", "城乡居民医保", "起付标准", "办件进度"]:
        assert word in tokens


def test_second_start_reuses_the_cache(nlu, nlu_cache):
    from bot.nlu.tokenizer import JiebaTokenizer

    cache = nlu_cache / "jieba.trimmed.cache"
    built = cache.stat().st_mtime_ns
    again = JiebaTokenizer(nlu_cache, ["少儿住院互助基金"])
    assert cache.stat().st_mtime_ns == built  # read, not rebuilt
    assert "少儿住院互助基金" in again.cut("少儿住院互助基金多少钱")


def test_traditional_characters(nlu):
    u = nlu.understand("上海三級醫院住院花了1萬能報多少")
    assert u.intent == "reimbursement"
    assert u.slots["amount"] == 10000 and u.slots["hospital_level"] == 3


def test_a_latin_keyword_counts_only_as_a_whole_word(nlu):
    assert nlu.understand("hi", {}).intent == "greeting"
    assert nlu.understand("shanghai child fund fee", {}).intent != "greeting"  # the "hi" of "child"


@pytest.mark.parametrize("text", ["我们已经给孩子办好了", "给孩子办过了", "少儿基金已经交过了"])
def test_an_enrolment_said_to_be_done_starts_nothing(nlu, text):
    assert nlu.understand(text).intent != "enroll"
