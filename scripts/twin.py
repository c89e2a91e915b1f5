"""The twin of a real deployment (issue 18): `prover run --formal` over many problems against a
simulated Lean REPL pool and a simulated OpenAI-compatible model server, uninterrupted and then
with chaos (SIGKILL of the prover process and restart, SIGKILL of REPL processes, a model-server
outage); then it checks invariants and prints figures.

    PYTHONPATH=. python scripts/twin.py                      # 200 problems, medium, 10 kills
    PYTHONPATH=. python scripts/twin.py --problems 20 --kills 3 --knobs "--proofs 2 --verifications 2"

Exit 0 when every invariant holds, 1 otherwise. The figures measure prover's own machinery on
this machine: the REPL and the models are simulators (prover/testing), so nothing printed here
is evidence about real Lean or real models."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile

from prover.testing.sim_openai import SimModelConfig
from prover.testing.sim_repl import SimLeanConfig
from prover.testing.twin import TwinConfig, print_report, run_twin


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--problems", type=int, default=200)
    p.add_argument("--data", help="JSONL problem file [default: $PROVER_SHARED/data/minif2f/...]")
    p.add_argument("--budget", default="medium")
    p.add_argument("--knobs", default="", help="extra `prover run` arguments, quoted")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--repl-kills", type=int, default=5)
    p.add_argument("--outage", type=float, default=5.0, help="seconds of model-server outage (0: none)")
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--lean-timeout", type=float, default=20.0, help="seconds per Lean check (--lean-timeout)")
    p.add_argument("--no-baseline", action="store_true", help="skip the uninterrupted run (no label check)")
    p.add_argument("--lean", default="{}", help="SimLeanConfig as JSON")
    p.add_argument("--models", default="{}", help="SimModelConfig as JSON")
    p.add_argument("--workdir", help="keep databases and logs here [default: a temporary folder]")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    cfg = TwinConfig(problems=a.problems, data=a.data, budget=a.budget, knobs=tuple(shlex.split(a.knobs)),
                     seed=a.seed, kills=a.kills, repl_kills=a.repl_kills, outage_s=a.outage, processes=a.processes,
                     concurrency=a.concurrency, lean_timeout_s=a.lean_timeout, baseline=not a.no_baseline,
                     lean=SimLeanConfig.model_validate_json(a.lean), models=SimModelConfig.model_validate_json(a.models))
    work = a.workdir or tempfile.mkdtemp(prefix="twin-")
    report = run_twin(cfg, work, echo=lambda s: print(s, file=sys.stderr, flush=True))
    if a.json:
        print(json.dumps(report.model_dump(), indent=1, default=str))
    else:
        print_report(report)
    print(f"(databases and logs in {work})", file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
