"""School directory search and CSV import; every shipped form loads and routes."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from dialogs.forms import FormMachine, FormModel, copy_json, load_forms
from dialogs.schools import SHANGHAI_DISTRICTS, SchoolDirectory, SchoolImportError, district_of, import_csv

from tests.dialogs.conftest import POLICIES

SHIPPED = POLICIES / "schools" / "shanghai.csv"


def test_sample_directory_covers_every_district():
    directory = SchoolDirectory.load(SHIPPED)
    assert 55 <= len(directory) <= 80
    assert directory.districts() == list(SHANGHAI_DISTRICTS)
    assert directory.get("3101010001").name == "黄浦区北京东路小学"


def test_fuzzy_search():
    directory = SchoolDirectory.load(SHIPPED)
    assert [s.name for s in directory.search("北京东路小学")] == ["黄浦区北京东路小学"]
    assert directory.search("张江高中")[0].name == "上海市浦东新区张江高级中学"
    assert {s.district for s in directory.search("东方路", district="浦东新区")} == {"浦东新区"}
    assert directory.search("完全不存在") == []
    assert district_of("浦东") == "浦东新区" and district_of("静安") == "静安区" and district_of("杭州") is None


def test_import_replaces_the_directory_atomically(tmp_path: Path):
    source = tmp_path / "in.csv"
    source.write_bytes("code,name,district,stage\nX1,测试路小学,黄浦区,小学\n\nX2,测试幼儿园,崇明区,幼儿园\n"
                       .encode("gb18030"))
    target = tmp_path / "schools" / "shanghai.csv"
    assert import_csv(source, target) == 2
    assert SchoolDirectory.load(target).get("X2").district == "崇明区"


def test_import_reports_every_bad_line_and_keeps_the_old_file(tmp_path: Path):
    target = tmp_path / "shanghai.csv"
    target.write_text("code,name,district,stage\nOLD,旧小学,黄浦区,小学\n", encoding="utf-8")
    source = tmp_path / "bad.csv"
    source.write_text("code,name,district,stage\nA,甲小学,杭州区,小学\nA,乙小学,黄浦区,小学\nA,丙小学,黄浦区,小学\n,丁,黄浦区,小学\n",
                      encoding="utf-8")
    with pytest.raises(SchoolImportError) as err:
        import_csv(source, target)
    assert "第2行" in str(err.value) and "第4行" in str(err.value) and "第5行" in str(err.value)
    assert SchoolDirectory.load(target).get("OLD")
    (tmp_path / "nohead.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(SchoolImportError, match="表头"):
        import_csv(tmp_path / "nohead.csv", target)


def test_forms_route_through_their_machines():
    forms = load_forms(POLICIES / "forms")
    assert set(forms) == {"sh-child-fund", "sh-resident-student", "nb-civil-servant-children",
                          "xc-hfut-college", "bj-child-student"}
    machine = FormMachine(forms["sh-child-fund"])
    model = FormModel({"state": "id_number", "slots": {"child": {"id_type": "护照"}}})
    assert machine.advance(model) and model.state == "sex"  # no derived birth date for a passport
    model = FormModel({"state": "id_number", "slots": {"child": {"id_type": "身份证"}}})
    assert machine.advance(model) and model.state == "address"  # birth date and sex go onto the 确认 page
    model = FormModel({"state": "hukou_district", "slots": {"category": "上海户籍人员"}})
    assert machine.advance(model) and model.state == "hardship"  # the confirmed 户籍 gave the category
    model = FormModel({"state": "school", "slots": {"roster": "missing", "roster_school_uploaded": True}})
    assert machine.advance(model) and model.state == "roster_missing_listed"
    assert machine.machine.models == []


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=30)


@settings(max_examples=200, deadline=None)
@given(json_like)
def test_copy_json_is_a_deep_copy(data):
    copied = copy_json(data)
    assert copied == copy.deepcopy(data)
    if isinstance(data, (dict, list)):  # changing the copy, at any depth, leaves the original alone
        before = copy.deepcopy(data)
        stack = [copied]
        while stack:
            node = stack.pop()
            children = list(node.values()) if isinstance(node, dict) else list(node)
            stack += [child for child in children if isinstance(child, (dict, list))]
            if isinstance(node, dict):
                node["changed"] = 1
            else:
                node.append(1)
        assert data == before
