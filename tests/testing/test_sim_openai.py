"""The simulated model server (prover/testing/sim_openai.py) through prover's own OpenAI backend,
with prompts rendered by prover's own templates and answers read by prover's own parsers. Its
answers come from tags, not from a model: these tests check contracts and faults, never quality."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from prover.core.llm_records import CallRequest, ChatMessage, RoleSettings
from prover.formal import prompts as fp
from prover.formal.leantext import extract_lean, parse_vote, split_steps
from prover.informal.parsers import parse_generation, parse_meta, parse_verdict
from prover.informal.prompts import default_templates
from prover.llm.openai_backend import OpenAIBackend
from prover.testing.oracle import TAG_BAD, TAG_GAP, TAG_OK, judge
from prover.testing.sim_openai import SimModelConfig, SimServer

pytestmark = pytest.mark.timeout(60)

STATEMENT = "Let a and b be natural numbers with a = 2 and b = 3. Prove that a + b = 5."
TOY = "import Mathlib\n\ntheorem toy_sum (a b : ℕ) (h₀ : a = 2) (h₁ : b = 3) : a + b = 5 := by sorry"
QUIET = {"latency_median_s": 0.0}


@pytest.fixture
def serve():
    servers = []

    def start(**config) -> SimServer:
        s = SimServer(SimModelConfig(**{**QUIET, **config})).start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()


def ask(server: SimServer, prompt: str, seed: int = 1, role: str = "generator"):
    backend = OpenAIBackend(RoleSettings(base_urls=(server.url,), model="twin"))
    call = CallRequest(role=role, backend="openai", model="twin", seed=seed,
                       messages=(ChatMessage(role="user", content=prompt),))

    async def go():
        try:
            return await backend.generate(call)
        finally:
            await backend.aclose()

    return asyncio.run(go())


def test_informal_roles_answer_in_their_contracts(serve):
    server = serve(proof_correct=0.5)
    t = default_templates()
    proofs = [parse_generation(ask(server, t.generation(STATEMENT), seed=i).text) for i in range(12)]
    assert all(p.status == "ok" and p.self_score is not None for p in proofs)
    correct = [p for p in proofs if f"[{TAG_GAP}]" not in p.proof]
    assert 0 < len(correct) < len(proofs)  # both kinds at proof_correct = 0.5
    assert all(len(split_steps(p.proof)) >= 2 for p in proofs)
    good, gap = correct[0].proof, next(p.proof for p in proofs if f"[{TAG_GAP}]" in p.proof)
    exact = serve(verifier_accuracy=1.0, meta_accuracy=1.0)
    v_good = parse_verdict(ask(exact, t.verification(STATEMENT, good), role="verifier").text)
    v_gap = ask(exact, t.verification(STATEMENT, gap), role="verifier").text
    assert v_good.score == 1.0 and parse_verdict(v_gap).score == 0.0
    meta = parse_meta(ask(exact, t.meta_verification(STATEMENT, gap, v_gap), role="meta_verifier").text)
    assert meta.score == 1.0
    refined = parse_generation(ask(server, t.refinement(STATEMENT, gap, [v_gap])).text)
    assert refined.status == "ok"


def test_formal_roles_answer_in_their_contracts(serve):
    server = serve(node_success=1.0, direct_success=0.0, faithful_rate=1.0)
    steps = ["Since a = 2 and b = 3, a + b = 2 + 3. [twin:ok]", "So a + b = 5. [twin:gap]"]
    sketch = extract_lean(ask(server, fp.sketch(STATEMENT, TOY, steps, False), role="formalizer").text)
    assert "-- Step 1" in sketch and "-- Step 2" in sketch and sketch.count(":= by sorry") == 2
    from prover.formal.sketch import parse_sketch
    from prover.lean.problem import LeanProblem

    sk = parse_sketch(sketch, LeanProblem.parse(TOY))
    assert [s.nl_step for s in sk.holes] == [1, 2] and all(s.goal is not None for s in sk.holes)
    node = sk.node_problem(sk.holes[0])
    ok = extract_lean(ask(server, fp.node_proof(node, steps[0]), role="prover").text)
    gap = extract_lean(ask(server, fp.node_proof(node, steps[1]), role="prover").text)
    assert TAG_OK in ok and TAG_BAD not in ok and f"{TAG_BAD} (gap)" in gap
    assert judge(ok).messages == [] and judge(gap).messages[0]["severity"] == "error"
    assert TAG_BAD in extract_lean(ask(server, fp.whole_proof(TOY), role="prover").text)
    assert "(gap)" in extract_lean(ask(server, fp.repair(gap, "line 3: error: unsolved goals"), role="prover").text)
    assert parse_vote(ask(server, fp.faithfulness(STATEMENT, "a restatement", TOY), role="judge").text) is True
    assert extract_lean(ask(server, fp.autoformalize(STATEMENT, None), role="formalizer").text).startswith("import")


def test_answers_are_a_function_of_the_request(serve):
    a, b = serve(), serve()
    prompt = default_templates().generation(STATEMENT)
    assert ask(a, prompt, seed=3).text == ask(b, prompt, seed=3).text != ask(a, prompt, seed=4).text


def test_429_carries_retry_after_then_the_answer_comes(serve):
    server = serve(rate_limit_rate=1.0, retry_after_s=2.5, max_failures_per_key=1, burst_s=0.0)
    first = ask(server, "Solve the problem below with a complete and rigorous proof. x")
    assert first.error and first.transient and first.http_status == 429 and first.retry_after_s == 2.5
    second = ask(server, "Solve the problem below with a complete and rigorous proof. x")
    assert second.error is None and second.text


def test_outage_5xx_truncation_and_reasoning(serve):
    server = serve(truncate_rate=1.0)
    got = ask(server, default_templates().generation(STATEMENT))
    assert got.finish_reason == "length" and got.reasoning and "## Self Evaluation" not in got.text
    down = serve()
    req = urllib.request.Request(down.url.rsplit("/v1", 1)[0] + "/admin/outage", method="POST",
                                 data=json.dumps({"seconds": 30}).encode(), headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=10).read()
    out = ask(down, "anything")
    assert out.http_status == 503 and out.transient
    failing = serve(error_rate=1.0, max_failures_per_key=5)
    err = ask(failing, "anything")
    assert err.transient and err.http_status in (500, 502, 503)
