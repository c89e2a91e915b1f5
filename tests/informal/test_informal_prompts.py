"""Prompt templates: the output contract, the TOML override, placeholder checks."""

from __future__ import annotations

import pytest

from prover.core.errors import ConfigError
from prover.informal.prompts import DEFAULT_TEMPLATES, default_templates, load_templates

STATEMENT = "Prove that $\\{x\\}$ is {weird} but fine."


def test_default_prompts_keep_the_output_contract():
    t = default_templates()
    gen = t.generation(STATEMENT)
    assert STATEMENT in gen  # braces in the statement are left alone
    for phrase in ("## Solution", "## Self Evaluation", "Here is my evaluation of the solution:",
                   "Based on my evaluation, the final overall score should be:", "\\boxed{}"):
        assert phrase in gen
    ver = t.verification(STATEMENT, "PROOF TEXT")
    assert "PROOF TEXT" in ver and "Here is my evaluation of the solution:" in ver
    meta = t.meta_verification(STATEMENT, "PROOF TEXT", "ANALYSIS TEXT")
    assert 'Here is my analysis of the "solution evaluation":' in meta and "ANALYSIS TEXT" in meta
    ref = t.refinement(STATEMENT, "OLD PROOF", ["first issue", "second issue"])
    assert gen.strip() in ref and "--- Solution 0 ---\nOLD PROOF" in ref
    assert "=== Evaluation 0 of Solution 0 ===\nfirst issue" in ref
    assert "=== Evaluation 1 of Solution 0 ===\nsecond issue" in ref
    judge = t.answer_judge(STATEMENT, "2", "two")
    assert "\\boxed{yes}" in judge and "Answer B:\ntwo" in judge


def test_fingerprint_changes_with_templates(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('generation = "Prove: {statement}"\n')
    assert load_templates(f).fingerprint() != default_templates().fingerprint()
    assert load_templates(None).fingerprint() == default_templates().fingerprint()


def test_toml_override_format_syntax_with_official_names(tmp_path):
    # DeepSeekMath-V2's own templates use {question}, {rating}, {instruction}, {proofs_to_refine}
    # and Python format syntax (doubled literal braces).
    f = tmp_path / "official.toml"
    f.write_text('''
generation = "Q: {question} answer in \\\\boxed{{}}"
[meta_verification]
template = "S={statement} P={proof} R={rating}"
[refinement]
template = "{instruction}\\n---\\n{proofs_to_refine}"
''')
    t = load_templates(f)
    assert t.generation("1+1=2") == "Q: 1+1=2 answer in \\boxed{}"
    assert t.meta_verification("s", "p", "a") == "S=s P=p R=a"
    assert t.refinement("s", "p", ["a"]).startswith("Q: s answer in \\boxed{}\n---\n--- Solution 0 ---\np")
    # untouched templates stay built-in
    assert t.texts["verification"] == DEFAULT_TEMPLATES["verification"]


def test_toml_override_plain_syntax(tmp_path):
    f = tmp_path / "plain.toml"
    f.write_text('syntax = "plain"\nverification = "Grade {proof} for {statement}; write \\\\boxed{score} {other}"\n')
    t = load_templates(f)
    assert t.verification("S", "P") == "Grade P for S; write \\boxed{score} {other}"


@pytest.mark.parametrize("body,message", [
    ('generation = "no placeholder"', "must contain"),
    ('generation = "{statement} {proof}"', "{proof}"),
    ('verification = "{statement}"', "{proof}"),
    ('nonsense = "x"', "unknown template"),
    ('generation = "{statement} \\\\boxed{}"', "literal braces"),
    ('syntax = "jinja"', "syntax"),
    ('generation = 3', "string or a table"),
    ('[generation]\ntemplate = "{statement}"\nextra = 1', "unknown keys"),
    ('generation = "unterminated', "not valid TOML"),
])
def test_toml_errors(tmp_path, body, message):
    f = tmp_path / "bad.toml"
    f.write_text(body + "\n")
    with pytest.raises(ConfigError, match=message.replace("{", "\\{").replace("}", "\\}")):
        load_templates(f)


def test_missing_template_file(tmp_path):
    with pytest.raises(ConfigError):
        load_templates(tmp_path / "absent.toml")
