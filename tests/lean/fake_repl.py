"""A fake leanprover-community/repl for tests and benchmarks: it speaks the real protocol and
answers from a table of request matchers → recorded responses that the test writes.

    python fake_repl.py TABLE.json        (or env FAKE_REPL_TABLE)

Protocol, as the real REPL: requests are JSON objects ended by a blank line (lines of one request
are concatenated); each answer is pretty-printed JSON over several lines, then a blank line. A
command without ``env`` creates a new environment (imports allowed); with ``env`` it must name an
environment this process created, else ``{"message": "Unknown environment."}``. Recorded
responses get this process's own env ids; with ``"gc": true`` and ``supports_gc`` the answer has
no ``env`` (the newer REPL's behaviour).

Table (JSON):
  rules: [{"match": {...}, "response": {...}} | {"match": ..., "action": ACTION, ...}]
      match keys (all must hold): cmd_contains, cmd_equals, cmd_regex, is_import (bool),
      has_env (bool), tactic, path, request (the whole request, "gc" aside), any (true)
      actions: respond (default), hang (also starts a sleeping grandchild, to test that the whole
      tree is killed), exit (exit_code, stdout, stderr), memory (answer with this process's
      RLIMIT_AS), allocate (bytes: try to allocate; on failure print Lean's out-of-memory panic
      and exit 1)
  default: response when no rule matches (else a REPL-style error message)
  import_errors: {module: message} — imports that fail like an unknown package
  supports_gc: bool
  cost: {"import_s": 10, "check_s": [0.5, 5], "scale": 0.02} — sleeps, for the benchmark;
      "check_samples": [seconds...] instead of check_s: one of these (recorded) latencies per check
Env FAKE_REPL_LOG: append one JSON line per request ({pid, request, rule, ...}).
Failures: when a proof has an error, Lean's error recovery still adds the declaration, with
`sorryAx` where the error was, and goes on to the file's last command, so ProverCheck's epilogue
reports on it: ``status=ok type=match axioms=- sorry=1 other=0 used=0…`` (the failing proof was
admitted with `sorry`, which uses none of the constants asked about). This answer is SYNTHETIC:
the error messages are the recorded templates the table gives, the report is the text
ProverCheck's source logs (lean_project/ProverCheck.lean), never produced by Lean here, at the
line of the request's `#prover_check` command, in the shape of the REPL's info messages.
Nonces: where a response says ``nonce=NONCE``, the fake writes the nonce of the request's
`#prover_check` line instead (as ProverCheck's report would carry it).
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time


def load_table():
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FAKE_REPL_TABLE")
    if not path:
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def log(entry):
    path = os.environ.get("FAKE_REPL_LOG")
    if path:
        entry["pid"] = os.getpid()
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def matches(match, req):
    cmd = req.get("cmd")
    for key, want in match.items():
        if key == "any":
            continue
        if key == "cmd_contains" and (cmd is None or want not in cmd):
            return False
        if key == "cmd_equals" and (cmd is None or cmd.strip() != want.strip()):
            return False
        if key == "cmd_regex" and (cmd is None or not re.search(want, cmd)):
            return False
        if key == "is_import" and (("env" not in req and cmd is not None and "import" in cmd) != want):
            return False
        if key == "has_env" and (("env" in req) != want):
            return False
        if key in ("tactic", "path") and req.get(key) != want:
            return False
        if key == "request" and {k: v for k, v in req.items() if k != "gc"} != want:
            return False
    return True


def emit(obj):
    sys.stdout.write(json.dumps(obj, indent=1, ensure_ascii=False) + "\n\n")
    sys.stdout.flush()


def cost_sleep(table, kind, text):
    cost = table.get("cost")
    if not cost:
        return
    scale = float(cost.get("scale", 1.0))
    if kind == "import":
        time.sleep(float(cost.get("import_s", 0)) * scale)
    else:
        # Deterministic per request text, so that both arms of the benchmark pay the same.
        h = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        samples = cost.get("check_samples")
        if samples:
            time.sleep(float(samples[h % len(samples)]) * scale)
            return
        lo, hi = cost.get("check_s", [0, 0])
        time.sleep((lo + (hi - lo) * h / 0xFFFFFFFF) * scale)


#: ProverCheck's report on a target that Lean's error recovery admitted with `sorry` (the
#: fields: lean_project/ProverCheck.lean; the format: prover/lean/epilogue.py).
FAILED_REPORT = "prover_check 1 nonce=NONCE status=ok type=match axioms=- sorry=1 other=0 used={used}"


def failed_response(failure, cmd):
    """Lean's answer on a file whose proof fails (module docstring, Failures): the failure's
    error messages, then, when the file ends with the epilogue, its report at that line."""
    resp = json.loads(json.dumps(failure))
    at = re.search(r'^#prover_check [^\n]*$', cmd or "", re.M)
    if at is None:
        return resp
    line = cmd.count("\n", 0, at.start()) + 1
    asked = re.search(r'\[(.*)\]\s*$', at.group(0))
    used = "-" if asked is None else "0" * len([c for c in asked.group(1).split(",") if c.strip()])
    report = {"severity": "info", "pos": {"line": line, "column": 0},
              "endPos": {"line": line, "column": len(at.group(0))}, "data": FAILED_REPORT.format(used=used)}
    resp["messages"] = list(resp.get("messages", [])) + [report]
    return resp


def requests(stream):
    lines = []
    for raw in stream:
        line = raw.rstrip("\r\n")
        if line.strip():
            lines.append(line)
            continue
        if lines:
            yield " ".join(lines)
            lines = []
    if lines:
        yield " ".join(lines)


def main():
    table = load_table()
    rules = table.get("rules", [])
    envs = set()
    next_env = 0
    next_state = 0
    for text in requests(sys.stdin):
        try:
            req = json.loads(text)
        except ValueError as exc:
            emit({"message": f"Could not parse JSON:\n{exc}"})
            continue
        if "env" in req and req["env"] not in envs:
            log({"request": req, "rule": "unknown-env"})
            emit({"message": "Unknown environment."})
            continue
        cmd = req.get("cmd")
        is_import = cmd is not None and "env" not in req and re.search(r"^\s*import\s", cmd, re.M)
        rule = next((r for r in rules if matches(r.get("match", {}), req)), None)
        log({"request": req, "rule": rules.index(rule) if rule is not None else None})
        action = (rule or {}).get("action", "respond")
        if action == "hang":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            log({"event": "hang", "grandchild": child.pid})
            time.sleep(3600)
            continue
        if action == "exit":
            sys.stdout.write(rule.get("stdout", ""))
            sys.stdout.flush()
            sys.stderr.write(rule.get("stderr", ""))
            sys.stderr.flush()
            os._exit(int(rule.get("exit_code", 1)))
        if action == "memory":
            import resource

            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            emit({"rlimit_as": [soft, hard], "pid": os.getpid()})
            continue
        if action == "allocate":
            try:
                block = bytearray(int(rule["bytes"]))
                block[:: 1 << 20] = b"x" * len(block[:: 1 << 20])
            except MemoryError:
                sys.stderr.write("INTERNAL PANIC: out of memory\n")
                sys.stderr.flush()
                os._exit(1)
            emit({"allocated": len(block)})
            del block
            continue
        if is_import:
            cost_sleep(table, "import", cmd)
        elif cmd is not None:
            cost_sleep(table, "check", cmd)
        if rule is not None and "response" in rule:
            resp = json.loads(json.dumps(rule["response"]))
        elif is_import and rule is None:
            bad = [m for m in re.findall(r"^\s*import\s+(\S+)", cmd, re.M) if m in table.get("import_errors", {})]
            if bad:
                resp = {"messages": [{"severity": "error", "pos": {"line": 1, "column": 0},
                                      "endPos": {"line": 1, "column": 0},
                                      "data": table["import_errors"][bad[0]]}]}
            else:
                resp = {}
        elif "failure" in table and cmd is not None:
            resp = failed_response(table["failure"], cmd)
        elif "default" in table:
            resp = json.loads(json.dumps(table["default"]))
        else:
            resp = {"message": "fake REPL: no rule matches this request"}
        nonce = re.search(r'^#prover_check .*"([0-9a-f]{32})"', cmd or "", re.M)
        if nonce:
            # What ProverCheck does: its report carries the nonce of the request's epilogue.
            resp = json.loads(json.dumps(resp).replace("nonce=NONCE", "nonce=" + nonce.group(1)))
        if "proofState" in req or "tactic" in req:
            resp["proofState"] = next_state
            next_state += 1
        elif cmd is not None and "message" not in resp:
            if req.get("gc") and table.get("supports_gc") and "env" in req:
                resp.pop("env", None)
            else:
                resp["env"] = next_env
                envs.add(next_env)
                next_env += 1
        emit(resp)


if __name__ == "__main__":
    main()
