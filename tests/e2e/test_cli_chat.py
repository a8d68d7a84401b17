"""`python -m bot chat`: a whole conversation in the terminal through the same pipeline."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from bench.common import free_port
from bot.config import ROOT
from dialogs.validators import generate_id_number


def test_chat_answers_questions_and_delivers_follow_ups(tmp_path):
    child = generate_id_number(dt.date(2016, 3, 2), "男", seq=298)
    lines = ["北京的孩子住院花了2万，一小医保能报多少钱", "我要参保", "上海市少儿住院互助基金集中参保", "同意", "韩小明",
             child, "静安区联航路4号", "是", "否", "北京东路", "韩大明", "17612342353", "确认提交"]
    # Nothing serves the pay link's page: the chat says what must run before it can be opened.
    env = {**os.environ, "BOT_DATA_DIR": str(tmp_path), "BOT_NOW": "2026-09-10T10:00:00+08:00",
           "BOT_PUBLIC_URL": f"http://127.0.0.1:{free_port()}"}
    roster = tmp_path / "roster.csv"
    roster.write_text(f"姓名,身份证号,班级,学校代码\n韩小明,{child},三(2)班,3101010001\n", encoding="utf-8")
    imported = subprocess.run([sys.executable, "-m", "bot", "roster", "import", str(roster)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    out = subprocess.run([sys.executable, "-m", "bot", "chat"], input="\n".join(lines) + "\n/quit\n", cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "欢迎" in out.stdout and "13545" in out.stdout
    assert "<a href" not in out.stdout  # links shown as their labels in a terminal
    assert "参保信息确认" in out.stdout and "已提交" in out.stdout
    assert child not in out.stdout and "*****" + child[-4:] in out.stdout
    assert "助手（通知）" in out.stdout  # the pre-review result arrived after the reply
    assert "/pay/checkout" in out.stdout and "请先在另一个终端运行 scripts/run.sh" in out.stdout


def test_schools_import_command_checks_and_installs_the_csv(tmp_path, monkeypatch):
    from bot.__main__ import main

    target = tmp_path / "schools.csv"
    monkeypatch.setattr("dialogs.schools.DEFAULT_FILE", str(target))  # keep the shipped file untouched
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,district,stage\n,无代码学校,黄浦区,小学\n", encoding="utf-8")
    assert main(["schools", "import", str(bad)]) == 1
    assert not target.exists()
    good = tmp_path / "good.csv"
    good.write_text("code,name,district,stage\n3101019999,黄浦区测试小学,黄浦区,小学\n", encoding="utf-8")
    assert main(["schools", "import", str(good)]) == 0
    assert "黄浦区测试小学" in target.read_text(encoding="utf-8")


def test_serve_links_follow_the_port_served():
    from bot.__main__ import local_url

    assert local_url("127.0.0.1", 9000) == "http://127.0.0.1:9000"
    assert local_url("0.0.0.0", 8081) == "http://127.0.0.1:8081"
    assert local_url("::", 8082) == "http://[::1]:8082"


def test_chat_link_to_a_page_no_server_serves_says_what_to_run():
    from bot.__main__ import terminal_text

    text = '请缴费：<a href="http://127.0.0.1:8080/pay/checkout?order=1">点击这里去缴费</a>'
    assert terminal_text(text) == "请缴费：点击这里去缴费（http://127.0.0.1:8080/pay/checkout?order=1）"
    assert "scripts/run.sh" in terminal_text(text, "http://127.0.0.1:8080")
    assert "scripts/run.sh" not in terminal_text(text, "http://127.0.0.1:9999")
