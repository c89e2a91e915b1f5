"""A simulated leanprover-community/repl: the real JSON protocol, simulated Lean behind it.

    PROVER_LEAN_REPL="python -m prover.testing.sim_repl" prover run --formal ...
    python -m prover.testing.sim_repl [--config FILE.json]     (or env PROVER_SIM_LEAN=FILE|JSON)

Protocol, as the recorded transcripts show it (../shared/fixtures/lean-repl): a request is one
JSON object followed by a blank line; the answer is one JSON object over several lines, then a
blank line. A command without ``env`` makes a new environment (the only place ``import`` goes);
with ``env`` it must name an environment of this process, else ``{"message": "Unknown
environment."}``. ``{"path": F}`` is file mode; ``{"tactic": T, "proofState": N}`` tactic mode.
An answer carries ``env`` (even with ``"gc": true``, like REPLs before gc support),
``messages`` (severity, pos, endPos, data) and ``sorries`` when there are any.

Simulated cost: importing a header sleeps ``import_s`` and allocates ``import_mb`` of resident
memory (touched, so it is real); every command sleeps a lognormal latency and keeps
``grow_mb`` more (Lean's memory only grows) until the pool recycles the process. Faults:
``timeout_rate`` of command texts hang (chosen by a hash of the text without its nonce, so an
uninterrupted run meets the same ones), and each command ends the process by SIGKILL (as the
kernel's OOM killer would) with probability ``death_rate`` (random). Verdicts: ``prover.testing.oracle``.

``PROVER_SIM_LEAN_LOG=FILE``: one JSON line per request (pid, kind, the text's hash without the
nonce, outcome, seconds) for the twin's invariants. Never evidence about real Lean."""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import sys
import time

from pydantic import BaseModel, ConfigDict

from prover.testing.oracle import judge, stable_unit

_NONCE = re.compile(r'(#prover_check\s+\S+\s+\S+\s+")([0-9a-f]{32})(")')
_IMPORT = re.compile(r"^[ \t]*import[ \t]+(\S+)", re.M)


