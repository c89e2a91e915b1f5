"""A simulated OpenAI-compatible chat-completions server answering every role of prover in its
output contract, with configurable quality and faults.

    python -m prover.testing.sim_openai [--port 0] [--config FILE|JSON] [--log FILE]

It prints ``listening on http://127.0.0.1:PORT/v1`` once ready. ``POST /v1/chat/completions``
answers; ``POST /admin/outage`` with ``{"seconds": S}`` makes every request fail with 503 for S
seconds (a model-server outage); ``GET /admin/stats`` gives counts.

Answers are a deterministic function of the request (model, messages, seed, temperature,
max_tokens), so that a run interrupted and continued gets the same answers as one that was not:

* generator: ``## Solution`` with steps ``Step K. ... [twin:ok]`` (or one ``[twin:gap]``: the
  proof is correct with probability ``proof_correct``, ``refine_correct`` for a refinement), then
  ``## Self Evaluation`` with the contract's score sentence;
* verifier: sees the tags; right with probability ``verifier_accuracy`` (score 1, or 0 with an
  issue); meta-verifier: rates an analysis 1 when its claim matches the tags (with
  ``meta_accuracy``);
* formalizer: statements, back-translations and sketches (``have hK : ... := by sorry`` per NL
  step, tagged ``-- Step K``); prover: ```lean4 blocks whose lines carry ``-- twin:ok`` /
  ``-- twin:bad`` (see ``prover.testing.oracle``) — a node proof succeeds when its NL step was
  correct (probability ``node_success``), a direct whole proof with ``direct_success``, a repair
  with ``repair_success`` unless the failure came from a gap; judge: ``\\boxed{yes|no}``.

Faults: lognormal latency; 429 bursts with ``Retry-After`` (``rate_limit_rate`` starts a burst of
``burst_s`` seconds); 5xx (``error_rate``); truncation (``truncate_rate``: cut text,
``finish_reason: length``, chosen by the request's hash so that reruns agree); a request fails
transiently at most ``max_failures_per_key`` times in a row, fewer than the client's retries.
``reasoning_content`` carries the thinking when ``reasoning`` is on. ``--log``: one JSON line per
request (key, role, status, received and answered times). Never evidence about real models."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pydantic import BaseModel, ConfigDict

from prover.testing.oracle import TAG_BAD, TAG_GAP, TAG_OK, stable_unit


class SimModelConfig(BaseModel):
    """How the simulated models behave (probabilities, seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proof_correct: float = 0.35
    refine_correct: float = 0.5
    verifier_accuracy: float = 0.9
    meta_accuracy: float = 0.9
    faithful_rate: float = 0.95
    align_rate: float = 0.95
    direct_success: float = 0.05
    node_success: float = 0.8
    repair_success: float = 0.3
    latency_median_s: float = 0.05
    latency_sigma: float = 1.0
    max_latency_s: float = 20.0
    rate_limit_rate: float = 0.0
    """Chance that a request starts a 429 burst."""
    burst_s: float = 1.0
    retry_after_s: float = 1.0
    error_rate: float = 0.0
    """Chance of a 500/502/503 answer."""
    truncate_rate: float = 0.0
    max_failures_per_key: int = 2
    reasoning: bool = True
    seed: int = 0


def request_key(body: dict) -> str:
    """What makes the answer: the same fields prover's call key hashes (roles aside)."""
    keep = {k: body.get(k) for k in ("model", "messages", "seed", "temperature", "top_p", "max_tokens", "stop")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _lean_blocks(text: str) -> list[str]:
    return re.findall(r"```lean4?\n(.*?)```", text, re.S)


def _statement_head(lean: str) -> str:
    """A problem file without its closing ``:= by sorry`` (or bare ``:= by``)."""
    return re.sub(r":=\s*(?:by)?\s*(?:sorry)?\s*$", "", lean.strip()).rstrip()


def _section(text: str, start: str, end: str | None = None) -> str:
    i = text.find(start)
    if i < 0:
        return ""
    rest = text[i + len(start):]
    if end is not None and end in rest:
        rest = rest[:rest.find(end)]
    return rest.strip()


class Responder:
    """The deterministic answers."""

    def __init__(self, config: SimModelConfig):
        self.c = config

    def u(self, key: str, *parts: str) -> float:
        return stable_unit(str(self.c.seed), key, *parts)

    def answer(self, key: str, prompt: str) -> tuple[str, str, str]:
        """(role it answered as, text, reasoning)."""
        for marker, role, fn in self._routes():
            if marker in prompt:
                text = fn(key, prompt)
                return role, text, f"Thinking about the {role} task ({key[:8]})."
        return "unknown", "I cannot tell what is asked.", ""

    def _routes(self):
        return [
            ("An earlier attempt at this problem", "generator", self.refine),
            ("Solve the problem below with a complete and rigorous proof", "generator", self.generate),
            ("Audit the evaluation", "meta_verifier", self.meta),
            ("You are grading a proof", "verifier", self.verify),
            ("Two final answers to the same problem", "judge", self.answer_judge),
            ("Translate the mathematical problem below into a Lean 4", "formalizer", self.autoformalize),
            ("Below is a Lean 4 theorem statement. Restate", "formalizer", self.back_translate),
            ("Decide whether two problem statements say the same thing", "judge", self.faithful),
            ("Below is one step of a Lean 4 proof", "formalizer", self.back_translate),
            ("was formalized step by step", "judge", self.aligned),
            ("proof sketch below does not elaborate", "formalizer", self.sketch_repair),
            ("Write a Lean 4 proof sketch", "formalizer", self.sketch),
            ("does not check. Lean's messages", "prover", self.repair),
            ("It is one step of a larger proof", "prover", self.node),
            ("Complete the Lean 4 proof below", "prover", self.whole),
        ]

    # -- informal ------------------------------------------------------------------------------

    def _proof(self, key: str, statement: str, p_correct: float) -> str:
        steps = 2 + int(self.u(key, "steps") * 3)
        correct = self.u(key, "correct") < p_correct
        gap = -1 if correct else int(self.u(key, "gap") * steps)
        lines = []
        for k in range(steps):
            tag = TAG_GAP if k == gap else TAG_OK
            claim = hashlib.sha256(f"{key}:{k}".encode()).hexdigest()[:10]
            lines.append(f"Step {k + 1}. From the previous steps we obtain claim {claim}, which follows by "
                         f"a direct computation. [{tag}]")
        self_score = "1" if correct or self.u(key, "self") < 0.5 else "0.5"
        return ("## Solution\n" + "\n\n".join(lines) + "\n\nThis completes the proof.\n\n## Self Evaluation\n"
                "Here is my evaluation of the solution: every step was checked.\n"
                f"Based on my evaluation, the final overall score should be: \\boxed{{{self_score}}}")

    def generate(self, key: str, prompt: str) -> str:
        return self._proof(key, _section(prompt, "Problem:"), self.c.proof_correct)

    def refine(self, key: str, prompt: str) -> str:
        return self._proof(key, _section(prompt, "Problem:", "---"), self.c.refine_correct)

    def verify(self, key: str, prompt: str) -> str:
        proof = _section(prompt, "Proof to grade:")
        truth = f"[{TAG_GAP}]" not in proof
        says = truth if self.u(key, "acc") < self.c.verifier_accuracy else not truth
        if says:
            return ("Here is my evaluation of the solution:\nEvery step is justified. No issues found.\n\n"
                    "Based on my evaluation, the final overall score should be: \\boxed{1}")
        return ("Here is my evaluation of the solution:\nISSUE: one step is asserted without justification.\n\n"
                "Based on my evaluation, the final overall score should be: \\boxed{0}")

    def meta(self, key: str, prompt: str) -> str:
        proof = _section(prompt, "Proof:", "Solution evaluation:")
        analysis = _section(prompt, "Solution evaluation:")
        truth = f"[{TAG_GAP}]" not in proof
        claims_issue = "ISSUE:" in analysis
        valid = claims_issue != truth
        if self.u(key, "acc") >= self.c.meta_accuracy:
            valid = not valid
        return ('Here is my analysis of the "solution evaluation":\nI checked each reported issue.\n\n'
                f'Based on my analysis, I will rate the "solution evaluation" as: \\boxed{{{1 if valid else 0}}}')

    def answer_judge(self, key: str, prompt: str) -> str:
        a = " ".join(_section(prompt, "Answer A:", "Answer B:").split())
        b = " ".join(_section(prompt, "Answer B:").split())
        return f"<think>compare</think>The answers are compared.\n\\boxed{{{'yes' if a == b else 'no'}}}"

    # -- formal --------------------------------------------------------------------------------

    def autoformalize(self, key: str, prompt: str) -> str:
        n = int(self.u(key, "n") * 90) + 10
        return ("<think>state it</think>\n```lean4\nimport Mathlib\n\n"
                f"theorem twin_statement (x : ℕ) (h₀ : x = {n}) : x + 0 = {n} := by sorry\n```")

    def back_translate(self, key: str, prompt: str) -> str:
        return "<think>read the statement</think>For the given objects and hypotheses, the stated conclusion holds."

    def _vote(self, key: str, rate: float) -> str:
        yes = self.u(key, "vote") < rate
        return f"<think>compare</think>Checked.\n\\boxed{{{'yes' if yes else 'no'}}}"

    def faithful(self, key: str, prompt: str) -> str:
        return self._vote(key, self.c.faithful_rate)

    def aligned(self, key: str, prompt: str) -> str:
        return self._vote(key, self.c.align_rate)

    def sketch(self, key: str, prompt: str) -> str:
        blocks = _lean_blocks(prompt)
        lean = blocks[0] if blocks else ""
        head = _statement_head(lean)
        steps = re.findall(r"^Step (\d+)\. (.*)$", _section(prompt, "Natural-language proof:"), re.M)
        lines = [f"{head} := by"]
        names = []
        for number, text in steps:
            value = int(hashlib.sha256(text.encode()).hexdigest()[:6], 16) % 10000
            lines.append(f"  -- Step {number}")
            lines.append(f"  have hs{number} : ({value} : ℕ) + 0 = {value} := by sorry")
            names.append(f"hs{number}")
        lines.append("  simp_all")
        return "<think>follow the steps</think>\n```lean4\n" + "\n".join(lines) + "\n```"

    def sketch_repair(self, key: str, prompt: str) -> str:
        blocks = _lean_blocks(prompt)
        return "<think>fix</think>\n```lean4\n" + (blocks[0].strip() if blocks else "") + "\n```"

    def _proof_file(self, lean: str, ok: bool, why: str = "") -> str:
        head = _statement_head(lean)
        tag = TAG_OK if ok else f"{TAG_BAD}{' ' + why if why else ''}"
        body = (f"{head} := by\n  intros  -- {TAG_OK}\n  norm_num [*] at *  -- {tag}\n  done")
        return f"<think>plan the proof</think>\nHere is the proof.\n```lean4\n{body}\n```"

    @staticmethod
    def _negation(lean: str) -> bool:
        return bool(re.search(r"theorem\s+\S*_neg\b", lean)) or " ¬" in lean.split(":=")[0][-400:]

    def whole(self, key: str, prompt: str) -> str:
        blocks = _lean_blocks(prompt)
        lean = blocks[0] if blocks else ""
        ok = not self._negation(lean) and self.u(key, "direct") < self.c.direct_success
        return self._proof_file(lean, ok, "(miss)")

    def node(self, key: str, prompt: str) -> str:
        blocks = _lean_blocks(prompt)
        lean = blocks[-1] if blocks else ""
        hint = _section(prompt, "Informal argument:", "```")
        if self._negation(lean) or f"[{TAG_GAP}]" in hint:
            return self._proof_file(lean, False, "(gap)")
        return self._proof_file(lean, self.u(key, "node") < self.c.node_success, "(miss)")

    def repair(self, key: str, prompt: str) -> str:
        blocks = _lean_blocks(prompt)
        code = blocks[0] if blocks else ""
        head = code.split(":= by")[0] if ":= by" in code else code
        if "(gap)" in code or self._negation(head):
            return self._proof_file(head, False, "(gap)")
        return self._proof_file(head, self.u(key, "repair") < self.c.repair_success, "(miss)")


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client killed mid-connection (the twin's chaos) is routine, not an error to print.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SimServer:
    """The HTTP server, its faults and its request log."""

    def __init__(self, config: SimModelConfig, log_path: str | None = None, port: int = 0):
        self.c = config
        self.responder = Responder(config)
        self.log_path = log_path
        self._log_lock = threading.Lock()
        self._lock = threading.Lock()
        self.rng = random.Random(os.urandom(8))
        self.outage_until = 0.0
        self.burst_until = 0.0
        self.failures: Counter = Counter()
        self.stats: Counter = Counter()
        handler = self._handler()
        self.httpd = _Server(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def log(self, entry: dict) -> None:
        if not self.log_path:
            return
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._log_lock, open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line)

    def fault(self, key: str) -> tuple[int, dict[str, str], str] | None:
        """A transient failure for this request, or None."""
        now = time.time()
        with self._lock:
            if now < self.outage_until:
                return 503, {}, "the server is down (simulated outage)"
            if self.failures[key] >= self.c.max_failures_per_key:
                self.failures[key] = 0
                return None
            failure = None
            if now < self.burst_until or self.rng.random() < self.c.rate_limit_rate:
                if now >= self.burst_until:
                    self.burst_until = now + self.c.burst_s
                failure = (429, {"Retry-After": f"{self.c.retry_after_s:g}"}, "Rate limit reached (simulated)")
            elif self.rng.random() < self.c.error_rate:
                failure = (self.rng.choice((500, 502, 503)), {}, "internal error (simulated)")
            if failure is None:
                self.failures[key] = 0
            else:
                self.failures[key] += 1
            return failure

    def complete(self, body: dict) -> tuple[int, dict[str, str], dict]:
        received = time.time()
        key = request_key(body)
        messages = body.get("messages") or []
        prompt = "\n\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
        latency = min(self.c.max_latency_s,
                      self.c.latency_median_s * math.exp(self.rng.gauss(0.0, self.c.latency_sigma)))
        time.sleep(latency)
        failure = self.fault(key)
        if failure is not None:
            status, headers, message = failure
            self.stats[str(status)] += 1
            self.log({"key": key, "status": status, "received": received, "answered": time.time()})
            return status, headers, {"error": {"message": message, "type": "simulated", "code": status}}
        role, text, reasoning = self.responder.answer(key, prompt)
        finish = "stop"
        if stable_unit(str(self.c.seed), key, "truncate") < self.c.truncate_rate:
            text, finish = text[: max(1, len(text) // 3)], "length"
        message = {"role": "assistant", "content": text}
        if self.c.reasoning and reasoning:
            message["reasoning_content"] = reasoning
        self.stats["200"] += 1
        self.stats[role] += 1
        self.log({"key": key, "status": 200, "role": role, "finish": finish, "received": received,
                  "answered": time.time()})
        words = len(prompt.split())
        return 200, {}, {
            "id": "chatcmpl-" + key[:24], "object": "chat.completion", "created": int(received),
            "model": body.get("model", "twin"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": words, "completion_tokens": len(text.split()),
                      "total_tokens": words + len(text.split())}}

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, payload: dict, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                n = int(self.headers.get("Content-Length") or 0)
                try:
                    value = json.loads(self.rfile.read(n) or b"{}")
                except ValueError:
                    return {}
                return value if isinstance(value, dict) else {}

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/admin/stats"):
                    self._send(200, dict(server.stats))
                elif self.path.rstrip("/").endswith("/models"):
                    self._send(200, {"object": "list", "data": [{"id": "twin", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = self._body()
                if self.path.rstrip("/").endswith("/admin/outage"):
                    server.outage_until = time.time() + float(body.get("seconds", 5))
                    self._send(200, {"outage_until": server.outage_until})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                status, headers, payload = server.complete(body)
                try:
                    self._send(status, payload, headers)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client was killed while waiting: as a real server, carry on

        return Handler

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> "SimServer":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def load_config(path_or_json: str | None) -> SimModelConfig:
    if not path_or_json:
        return SimModelConfig()
    text = path_or_json if path_or_json.lstrip().startswith("{") else open(path_or_json, encoding="utf-8").read()
    return SimModelConfig.model_validate_json(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prover.testing.sim_openai", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--config", help="JSON file or text (default: $PROVER_SIM_MODELS)")
    parser.add_argument("--log", help="append one JSON line per request")
    args = parser.parse_args(argv)
    server = SimServer(load_config(args.config or os.environ.get("PROVER_SIM_MODELS")), log_path=args.log,
                       port=args.port)
    print(f"listening on {server.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
