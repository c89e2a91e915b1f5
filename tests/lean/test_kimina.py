"""The Kimina client against a small HTTP server on 127.0.0.1 started by the test, which replays
the recorded `/verify` responses of the Kimina match fixtures (tests/fixtures/lean_recorded/kimina:
proof file → recorded response)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from prover.core.errors import ConfigError
from prover.core.lean_backend_records import LeanRunRequest
from prover.lean.kimina import KiminaBackend

pytestmark = pytest.mark.timeout(60)

KIMINA = Path(__file__).parent.parent / "fixtures" / "lean_recorded" / "kimina"


def recorded() -> dict[str, dict]:
    """proof text → recorded /verify response body."""
    return {p.read_text(encoding="utf-8"): json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))
            for p in sorted(KIMINA.glob("*.lean"))}


class Replay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, has_check: bool, busy_first: int = 0):
        super().__init__(("127.0.0.1", 0), Handler)
        self.table = recorded()
        self.has_check = has_check
        self.busy_left = busy_first
        self.seen: list[tuple[str, dict, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        server: Replay = self.server
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.seen.append((self.path, payload, dict(self.headers)))
        if server.busy_left:
            server.busy_left -= 1
            return self._send(429, {"detail": "No available REPLs"})
        if self.path == "/verify":
            proof = payload["codes"][0]["proof"]
            return self._send(200, server.table[proof])
        if self.path == "/api/check" and server.has_check:
            # Synthetic: the recorded /verify result re-shaped as the newer API's result.
            snippet = payload["snippets"][0]
            old = server.table[snippet["code"]]["results"][0]
            resp = dict(old["response"] or {})
            t = resp.pop("time", 0.0)
            return self._send(200, {"results": [{"id": snippet["id"], "time": t, "error": old["error"],
                                                 "response": resp or None}]})
        return self._send(404, {"detail": "Not Found"})


@pytest.fixture
def server(request):
    params = getattr(request, "param", {})
    srv = Replay(has_check=params.get("has_check", False), busy_first=params.get("busy_first", 0))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def proofs():
    return {p.stem: p.read_text(encoding="utf-8") for p in KIMINA.glob("*.lean")}


def test_verify_fallback_replays_recorded_responses(server):
    p = proofs()
    with KiminaBackend(server.url, api_key="sekret") as k:
        clean = k.check(LeanRunRequest(code=p["goedel-lean_workbook_10009"], timeout_s=60, request_id="a"))
        assert k.api == "verify"
        warned = k.check(p["goedel-lean_workbook_1001"])
        late = k.check(p["goedel-lean_workbook_10036"])
    assert clean.status == "ok" and clean.messages == [] and clean.backend == "kimina"
    assert "server time: 13.925 s" in clean.notes
    assert warned.status == "ok"
    assert [m["severity"] for m in warned.messages] == ["warning"] * 4
    assert "this tactic is never executed" in warned.messages[0]["data"]
    assert late.status == "timeout" and late.error == "Lean process timed out"
    # auto: /api/check first (404 here), then /verify, which is remembered.
    assert [path for path, _, _ in server.seen] == ["/api/check", "/verify", "/verify", "/verify"]
    _, body, headers = server.seen[1]
    assert body == {"codes": [{"custom_id": "a", "proof": p["goedel-lean_workbook_10009"]}], "timeout": 60,
                    "infotree_type": None, "disable_cache": False}
    assert headers["X-Auth-Token"] == "sekret"


@pytest.mark.parametrize("server", [{"has_check": True}], indirect=True)
def test_api_check(server):
    p = proofs()
    with KiminaBackend(server.url) as k:
        raw = k.check(LeanRunRequest(code=p["goedel-lean_workbook_1001"], timeout_s=20, request_id="x1"))
        assert k.api == "check"
    assert raw.status == "ok" and len(raw.messages) == 4
    path, body, _ = server.seen[0]
    assert path == "/api/check"
    assert body == {"snippets": [{"id": "x1", "code": p["goedel-lean_workbook_1001"]}], "timeout": 20,
                    "debug": False, "reuse": True}


@pytest.mark.parametrize("server", [{"busy_first": 2}], indirect=True)
def test_busy_server_is_retried(server):
    with KiminaBackend(server.url, api="verify", backoff_s=0.01) as k:
        raw = k.check(proofs()["goedel-lean_workbook_10009"])
    assert raw.status == "ok"
    assert len(server.seen) == 3


def test_unreachable_server_is_unavailable():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with KiminaBackend(f"http://127.0.0.1:{port}", api="verify") as k:
        raw = k.check("theorem t : True := trivial")
    assert raw.status == "unavailable"
    assert f"127.0.0.1:{port}" in raw.error


def test_needs_url(monkeypatch):
    monkeypatch.delenv("LEAN_SERVER_API_URL", raising=False)
    with pytest.raises(ConfigError, match="server URL"):
        KiminaBackend()


def test_repl_error_message_in_response():
    raw = KiminaBackend.from_result({"custom_id": "x", "error": None, "response": {"message": "Unknown environment."}})
    assert raw.status == "error" and raw.error == "Unknown environment."
