"""A client killed mid-batch re-sends at most the calls in flight, and stores each answer once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from fake_openai import FakeOpenAIServer
from prover.store import ProofStore
from prover.store.schema import ModelCall

pytestmark = pytest.mark.timeout(90)

CHILD = Path(__file__).with_name("crash_client.py")
N, CONCURRENCY = 80, 8


def run_child(db: Path, url: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("OPENAI_API_KEY", None)
    return subprocess.Popen([sys.executable, str(CHILD), str(db), url, str(N), str(CONCURRENCY)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_sigkill_mid_batch_resends_at_most_the_calls_in_flight(tmp_path):
    db = tmp_path / "prover.db"
    with FakeOpenAIServer(delay_s=0.1) as server:
        child = run_child(db, server.url)
        deadline = time.monotonic() + 60
        while len(server.hits) < N // 3:
            assert child.poll() is None, child.stderr.read()
            assert time.monotonic() < deadline, "the client never got going"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        hits_before = len(server.hits)
        assert hits_before < N, "the batch finished before the kill: make the server slower"

        again = run_child(db, server.url)
        out, err = again.communicate(timeout=60)
        assert again.returncode == 0, err
        stats = json.loads(out.strip().splitlines()[-1])

        contents = server.contents()
        distinct = set(contents)
        assert distinct == {f"question {i}" for i in range(N)}
        resent_for_real = len(contents) - len(distinct)
        assert resent_for_real <= CONCURRENCY
        # The count the run reports is an upper bound: a pending row may not have reached the
        # server yet when the process died.
        assert resent_for_real <= stats["resent"] <= CONCURRENCY
        assert stats["cached"] + stats["sent"] == N
        assert stats["sent"] == len(contents) - hits_before  # no faults: one hit per call sent
        print(f"hits before the kill {hits_before}, re-sent {resent_for_real}, stats {stats}")

    with ProofStore.open(db) as store:
        with store.session() as s:
            rows = s.execute(select(ModelCall.request, ModelCall.status, ModelCall.response_text)).all()
    assert len(rows) == N
    assert {r.status for r in rows} == {"ok"}
    assert sorted(r.request["messages"][0]["content"] for r in rows) == sorted(f"question {i}" for i in range(N))
    assert all(r.response_text == "echo: " + r.request["messages"][0]["content"] for r in rows)
