"""The scripted backend: rules, a queue, JSONL files."""

from __future__ import annotations

import asyncio
import json

import pytest

from prover.core.errors import BackendError, BadDataError
from prover.core.llm_records import ChatMessage, ModelConfig, ModelRequest, RoleSettings
from prover.llm import ModelClient
from prover.llm.scripted import ScriptedBackend


def ask_all(config, prompts, role="generator"):
    async def main():
        async with ModelClient(config) as client:
            out = []
            for p in prompts:
                out.append(await client.ask(role, p))
            return out
    return asyncio.run(main())


def test_jsonl_script_from_settings(tmp_path):
    script = tmp_path / "judge.jsonl"
    script.write_text("\n".join([
        "# rules first, then queued answers",
        json.dumps({"match": "2+2", "text": "4", "reasoning": "count"}),
        json.dumps({"role": "judge", "match": "truncate", "text": "half", "finish_reason": "length"}),
        "",
        json.dumps({"text": "first queued"}),
        json.dumps({"text": "second queued"}),
    ]))
    config = ModelConfig(defaults=RoleSettings(backend="scripted", script=str(script)))
    a, b, c, d = ask_all(config, ["what is 2+2", "next", "please truncate", "again"], role="judge")
    assert (a.text, a.reasoning, a.model) == ("4", "count", "scripted")
    assert b.text == "first queued" and c.truncated and d.text == "second queued"
    with pytest.raises(BackendError, match="no output for a judge call"):
        ask_all(config, ["x", "y", "z"], role="judge")


def test_role_rules_only_fit_their_role():
    backend = ScriptedBackend([{"role": "verifier", "text": "score 1"}, "generated"])
    config = ModelConfig(defaults=RoleSettings(backend="scripted"))

    async def main():
        async with ModelClient(config, backends={"verifier": backend, "generator": backend}) as c:
            return await c.ask("verifier", "grade"), await c.ask("generator", "write")
    v, g = asyncio.run(main())
    assert (v.text, g.text) == ("score 1", "generated")
    assert [call.role for call in backend.calls] == ["verifier", "generator"]


def test_bad_script_lines_name_file_and_line(tmp_path):
    script = tmp_path / "s.jsonl"
    script.write_text('{"text": "ok"}\n{"txet": "typo"}\n')
    with pytest.raises(BadDataError, match=r"s.jsonl:2.*txet"):
        ScriptedBackend.from_jsonl(script)
    script.write_text('{"text": "ok"\n')
    with pytest.raises(BadDataError, match=r"s.jsonl:1: not JSON"):
        ScriptedBackend.from_jsonl(script)
    with pytest.raises(BadDataError, match="cannot read"):
        ScriptedBackend.from_jsonl(tmp_path / "missing.jsonl")


def test_token_counts_default_to_words():
    backend = ScriptedBackend(["three word answer", {"text": "x", "prompt_tokens": 9, "completion_tokens": 8}])
    config = ModelConfig(defaults=RoleSettings(backend="scripted"))

    async def main():
        async with ModelClient(config, backends={"generator": backend}) as c:
            return await c.ask("generator", "two words"), await c.ask("generator", "other")
    a, b = asyncio.run(main())
    assert (a.prompt_tokens, a.completion_tokens) == (2, 3)
    assert (b.prompt_tokens, b.completion_tokens) == (9, 8)


def test_messages_reach_the_backend_unchanged():
    backend = ScriptedBackend(lambda call: " | ".join(m.role + ":" + m.content for m in call.messages))
    config = ModelConfig(defaults=RoleSettings(backend="scripted"))

    async def main():
        async with ModelClient(config, backends={"generator": backend}) as c:
            return await c.generate([ModelRequest(messages=(
                ChatMessage(role="system", content="be brief"), ChatMessage(role="user", content="hi")))])
    [[r]] = asyncio.run(main())
    assert r.text == "system:be brief | user:hi"


def test_without_a_script_the_error_says_how_to_set_one():
    config = ModelConfig(defaults=RoleSettings(backend="scripted"))
    with pytest.raises(BackendError, match=r"no output for a generator call.*PROVER_SCRIPT=FILE\.jsonl"):
        ask_all(config, ["prove it"])
