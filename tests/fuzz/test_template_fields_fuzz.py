"""Any message text fits the template fields WeChat accepts: never an exception, never an empty title,
every value within its field type's limit."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from integrations.wechat.templates import TemplateNotice

NOW = dt.datetime(2026, 9, 27, 9, 0)
NOTICE = TemplateNotice.from_env({"WECHAT_TEMPLATE_ID": "T", "WECHAT_TEMPLATE_FIELDS":
                                  "thing1=title,character_string2=text,time3=date,remark=hint,first=text"})
LIMITS = {"thing1": 20, "character_string2": 32, "time3": 200, "remark": 200, "first": 200}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_any_text_fits_the_fields(text):
    data = NOTICE.data_for(text, NOW)
    assert set(data) == set(LIMITS)
    for key, value in data.items():
        assert isinstance(value, str) and len(value) <= LIMITS[key]
    if text.strip():
        assert data["thing1"]  # a non-blank message always has a title
