"""``prover models test`` against the fault-injecting server of tests/llm."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from prover.cli.main import cli

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "llm"))
from fake_openai import FakeOpenAIServer  # noqa: E402

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def invoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no prover.toml here; and any database file would land here
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    for name in [n for n in __import__("os").environ if n.startswith("PROVER_") and n != "PROVER_SHARED"]:
        monkeypatch.delenv(name)

    def run(*args):
        result = CliRunner().invoke(cli, [str(a) for a in args])
        assert not list(tmp_path.iterdir()), "models test must not create files"
        return result
    return run


def test_one_request_per_endpoint(invoke):
    with FakeOpenAIServer() as a, FakeOpenAIServer() as b:
        r = invoke("models", "test", "--model", "m", "--base-url", a.url,
                   "--role", f"prover.base_url={b.url}", "--role", "prover.model=lean", "--json")
        assert r.exit_code == 0, r.output
        probes = json.loads(r.output)
        assert [(p["roles"], p["model"], p["ok"]) for p in probes] == [
            (["generator", "verifier", "meta_verifier", "formalizer", "judge"], "m", True),
            (["prover"], "lean", True)]
        assert probes[0]["reply"].startswith("echo: Reply with the single word")
        assert probes[0]["latency_s"] > 0
        assert len(a.hits) == 1 and len(b.hits) == 1 and b.hits[0].body["model"] == "lean"


def test_table_output_and_role_selection(invoke):
    with FakeOpenAIServer() as server:
        r = invoke("models", "test", "--model", "m", "--base-url", server.url, "--role", "judge")
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert lines[0].split("\t") == ["roles", "backend", "model", "base URL", "latency", "reply"]
        row = lines[1].split("\t")
        assert row[:4] == ["judge", "openai", "m", server.url] and row[4].endswith(" s")
        assert row[5].startswith("echo: Reply")


def test_unreachable_backend_exits_3(invoke):
    with FakeOpenAIServer() as server:
        url = server.url  # stopped on leaving the block: nothing listens there any more
    r = invoke("models", "test", "--model", "m", "--base-url", url, "--timeout", "2")
    assert r.exit_code == 3
    assert "FAILED: " in r.output and "cannot connect" in r.output
    assert "Error: generator, verifier, meta_verifier, formalizer, prover, judge (openai m) cannot answer" in r.output


def test_rate_limited_server_is_reachable_not_failed(invoke):
    # Retry-After 30 s does not fit in a 2 s timeout: no wait, reported as rate-limited, exit 0.
    with FakeOpenAIServer(rate_limit=-1, retry_after="30") as server:
        r = invoke("models", "test", "--model", "m", "--base-url", server.url, "--role", "judge", "--timeout", "2")
        assert r.exit_code == 0, r.output
        assert ("RATE-LIMITED (HTTP 429: reachable, over its rate limit; Retry-After 30 s; a run waits and "
                "retries)") in r.output and "FAILED" not in r.output
        r = invoke("models", "test", "--model", "m", "--base-url", server.url, "--role", "judge", "--timeout", "2",
                   "--json")
        [probe] = json.loads(r.output)
        assert (probe["ok"], probe["rate_limited"], probe["retry_after_s"]) == (False, True, 30.0)
    # without Retry-After: the same, with nothing to wait for
    with FakeOpenAIServer(rate_limit=-1, retry_after=None) as server:
        r = invoke("models", "test", "--model", "m", "--base-url", server.url, "--role", "judge", "--json")
        [probe] = json.loads(r.output)
        assert r.exit_code == 0 and (probe["rate_limited"], probe["retry_after_s"]) == (True, None)


def test_retry_after_within_the_timeout_is_honoured(invoke):
    # The client's two attempts get 429 with Retry-After 1; the probe waits 1 s and is answered.
    with FakeOpenAIServer(rate_limit=2, retry_after="1") as server:
        r = invoke("models", "test", "--model", "m", "--base-url", server.url, "--role", "judge", "--json")
        assert r.exit_code == 0, r.output
        [probe] = json.loads(r.output)
        assert (probe["ok"], probe["rate_limited"]) == (True, False) and len(server.hits) == 3


def test_missing_key_exits_3_naming_the_variable(invoke):
    with FakeOpenAIServer(api_key="k") as server:
        r = invoke("models", "test", "--model", "m", "--base-url", server.url,
                   "--api-key-env", "DEEPSEEK_API_KEY")
    assert r.exit_code == 3 and "DEEPSEEK_API_KEY" in r.output


def test_no_model_is_a_usage_error(invoke):
    # A base URL says "a server", so the embedded default does not apply; a model is missing.
    r = invoke("models", "test", "--base-url", "http://127.0.0.1:9/v1")
    assert r.exit_code == 2 and "no model configured" in r.output


def test_bad_role_override_is_a_usage_error(invoke):
    r = invoke("models", "test", "--model", "m", "--role", "judge.colour=red")
    assert r.exit_code == 2 and "unknown model setting 'colour'" in r.output


def test_scripted_backend_from_the_command_line(invoke, tmp_path):
    script = tmp_path.parent / "script.jsonl"
    script.write_text('{"match": "ready", "text": "ready"}\n')
    r = invoke("models", "test", "--backend", "scripted", "--role", f"judge.script={script}",
               "--role", "judge", "--json")
    assert r.exit_code == 0, r.output
    [probe] = json.loads(r.output)
    assert (probe["backend"], probe["model"], probe["reply"]) == ("scripted", "scripted", "ready")
