"""The twin run: ``prover run --formal`` over many problems against the simulated REPL and model
server, uninterrupted and then with chaos, followed by invariant checks and figures.

``scripts/twin.py`` is its command line; ``tests/testing/test_twin_small.py`` runs the small tier.
Nothing measured here is evidence about real Lean or real models: the REPL and the models are
simulators whose answers come from tags (``prover.testing.oracle``); the figures measure prover's
own machinery on this machine."""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prover.testing.sim_openai import SimModelConfig
from prover.testing.sim_repl import SimLeanConfig, text_key

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = "minif2f/deepseek-prover-v1.5/minif2f.jsonl"


class TwinConfig(BaseModel):
    """One twin run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    problems: int = 200
    data: str | None = None
    """A JSONL problem file (default: $PROVER_SHARED/data/minif2f/... , the first ``problems`` rows)."""
    budget: str = "medium"
    knobs: tuple[str, ...] = ()
    """Extra ``prover run`` arguments (e.g. ``--proofs 2``)."""
    seed: int = 0
    kills: int = 10
    """SIGKILLs of the prover process (each followed by a restart of the same command)."""
    repl_kills: int = 5
    """SIGKILLs of REPL processes while the chaos run goes on."""
    outage_s: float = 5.0
    """One model-server outage of this many seconds during the chaos run (0: none)."""
    processes: int = 4
    """REPL pool size (--lean-processes)."""
    concurrency: int = 32
    """Model calls in flight (--concurrency)."""
    lean_timeout_s: float = 20.0
    baseline: bool = True
    """Also run without chaos and compare labels."""
    run_timeout_s: float = 3600.0
    lean: SimLeanConfig = SimLeanConfig()
    models: SimModelConfig = SimModelConfig()


@dataclass
class Segment:
    """One prover process of a run."""

    started: float
    ended: float = 0.0
    killed: bool = False
    exit_code: int | None = None
    cpu_s: float = 0.0
    peak_rss_kb: int = 0


@dataclass
class RunRecord:
    name: str
    db: Path
    server_log: Path
    lean_log: Path
    segments: list[Segment] = field(default_factory=list)
    repl_kills: list[float] = field(default_factory=list)
    outage_at: float | None = None
    orphans_killed: int = 0
    stdout: str = ""

    @property
    def wall_s(self) -> float:
        return sum(s.ended - s.started for s in self.segments)

    @property
    def kill_times(self) -> list[float]:
        return [s.ended for s in self.segments if s.killed]


def write_problems(cfg: TwinConfig, work: Path) -> Path:
    """The first ``cfg.problems`` rows, in a file named like the source: its name is the
    collection's, which the run marks trusted."""
    from prover.core.paths import shared_dir

    src = Path(cfg.data) if cfg.data else shared_dir() / "data" / DEFAULT_DATA
    path = work / src.name
    lines = [ln for ln in src.read_text(encoding="utf-8").splitlines() if ln.strip()][: cfg.problems]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class ModelServer:
    """The simulated model server in its own process."""

    def __init__(self, cfg: TwinConfig, log: Path):
        env = {**os.environ, "PYTHONPATH": _pythonpath()}
        self.proc = subprocess.Popen([sys.executable, "-m", "prover.testing.sim_openai", "--port", "0", "--log",
                                      str(log), "--config", cfg.models.model_dump_json()],
                                     stdout=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the simulated model server did not start: {line!r}")
        self.url = line.split("listening on", 1)[1].strip()

    def outage(self, seconds: float) -> None:
        req = urllib.request.Request(self.url.rsplit("/v1", 1)[0] + "/admin/outage",
                                     data=json.dumps({"seconds": seconds}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _pythonpath() -> str:
    return os.pathsep.join([str(REPO_ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])


def prover_command(cfg: TwinConfig, problems: Path, db: Path, url: str) -> list[str]:
    return [sys.executable, "-m", "prover.cli.main", "run", str(problems), "--db", str(db), "--formal",
            "--budget", cfg.budget, *cfg.knobs, "--backend", "openai", "--model", "twin", "--base-url", url,
            "--concurrency", str(cfg.concurrency), "--trusted", problems.stem, "--final-check", "none",
            "--lean-processes", str(cfg.processes), "--lean-timeout", f"{cfg.lean_timeout_s:g}",
            "--lean-memory-gb", "0", "--seed", str(cfg.seed), "--json"]


def _proc_stat(pid: int) -> tuple[float, int] | None:
    """(CPU seconds of the process itself, resident high-water mark in KiB)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        cpu = (int(fields[11]) + int(fields[12])) / tick
        hwm = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
        return cpu, hwm
    except (OSError, IndexError, ValueError):
        return None


def _sim_repl_pids(lean_log: Path) -> set[int]:
    """Live simulated REPL processes (from the REPL log, confirmed by their command line)."""
    pids: set[int] = set()
    if lean_log.exists():
        for line in lean_log.read_text(encoding="utf-8").splitlines():
            try:
                pids.add(int(json.loads(line)["pid"]))
            except (ValueError, KeyError):
                continue
    live = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"prover.testing.sim_repl" in f.read():
                    live.add(pid)
        except OSError:
            continue
    return live


def run_once(cfg: TwinConfig, work: Path, name: str, problems: Path, *, chaos: bool,
             expected_s: float | None = None, echo=print) -> RunRecord:
    """One run to completion: a prover process, killed and restarted ``cfg.kills`` times when
    ``chaos``; REPL kills and an outage on the side, at random moments spread over
    ``expected_s`` (the uninterrupted run's duration; 60 s when unknown)."""
    rec = RunRecord(name=name, db=work / f"{name}.db", server_log=work / f"{name}-server.jsonl",
                    lean_log=work / f"{name}-lean.jsonl")
    server = ModelServer(cfg, rec.server_log)
    rng = random.Random(f"twin-chaos-{cfg.seed}")
    env = {**os.environ, "PYTHONPATH": _pythonpath(),
           "PROVER_LEAN_REPL": shlex.join([sys.executable, "-m", "prover.testing.sim_repl"]),
           "PROVER_SIM_LEAN": cfg.lean.model_dump_json(), "PROVER_SIM_LEAN_LOG": str(rec.lean_log)}
    env.pop("PROVER_SCRIPT", None)
    cmd = prover_command(cfg, problems, rec.db, server.url)
    deadline = time.monotonic() + cfg.run_timeout_s
    kills_left = cfg.kills if chaos else 0
    stop_side = threading.Event()
    expected = expected_s
    try:
        if chaos:
            threading.Thread(target=_side_chaos, args=(cfg, rec, server, rng, stop_side, expected),
                             daemon=True).start()
        while True:
            seg = Segment(started=time.time())
            rec.segments.append(seg)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    cwd=str(work))
            out_chunks: list[str] = []
            threading.Thread(target=lambda p=proc: out_chunks.append(p.stdout.read()), daemon=True).start()
            err_chunks: list[str] = []
            threading.Thread(target=lambda p=proc: err_chunks.append(p.stderr.read()), daemon=True).start()
            kill_at = None
            if kills_left:
                span = (expected or 60.0) / (cfg.kills + 1)
                kill_at = time.monotonic() + rng.uniform(0.3, 1.2) * span
            while proc.poll() is None:
                got = _proc_stat(proc.pid)
                if got:
                    seg.cpu_s, seg.peak_rss_kb = got[0], max(seg.peak_rss_kb, got[1])
                if kill_at is not None and time.monotonic() >= kill_at:
                    proc.send_signal(signal.SIGKILL)
                    seg.killed = True
                    kills_left -= 1
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"{name}: the run did not finish within {cfg.run_timeout_s:g} s")
                time.sleep(0.1)
            seg.exit_code = proc.wait()
            seg.ended = time.time()
            time.sleep(0.2)
            if seg.killed:
                echo(f"  {name}: killed prover after {seg.ended - seg.started:.1f}s ({kills_left} kill(s) left)")
                rec.orphans_killed += _reap_orphans(rec.lean_log)
                continue
            rec.stdout = "".join(out_chunks)
            if seg.exit_code != 0:
                raise RuntimeError(f"{name}: prover exited {seg.exit_code}: {''.join(err_chunks)[-2000:]}")
            break
    finally:
        stop_side.set()
        server.close()
        rec.orphans_killed += _reap_orphans(rec.lean_log)
    return rec


def _reap_orphans(lean_log: Path, grace_s: float = 3.0) -> int:
    """Simulated REPLs a killed prover left behind that are still alive ``grace_s`` later: a REPL
    leaves on its own only when it next reads its closed input (a hung one never does)."""
    end = time.monotonic() + grace_s
    while time.monotonic() < end and any(_orphaned(pid) for pid in _sim_repl_pids(lean_log)):
        time.sleep(0.2)
    n = 0
    for pid in _sim_repl_pids(lean_log):
        if _orphaned(pid):
            try:
                os.kill(pid, signal.SIGKILL)
                n += 1
            except OSError:
                pass
    return n


def _orphaned(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return False
    return ppid == 1 or ppid == os.getpid()


def _side_chaos(cfg: TwinConfig, rec: RunRecord, server: ModelServer, rng: random.Random,
                stop: threading.Event, expected: float | None) -> None:
    """REPL kills and one outage at random moments of the run."""
    span = expected or 60.0
    events = [("repl", rng.uniform(0.05, 0.9) * span) for _ in range(cfg.repl_kills)]
    if cfg.outage_s > 0:
        events.append(("outage", rng.uniform(0.1, 0.6) * span))
    t0 = time.monotonic()
    for kind, at in sorted(events, key=lambda e: e[1]):
        if stop.wait(max(0.0, t0 + at - time.monotonic())):
            return
        if kind == "outage":
            try:
                server.outage(cfg.outage_s)
                rec.outage_at = time.time()
            except OSError:
                pass
            continue
        pids: list[int] = []
        for _ in range(60):  # REPLs live only while Lean is used (not between restarts): wait for one
            pids = sorted(_sim_repl_pids(rec.lean_log))
            if pids or stop.wait(1.0):
                break
        if pids:
            try:
                os.kill(rng.choice(pids), signal.SIGKILL)
                rec.repl_kills.append(time.time())
            except OSError:
                pass


# -- invariants ---------------------------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def duplicate_rows(db: Path) -> dict[str, int]:
    """Rows that should be unique and are not: per table, how many extra rows."""
    from sqlalchemy import text

    from prover.store.store import ProofStore

    queries = {
        "model_calls": "SELECT COUNT(*) - COUNT(DISTINCT call_key) FROM model_calls",
        "proofs": "SELECT COUNT(*) - COUNT(DISTINCT model_call_id) FROM proofs WHERE model_call_id IS NOT NULL",
        "verifications": "SELECT COUNT(*) - COUNT(DISTINCT model_call_id) FROM verifications "
                         "WHERE model_call_id IS NOT NULL",
        "meta_verifications": "SELECT COUNT(*) - COUNT(DISTINCT model_call_id) FROM meta_verifications "
                              "WHERE model_call_id IS NOT NULL",
        "definitive lean_checks": "SELECT COUNT(*) - COUNT(DISTINCT cache_key) FROM lean_checks WHERE definitive",
        "formal_attempts": "SELECT COUNT(*) - COUNT(DISTINCT attempt_key) FROM formal_attempts",
    }
    store = ProofStore.open(str(db))
    try:
        with store.engine.connect() as conn:
            return {name: int(conn.execute(text(q)).scalar() or 0) for name, q in queries.items()}
    finally:
        store.close()


def resent_calls(rec: RunRecord) -> dict[str, Any]:
    """Calls answered more than once by the server, and whether a kill explains each."""
    answers: dict[str, list[dict]] = defaultdict(list)
    for e in _read_jsonl(rec.server_log):
        if e.get("status") == 200:
            answers[e["key"]].append(e)
    kills = rec.kill_times
    resent, unexplained = 0, 0
    per_kill: Counter = Counter()
    for key, got in answers.items():
        got.sort(key=lambda e: e["answered"])
        for first, again in zip(got, got[1:]):
            resent += 1
            between = [k for k in kills if first["received"] <= k <= again["received"]]
            if between:
                per_kill[between[0]] += 1
            else:
                unexplained += 1
    in_flight: dict[float, int] = {}
    entries = _read_jsonl(rec.server_log)
    for k in kills:
        # In flight at the kill: received before it, answered after it or within the client's
        # group-commit window before it (an answer not yet committed is re-sent).
        in_flight[k] = sum(1 for e in entries if e["received"] <= k and e["answered"] >= k - 0.5)
    over = {k: (per_kill[k], in_flight[k]) for k in kills if per_kill[k] > in_flight[k]}
    return {"resent": resent, "unexplained": unexplained, "over_in_flight": over,
            "in_flight_at_kills": sum(in_flight.values()), "answers": sum(len(v) for v in answers.values()),
            "keys": len(answers)}


def repeated_lean_checks(rec: RunRecord) -> dict[str, Any]:
    """Definitive Lean answers given twice for a key stored as definitive, with no kill of the
    prover process in between."""
    from sqlalchemy import text

    from prover.lean.header import split_imports
    from prover.store.store import ProofStore

    store = ProofStore.open(str(rec.db))
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT assembled FROM lean_checks WHERE definitive AND assembled IS NOT NULL")
                                ).fetchall()
    finally:
        store.close()
    stored = {text_key(split_imports(r[0]).body) for r in rows}
    seen: dict[str, list[float]] = defaultdict(list)
    for e in _read_jsonl(rec.lean_log):
        if e.get("kind") == "command" and e.get("outcome") in ("ok", "error", "sorry") and e.get("key") in stored:
            seen[e["key"]].append(e["t"])
    kills = rec.kill_times
    repeated = 0
    for times in seen.values():
        times.sort()
        for a, b in zip(times, times[1:]):
            if not any(a - 1.0 <= k <= b for k in kills):
                repeated += 1
    return {"stored_definitive": len(stored), "repeated_without_kill": repeated}


def label_set(db: Path) -> set[tuple]:
    """(problem, proof text hash, source, value) of every label derived from the database."""
    from sqlalchemy import text

    from prover.analysis.labels import build_labels
    from prover.core.hashing import sha256_text
    from prover.store.store import ProofStore

    store = ProofStore.open(str(db))
    try:
        build_labels(store, final_check="none")
        with store.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT p.collection, p.external_id, pr.text, l.source, l.value FROM labels l "
                "JOIN proofs pr ON pr.id = l.proof_id JOIN problems p ON p.id = pr.problem_id")).fetchall()
    finally:
        store.close()
    return {(c, e, sha256_text(t), s, round(v, 6)) for c, e, t, s, v in rows}


def stage_split(db: Path) -> dict[str, float]:
    """Seconds by role (model latency) and Lean (check wall time) as stored."""
    from sqlalchemy import text

    from prover.store.store import ProofStore

    store = ProofStore.open(str(db))
    try:
        with store.engine.connect() as conn:
            out = {f"model:{r}": float(s or 0) for r, s in conn.execute(text(
                "SELECT role, SUM(latency_s) FROM model_calls GROUP BY role"))}
            out["lean"] = float(conn.execute(text("SELECT SUM(wall_time_s) FROM lean_checks")).scalar() or 0)
            out["calls"] = float(conn.execute(text("SELECT COUNT(*) FROM model_calls")).scalar() or 0)
            out["lean_checks"] = float(conn.execute(text("SELECT COUNT(*) FROM lean_checks")).scalar() or 0)
    finally:
        store.close()
    return out


# -- the whole ------------------------------------------------------------------------------------

class TwinReport(BaseModel):
    """Invariants and figures of one twin run."""

    problems: int
    kills: int
    repl_kills: int
    outage_s: float
    invariants: dict[str, bool] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    figures: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(self.invariants.values())


def figures_of(rec: RunRecord, cfg: TwinConfig) -> dict[str, Any]:
    server = [e for e in _read_jsonl(rec.server_log)]
    lean = [e for e in _read_jsonl(rec.lean_log) if e.get("kind") in ("command", "import")]
    wall = rec.wall_s
    calls = sum(1 for e in server if e.get("status") == 200)
    busy = sum(float(e.get("seconds") or 0) for e in lean)
    split = stage_split(rec.db)
    stage_total = sum(v for k, v in split.items() if k.startswith("model:") or k == "lean") or 1.0
    cpu = sum(s.cpu_s for s in rec.segments)
    return {
        "wall_s": round(wall, 1),
        "problems_per_hour": round(cfg.problems / wall * 3600, 1) if wall else None,
        "model_calls_per_s": round(calls / wall, 2) if wall else None,
        "model_requests": len(server),
        "model_answers": calls,
        "http_429": sum(1 for e in server if e.get("status") == 429),
        "http_5xx": sum(1 for e in server if int(e.get("status", 0)) >= 500),
        "lean_commands": len(lean),
        "lean_checks_per_s": round(len(lean) / wall, 2) if wall else None,
        "pool_utilisation": round(busy / (cfg.processes * wall), 3) if wall else None,
        "orchestration_cpu_ms_per_call": round(1000 * cpu / max(1, calls), 2),
        "prover_cpu_s": round(cpu, 1),
        "peak_rss_mb": round(max((s.peak_rss_kb for s in rec.segments), default=0) / 1024, 1),
        "stage_split": {k: round(v / stage_total, 3) for k, v in split.items()
                        if k.startswith("model:") or k == "lean"},
        "orphan_repls_after_kills": rec.orphans_killed,
    }


def run_twin(cfg: TwinConfig, work: str | os.PathLike, *, echo=print) -> TwinReport:
    """The baseline (uninterrupted) run, then the chaos run, then the checks."""
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    problems = write_problems(cfg, work)
    base = None
    if cfg.baseline:
        echo(f"twin: baseline run of {cfg.problems} problem(s), no chaos")
        base = run_once(cfg, work, "baseline", problems, chaos=False, echo=echo)
    chaotic = cfg.kills or cfg.repl_kills or cfg.outage_s
    echo(f"twin: chaos run ({cfg.kills} prover kill(s), {cfg.repl_kills} REPL kill(s), outage {cfg.outage_s:g}s)"
         if chaotic else "twin: second run, no chaos")
    rec = run_once(cfg, work, "chaos", problems, chaos=bool(chaotic), echo=echo,
                   expected_s=base.wall_s if base is not None else None)
    report = TwinReport(problems=cfg.problems, kills=len(rec.kill_times), repl_kills=len(rec.repl_kills),
                        outage_s=cfg.outage_s if rec.outage_at else 0.0)
    summary = json.loads(rec.stdout) if rec.stdout.strip().startswith("{") else {}
    report.invariants["run finishes"] = summary.get("status") == "completed"
    dups = duplicate_rows(rec.db)
    report.details["duplicates"] = dups
    report.invariants["no duplicate rows"] = not any(dups.values())
    resent = resent_calls(rec)
    report.details["resent"] = resent
    report.invariants["a stored call is never sent again"] = resent["unexplained"] == 0
    report.invariants["calls sent again after a kill <= those in flight"] = not resent["over_in_flight"]
    lean = repeated_lean_checks(rec)
    report.details["lean"] = lean
    report.invariants["no Lean check repeated for a stored definitive key"] = lean["repeated_without_kill"] == 0
    # The REPLs die with the prover that started them (PR_SET_PDEATHSIG on the REPL itself).
    report.invariants["no REPL outlives a killed prover"] = rec.orphans_killed == 0
    if base is not None:
        a, b = label_set(base.db), label_set(rec.db)
        report.details["labels"] = {"baseline": len(a), "chaos": len(b), "only_baseline": len(a - b),
                                    "only_chaos": len(b - a)}
        report.invariants["labels equal those of an uninterrupted run"] = a == b
        report.figures["baseline"] = figures_of(base, cfg)
    report.figures["chaos"] = figures_of(rec, cfg)
    return report


def print_report(report: TwinReport, echo=print) -> None:
    echo("TWIN — simulated Lean REPL and simulated models: never evidence about real Lean or real models.")
    echo(f"{report.problems} problem(s), {report.kills} prover kill(s), {report.repl_kills} REPL kill(s), "
         f"outage {report.outage_s:g}s")
    for name, ok in report.invariants.items():
        echo(f"  [{'ok' if ok else 'FAIL'}] {name}")
    echo("details: " + json.dumps(report.details, default=str))
    for name, figs in report.figures.items():
        echo(f"figures ({name} run): " + json.dumps(figs))
