"""The openai backend and the client's retries, against the fault-injecting server."""

from __future__ import annotations

import asyncio

import pytest

from fake_openai import FakeOpenAIServer
from prover.core.errors import BackendError
from prover.core.llm_records import ModelConfig, RoleSettings
from prover.llm import MemoryCallStore, ModelClient

pytestmark = pytest.mark.timeout(60)


def config(url: str | list[str], **kw) -> ModelConfig:
    settings = dict(model="m", base_urls=url, backoff_s=0.01, max_backoff_s=0.05, max_retries=3,
                    timeout_s=5, concurrency=8)
    settings.update(kw)
    return ModelConfig(defaults=RoleSettings(**settings))


def ask(cfg: ModelConfig, prompts: list[str], store=None, **params):
    async def main():
        async with ModelClient(cfg, store=store) as client:
            results = []
            for p in prompts:
                results.append(await client.ask("generator", p, **params))
            return results, client.stats
    return asyncio.run(main())


def test_answer_is_parsed_and_no_authorization_without_key(fake_server, no_api_key):
    [r], stats = ask(config(fake_server.url), ["hello there"])
    assert r.ok and r.text == "echo: hello there" and r.finish_reason == "stop"
    assert (r.prompt_tokens, r.completion_tokens) == (2, 3)
    assert r.attempts == 1 and r.latency_s is not None and r.latency_s > 0
    hit = fake_server.hits[0]
    assert hit.path == "/v1/chat/completions"
    assert "authorization" not in hit.headers
    assert hit.body == {"model": "m", "messages": [{"role": "user", "content": "hello there"}]}


def test_sampling_params_are_sent(fake_server, no_api_key):
    ask(config(fake_server.url, temperature=0.7, max_tokens=50), ["x"], top_p=0.9, seed=5,
        stop=("END",))
    body = fake_server.hits[0].body
    assert body["temperature"] == 0.7 and body["max_tokens"] == 50
    assert body["top_p"] == 0.9 and body["seed"] == 5 and body["stop"] == ["END"]


def test_api_key_from_environment_is_sent_and_never_stored(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-secret-123")
    store = MemoryCallStore()
    with FakeOpenAIServer(api_key="sk-secret-123") as server:
        [r], _ = ask(config(server.url, api_key_env="MY_KEY"), ["hi"], store=store)
        assert r.ok
        assert server.hits[0].headers["authorization"] == "Bearer sk-secret-123"
    dumped = "".join(rec.model_dump_json() for rec in store.records.values())
    assert "sk-secret" not in dumped and r.key not in ("", None)


def test_401_names_the_missing_variable(no_api_key):
    with FakeOpenAIServer(api_key="k") as server:
        with pytest.raises(BackendError, match="OPENAI_API_KEY"):
            ask(config(server.url), ["hi"])
        assert len(server.hits) == 1  # not retried


def test_401_with_a_key_says_it_was_rejected(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    with FakeOpenAIServer(api_key="k") as server:
        with pytest.raises(BackendError, match=r"key in \$OPENAI_API_KEY was rejected"):
            ask(config(server.url), ["hi"])


def test_404_model_is_a_backend_error(fake_server, no_api_key):
    with pytest.raises(BackendError, match="missing-model"):
        ask(config(fake_server.url, model="missing-model"), ["hi"])


def test_429_honours_retry_after(fake_server, no_api_key):
    [r], stats = ask(config(fake_server.url), ["slow down [429x1]"])
    assert r.ok and r.attempts == 2 and stats.retries == 1
    first, second = fake_server.hits
    # Our own backoff is at most 0.05 s here: only Retry-After (1 s) explains a longer gap.
    assert second.at - first.at >= 0.9


def test_500_is_retried(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url), ["flaky [500x2]"])
    assert r.ok and r.attempts == 3 and len(fake_server.hits) == 3


def test_retries_exhausted_store_a_transient_error(fake_server, no_api_key):
    store = MemoryCallStore()
    [r], stats = ask(config(fake_server.url, max_retries=2), ["down [500]"], store=store)
    assert r.status == "error" and r.transient and r.attempts == 3
    assert "HTTP 500" in r.error and stats.errors == 1
    rec = store.records[r.key]
    assert rec.status == "error" and rec.transient and rec.attempts == 3


def test_hang_times_out_and_is_transient(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url, timeout_s=0.3, max_retries=1), ["[hang]"])
    assert r.status == "error" and r.transient and "no answer within 0.3 s" in r.error
    assert len(fake_server.hits) == 2


def test_malformed_json_is_a_definitive_error(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url), ["[malformed]"])
    assert r.status == "error" and not r.transient and "malformed chat completion" in r.error
    assert len(fake_server.hits) == 1


def test_dropped_connection_is_retried(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url), ["[dropx1] cut"])
    assert r.ok and r.attempts == 2 and r.text == "echo: [dropx1] cut"


def test_400_is_a_definitive_error_with_the_servers_message(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url), ["too long [400]"])
    assert r.status == "error" and not r.transient and "maximum context length" in r.error


def test_length_is_truncated_never_ok(fake_server, no_api_key):
    store = MemoryCallStore()
    [r], stats = ask(config(fake_server.url), ["[length]"], store=store)
    assert r.truncated and not r.ok and r.text == "echo: partial" and stats.truncated == 1
    assert store.records[r.key].status == "truncated"


def test_reasoning_content_is_kept_apart(fake_server, no_api_key):
    [r], _ = ask(config(fake_server.url), ["[reasoning] why"])
    assert r.ok and r.text == "echo: [reasoning] why" and r.reasoning == "thinking about it"


def test_connection_refused_is_a_transient_error(no_api_key):
    with FakeOpenAIServer() as server:
        url = server.url
    [r], _ = ask(config(url, max_retries=1), ["anyone?"])
    assert r.status == "error" and r.transient and "cannot connect" in r.error


def test_requests_are_spread_over_base_urls(no_api_key):
    with FakeOpenAIServer(delay_s=0.05) as a, FakeOpenAIServer(delay_s=0.05) as b:
        cfg = config([a.url, b.url], concurrency=8)

        async def main():
            async with ModelClient(cfg) as client:
                await asyncio.gather(*(client.ask("generator", f"p{i}") for i in range(16)))
        asyncio.run(main())
        assert len(a.hits) + len(b.hits) == 16
        assert len(a.hits) >= 4 and len(b.hits) >= 4


def test_keep_alive_reuses_connections(fake_server, no_api_key):
    ask(config(fake_server.url), ["a", "b", "c"])
    assert len(fake_server.hits) == 3 and fake_server.connections == 1
