"""Benchmark: the REPL pool against one fresh REPL process per check.

Without a Lean toolchain (the default here) it measures the pool's process handling with the
fake REPL of the tests and a cost model that sleeps: a header import costs 10 s per process, a
check 0.5–5 s (uniform, fixed per request text), all times multiplied by --time-scale. 2,000
checks interleaved across 8 import headers are run by 16 simulated workers (threads), first
through one pool of 16 processes, then with a fresh process (start, import, check, exit) per
check. The figures are about process handling only: no Lean ran.

With a real toolchain (`prover lean doctor` finds a REPL; or --real) the same comparison runs
real Lean on miniF2F statements (elaborated with `sorry`), and the output says so.

    python scripts/bench_lean_pool.py [--time-scale 0.02] [--checks 2000] [--workers 16]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from queue import Empty, Queue

ROOT = Path(__file__).resolve().parents[1]
FAKE_REPL = ROOT / "tests" / "lean" / "fake_repl.py"

HEADERS = [
    "import Mathlib",
    "import Mathlib\nimport Aesop",
    "import Mathlib.Data.Real.Basic",
    "import Mathlib.Data.Nat.Digits.Lemmas",
    "import Mathlib.Algebra.BigOperators.Group.Finset.Basic",
    "import Mathlib.Analysis.SpecialFunctions.Pow.Real",
    "import Mathlib.NumberTheory.Basic",
    "import Mathlib.Topology.Basic",
]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def run_workers(codes: list[str], workers: int, check) -> tuple[float, list[float], list[str]]:
    """Run ``check(code)`` over ``codes`` from ``workers`` threads; (seconds, latencies, statuses)."""
    queue: Queue = Queue()
    for c in codes:
        queue.put(c)
    latencies: list[float] = []
    statuses: list[str] = []
    lock = threading.Lock()

    def work():
        while True:
            try:
                code = queue.get_nowait()
            except Empty:
                return
            t0 = time.monotonic()
            status = check(code)
            with lock:
                latencies.append(time.monotonic() - t0)
                statuses.append(status)

    t0 = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0, latencies, statuses


def fresh_check(command, cwd, env, cap, import_timeout, timeout):
    from prover.lean.header import split_imports
    from prover.lean.repl import ReplProcess

    def check(code: str) -> str:
        split = split_imports(code)
        try:
            with ReplProcess(command, cwd=cwd, env=env, memory_cap_bytes=cap) as repl:
                env_id = repl.send({"cmd": split.import_command}, import_timeout)["env"]
                resp = repl.send({"cmd": split.body, "env": env_id}, timeout)
                return "error" if "message" in resp else "ok"
        except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it does not stop
            return type(exc).__name__
    return check


def synthetic_codes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(HEADERS)}\nopen Real\n\ntheorem bench_{i} : {i} + 0 = {i} := by simp\n" for i in range(n)]


def minif2f_codes(n: int) -> list[str]:
    from prover.core.paths import shared_dir

    path = shared_dir() / "data" / "minif2f" / "deepseek-prover-v1.5" / "minif2f.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()][:n]
    return [r["header"] + r["formal_statement"] + "  sorry\n" for r in rows]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-scale", type=float, default=0.02, help="multiplies the fake cost model's sleeps")
    ap.add_argument("--checks", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--processes", type=int, default=16, help="pool size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", action="store_true", help="require real Lean (fail if there is none)")
    ap.add_argument("--fake", action="store_true", help="use the fake REPL even if Lean is installed")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    from prover.lean.limits import GiB
    from prover.lean.pool import PoolConfig, ReplPool
    from prover.lean.toolchain import doctor, read_pin, repl_command

    report = None if args.fake else doctor()
    real = bool(report and report.backends.get("repl"))
    if args.real and not real:
        print("no real Lean REPL here (`prover lean doctor`):", *(report.missing if report else []), sep="\n  ")
        return 3
    tmp = tempfile.TemporaryDirectory()
    if real:
        pin = read_pin()
        command, cwd, env, cap = repl_command(pin), pin.project_dir, None, 8 * GiB
        n = min(args.checks, 244)
        codes = minif2f_codes(n)
        import_timeout, timeout = 1800.0, 600.0
        what = (f"MEASURED: real Lean {pin.toolchain}, Mathlib {(pin.mathlib_rev or '?')[:12]}, REPL {pin.repl_tag}; "
                f"{n} miniF2F statements elaborated with `sorry`")
    else:
        table = Path(tmp.name) / "table.json"
        table.write_text(json.dumps({"default": {"env": 0},
                                     "cost": {"import_s": 10, "check_s": [0.5, 5], "scale": args.time_scale}}))
        command = [sys.executable, "-S", str(FAKE_REPL), str(table)]
        cwd, env, cap = None, None, 8 * GiB
        codes = synthetic_codes(args.checks, args.seed)
        import_timeout, timeout = 600.0, 600.0
        what = (f"MEASURED: the fake REPL (no Lean ran), cost model: import 10 s per process, check 0.5-5 s, "
                f"x{args.time_scale} time scale; {len(codes)} checks over {len(HEADERS)} import headers")
    print(what)
    print(f"workers: {args.workers}, pool processes: {args.processes}")

    from prover.core.lean_backend_records import LeanRunRequest

    with ReplPool(PoolConfig(command=command, cwd=cwd, env=env, memory_cap_bytes=cap,
                             max_processes=args.processes, import_timeout_s=import_timeout)) as pool:
        pool_s, pool_lat, pool_st = run_workers(
            codes, args.workers, lambda c: pool.check(LeanRunRequest(code=c, timeout_s=timeout)).status)
        stats = pool.stats.as_dict()
    fresh_s, fresh_lat, fresh_st = run_workers(codes, args.workers,
                                               fresh_check(command, cwd, env, cap, import_timeout, timeout))
    n = len(codes)
    for name, secs, lat, st in (("pool", pool_s, pool_lat, pool_st), ("fresh process per check", fresh_s,
                                                                      fresh_lat, fresh_st)):
        bad = sum(1 for s in st if s != "ok")
        print(f"{name:24} {n / secs:8.1f} checks/s  ({secs:.1f} s; latency p20/p50/p80 "
              f"{percentile(lat, .2):.3f}/{percentile(lat, .5):.3f}/{percentile(lat, .8):.3f} s"
              + (f"; {bad} not ok" if bad else "") + ")")
    print(f"ratio pool / fresh: {fresh_s / pool_s:.2f}x")
    print(f"pool: {stats['started']} processes started, {stats['header_imports']} header imports, "
          f"{stats['evicted']} replaced, {stats['reused']} checks on a warm process")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
