"""The benchmark grader's prompt and the reading of its 0–7 answers."""

from __future__ import annotations

import pytest

from prover.core.errors import ConfigError
from prover.informal.grader import GraderTemplate, load_grader_template, parse_grade


@pytest.mark.parametrize("text, points, status", [
    ("Fine. <points>7 out of 7</points>", 7, "ok"),
    ("<points> 6 </points>", 6, "ok"),
    ("<points>1/7</points>", 1, "ok"),
    ("first <points>7 out of 7</points> then <points>0 out of 7</points>", 0, "ok"),
    ("<think><points>7 out of 7</points></think>No marker.", None, "unparsed"),
    ("Score: \\boxed{6}", 6, "ok"),
    ("<points>9 out of 7</points>", None, "unparsed"),
    ("", None, "unparsed"),
    (None, None, "unparsed"),
])
def test_parse_grade(text, points, status):
    verdict = parse_grade(text)
    assert (verdict.points, verdict.status) == (points, status)


def test_render_keeps_braces_and_marks_the_reveal():
    text = GraderTemplate().render(statement="f(x) = {x}", solution="SOL", guidelines=None, proof="P {proof}")
    assert "f(x) = {x}" in text and "SOL" in text and "(none given)" in text and "P {proof}" in text
    assert "for the grader only" in text


def test_templates_file(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text('grader = "Grade {proof} of {statement} against {solution}."\n')
    t = load_grader_template(path)
    assert t.source == str(path) and t.render(statement="S", solution="R", guidelines="G", proof="P") == \
        "Grade P of S against R."
    assert t.fingerprint() != GraderTemplate().fingerprint()
    path.write_text('generation = "{statement}"\n')
    assert load_grader_template(path).source == "built-in"
    path.write_text('grader = "no placeholders"\n')
    with pytest.raises(ConfigError, match="lacks"):
        load_grader_template(path)


def test_split_templates_passes_the_rest_to_the_search(tmp_path):
    from prover.pipeline.evaluate import split_templates

    path = tmp_path / "t.toml"
    path.write_text('grader = "G {statement} {proof}"\n\n[generation]\ntemplate = "Prove: {statement}"\n')
    search, grader = split_templates(path)
    assert search.texts["generation"] == "Prove: {statement}" and search.source == str(path)
    assert grader.text == "G {statement} {proof}"
