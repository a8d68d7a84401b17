"""Random guardian behaviour never crashes a form and always gets an answer."""
from __future__ import annotations

import datetime as dt
import random

from bot.clock import SHANGHAI
from dialogs.validators import generate_id_number

from tests.dialogs.conftest import Chat

KID = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
POOL = ["我要参保", "1", "2", "3", "5", "11", "是", "否", "同意", "好的", "知道了", "已暂停", "上一步", "修改", "修改姓名",
        "修改手机号", "重新开始", "进度", "转人工", "确认提交", "再办一个", "", "😀😀", "啊" * 500, "韩小明", KID,
        KID[:-1], "17612342353", "1761234abcd", "黄浦", "浦东", "北京东路", "张江", "联航路4号", "2016-03-02",
        "住院能报销多少？", "6229081234567890120", "E12345678", "参保:sh-child-fund", "参保:bj-child-student",
        "参保:xc-hfut-college", "参保:nb-civil-servant-children", "参保:sh-resident-student", "取消"]


async def test_random_conversations_never_crash(services, dialogs, clock):
    rng = random.Random(20260910)
    for conversation in range(30):
        chat = Chat(services, dialogs, user=f"o-random-{conversation}")
        clock.set(dt.datetime(2026, rng.choice([9, 11]), rng.randint(1, 27), 10, tzinfo=SHANGHAI))
        await chat.say(rng.choice(POOL[-6:-1]))
        for _ in range(25):
            if rng.random() < 0.05:
                reply = await chat.say(kind="image", media_id="M", pic_url="http://x/p.jpg")
            else:
                reply = await chat.say(rng.choice(POOL))
            assert reply.strip() and "没有处理好" not in reply  # the safety net never fired
            assert KID not in reply and "17612342353" not in reply
