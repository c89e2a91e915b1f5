"""The formal stage's Lean runner keeps as many checks in flight as the backend allows — file
mode and Kimina too, not only the REPL pool — and spreads Kimina checks over several servers.

No Lean here: file mode runs a stand-in command that sleeps and logs when it ran; the Kimina
servers are an in-process transport that sleeps and counts the requests in flight. Nothing is a
verdict of Lean's; only concurrency and balance are checked."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import httpx
import pytest

from formal_support import pin
from prover.formal.checker import LeanRunner
from prover.lean.file_mode import FileBackend
from prover.lean.kimina import KiminaBackend

pytestmark = pytest.mark.timeout(60)

SLEEPER = """
import json, sys, time
t0 = time.time(); time.sleep(0.4)
with open(sys.argv[1], "a") as f:
    f.write(json.dumps([t0, time.time()]) + "\\n")
"""


def elaborate_all(runner: LeanRunner, n: int) -> None:
    async def main():
        await asyncio.gather(*(runner.elaborate(f"theorem t{i} : True := trivial\n") for i in range(n)))

    asyncio.run(main())


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(a, 1) for a, _ in intervals] + [(b, -1) for _, b in intervals])
    best = cur = 0
    for _, d in events:
        cur += d
        best = max(best, cur)
    return best


def test_file_mode_runs_lean_processes_checks_at_once(tmp_path):
    script, log = tmp_path / "sleeper.py", tmp_path / "runs.log"
    script.write_text(SLEEPER, encoding="utf-8")
    backend = FileBackend(tmp_path, [sys.executable, "-S", str(script), str(log)], memory_cap_bytes=None,
                          max_processes=3)
    assert backend.size == 3
    elaborate_all(LeanRunner(backend, pin()), 6)
    runs = [tuple(json.loads(line)) for line in log.read_text().splitlines()]
    assert len(runs) == 6 and most_at_once(runs) == 3


class Servers(httpx.BaseTransport):
    """Kimina servers that answer `/api/check` after a short sleep, counting requests in flight."""

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = self.most = 0
        self.by_host: dict[str, int] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.by_host[request.url.host] = self.by_host.get(request.url.host, 0) + 1
        time.sleep(0.2)
        with self.lock:
            self.in_flight -= 1
        rid = json.loads(request.content)["snippets"][0]["id"]
        return httpx.Response(200, json={"results": [{"id": rid, "time": 0.1, "response": {"env": 0}}]})


def test_kimina_runs_lean_processes_checks_at_once_over_several_servers():
    servers = Servers()
    backend = KiminaBackend("http://kimina-a:8000, http://kimina-b:8000", transport=servers, size=4)
    assert backend.urls == ["http://kimina-a:8000", "http://kimina-b:8000"] and backend.size == 4
    elaborate_all(LeanRunner(backend, pin()), 8)
    assert servers.most == 4
    assert set(servers.by_host) == {"kimina-a", "kimina-b"} and min(servers.by_host.values()) >= 3
    assert KiminaBackend(["http://a:1", "http://b:2"], transport=servers).size == 8  # four per server