class SimLeanConfig(BaseModel):
    """How the simulated Lean behaves (times in seconds, memory in MiB)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    import_s: float = 2.0
    """Seconds one header import takes (Mathlib's takes tens of seconds for real)."""
    import_mb: float = 48.0
    """Resident memory a header import allocates (Mathlib's is gigabytes: scaled down)."""
    grow_mb: float = 0.25
    """Memory kept after each command (environments are never freed)."""
    check_median_s: float = 0.05
    """Median latency of one command."""
    check_sigma: float = 1.0
    """Lognormal sigma of the latency (the long tail)."""
    max_check_s: float = 30.0
    """Latency cap (the tail of a lognormal is unbounded)."""
    timeout_rate: float = 0.0
    """Fraction of command texts that hang (the pool's timeout kills the process)."""
    death_rate: float = 0.0
    """Chance that a command ends the process with the out-of-memory panic."""
    portfolio_rate: float = 0.02
    """Fraction of statements a lone portfolio tactic proves."""
    seed: int = 0
    """Seeds the hash choices (hangs, portfolio)."""


def load_config(path_or_json: str | None) -> SimLeanConfig:
    if not path_or_json:
        return SimLeanConfig()
    text = path_or_json if path_or_json.lstrip().startswith("{") else open(path_or_json, encoding="utf-8").read()
    return SimLeanConfig.model_validate_json(text)


def without_nonce(text: str) -> str:
    """The text with the epilogue's nonce zeroed, as prover stores and keys it."""
    return _NONCE.sub(lambda m: m.group(1) + "0" * 32 + m.group(3), text)


def text_key(text: str) -> str:
    import hashlib

    return hashlib.sha256(without_nonce(text).encode("utf-8")).hexdigest()


class SimRepl:
    """One simulated REPL process's state."""

    def __init__(self, config: SimLeanConfig, log_path: str | None = None):
        self.c = config
        self.log_path = log_path
        self.envs: set[int] = set()
        self.next_env = 0
        self.next_state = 0
        self.memory: list[bytearray] = []
        self.rng = random.Random(os.urandom(8))

    # -- costs ----------------------------------------------------------------------------------

    def _allocate(self, mb: float) -> None:
        n = int(mb * 2 ** 20)
        if n <= 0:
            return
        block = bytearray(n)
        block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not just reserved
        self.memory.append(block)

    def _latency(self) -> float:
        if self.c.check_median_s <= 0:
            return 0.0
        return min(self.c.max_check_s, self.c.check_median_s * math.exp(self.rng.gauss(0.0, self.c.check_sigma)))

    def _log(self, entry: dict) -> None:
        if not self.log_path:
            return
        entry["pid"] = os.getpid()
        entry["t"] = time.time()
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    # -- requests -------------------------------------------------------------------------------

    def handle(self, req: dict) -> dict | None:
        """The answer to one request; None when the process hangs (it never answers)."""
        if "tactic" in req or ("proofState" in req and "cmd" not in req):
            return self._tactic(req)
        if "env" in req and req["env"] not in self.envs:
            self._log({"kind": "unknown-env"})
            return {"message": "Unknown environment."}
        if "path" in req and "cmd" not in req:
            try:
                with open(req["path"], encoding="utf-8") as f:
                    text = f.read()
            except OSError as exc:
                return {"message": f"no such file or directory (error code: 2)\n  file: {exc.filename}"}
        elif "cmd" in req:
            text = req["cmd"]
        else:
            return {"message": "Could not parse as a valid JSON command."}
        return self._command(text, fresh="env" not in req)

    def _command(self, text: str, fresh: bool) -> dict | None:
        started = time.monotonic()
        imports = _IMPORT.findall(text) if fresh else []
        body = text
        if imports:
            time.sleep(self.c.import_s)
            self._allocate(self.c.import_mb)
            # The imports' lines stay as blank lines, so that positions are those of the text.
            body = _IMPORT.sub(lambda m: "", text)
        key = text_key(text)
        if body.strip():
            if stable_unit("hang", str(self.c.seed), key) < self.c.timeout_rate:
                self._log({"kind": "command", "key": key, "outcome": "hang"})
                return None
            if self.rng.random() < self.c.death_rate:
                # As the kernel's OOM killer ends a Lean process: SIGKILL, nothing written.
                self._log({"kind": "command", "key": key, "outcome": "death"})
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(self._latency())
            self._allocate(self.c.grow_mb)
        verdict = judge(body, portfolio_rate=self.c.portfolio_rate, next_state=self.next_state)
        self.next_state += len(verdict.sorries)
        resp: dict = {}
        if verdict.sorries:
            resp["sorries"] = verdict.sorries
        if verdict.messages:
            resp["messages"] = verdict.messages
        resp["env"] = self.next_env
        self.envs.add(self.next_env)
        self.next_env += 1
        errors = sum(1 for m in verdict.messages if m["severity"] == "error")
        self._log({"kind": "import" if imports and not body.strip() else "command", "key": key,
                   "outcome": "error" if errors else ("sorry" if verdict.sorries else "ok"),
                   "seconds": round(time.monotonic() - started, 4)})
        return resp

    def _tactic(self, req: dict) -> dict:
        tactic = str(req.get("tactic", ""))
        state = self.next_state
        self.next_state += 1
        if "sorry" in tactic:
            return {"sorries": [{"proofState": state, "goal": "⊢ _"}], "proofStatus": "Incomplete: open goals remain",
                    "proofState": state + 1, "goals": ["⊢ _"]}
        if "twin:bad" in tactic:
            return {"message": "Lean error:\nunsolved goals"}
        return {"proofStatus": "Completed", "proofState": state, "goals": []}


def read_requests(stream):
    """Requests: the lines of one request up to a blank line, joined."""
    lines: list[str] = []
    for raw in stream:
        line = raw.rstrip("\r\n")
        if line.strip():
            lines.append(line)
            continue
        if lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, indent=1, ensure_ascii=False) + "\n\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m prover.testing.sim_repl", description=__doc__.split("\n")[0])
    parser.add_argument("--config", help="JSON file or text (default: $PROVER_SIM_LEAN)")
    args = parser.parse_args(argv)
    sim = SimRepl(load_config(args.config or os.environ.get("PROVER_SIM_LEAN")),
                  log_path=os.environ.get("PROVER_SIM_LEAN_LOG"))
    for text in read_requests(sys.stdin):
        try:
            req = json.loads(text)
        except ValueError as exc:
            emit({"message": f"Could not parse JSON:\n{exc}"})
            continue
        if not isinstance(req, dict):
            emit({"message": "Could not parse as a valid JSON command."})
            continue
        resp = sim.handle(req)
        if resp is None:
            time.sleep(10 ** 6)  # a hang: the pool's timeout kills the whole tree
        emit(resp)


if __name__ == "__main__":
    main()
