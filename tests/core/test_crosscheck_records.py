"""Parsing of cross-check sources and --grade specs."""

from __future__ import annotations

import json

import pytest

from prover.core.crosscheck_records import CrossCheckReport, ValueSource
from prover.core.errors import UsageError
from prover.core.grade_records import GradeSpec


@pytest.mark.parametrize("text,kind,model,name", [
    ("lean", "lean", None, None),
    ("verifier", "verifier", None, None),
    ("verifier:deepseek-ai/DeepSeek-Math-V2", "verifier", "deepseek-ai/DeepSeek-Math-V2", None),
    ("label", "label", None, None),
    ("answer", "answer", None, None),
    ("human", "grade", None, "human"),
])
def test_value_source(text, kind, model, name):
    src = ValueSource.parse(text)
    assert (src.kind, src.model, src.name) == (kind, model, name)
    assert str(src) == text


@pytest.mark.parametrize("text", ["", "verifier:", "lean:x", "human:7"])
def test_value_source_errors(text):
    with pytest.raises(UsageError):
        ValueSource.parse(text)


def test_grade_spec_with_max():
    spec = GradeSpec.parse("human=model_prediction.human_rating:7", human_names={"human"})
    assert (spec.name, spec.path, spec.max, spec.human) == (
        "human", "model_prediction.human_rating", 7.0, True)


def test_grade_spec_without_max_and_last_colon():
    spec = GradeSpec.parse("auto=model_prediction.average_automatic_rating")
    assert (spec.path, spec.max, spec.human) == ("model_prediction.average_automatic_rating", None, False)
    assert GradeSpec.parse("g=a:b:10").path == "a:b" and GradeSpec.parse("g=a:b:10").max == 10


@pytest.mark.parametrize("text,fragment", [
    ("human", "NAME=PATH"),
    ("=x", "NAME=PATH"),
    ("h=", "NAME=PATH"),
    ("h=x:seven", "must be a number"),
    ("h=x:0", "> 0"),
    ("h=x:-7", "> 0"),
    ("h=:7", "path is empty"),
    ("lean=x", "reserved"),
    ("Verifier=x", "reserved"),
    ("label=x", "reserved"),
    ("answer=x:1", "reserved"),
    ("a b=x", "letters"),
])
def test_grade_spec_errors(text, fragment):
    with pytest.raises(UsageError, match=fragment):
        GradeSpec.parse(text)


def test_report_json_groups_only_with_by():
    plain = CrossCheckReport(n=0).to_json_dict()
    assert "groups" not in plain and "by" not in plain
    grouped = CrossCheckReport(n=0, by="source", groups={"x": CrossCheckReport(n=1, auc=float("nan"))})
    data = grouped.to_json_dict()
    assert data["groups"]["x"]["auc"] is None and "groups" not in data["groups"]["x"]
    json.dumps(data, allow_nan=False)
