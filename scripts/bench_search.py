"""Benchmark of the informal engine's scheduler: pipelined against stage barriers.

A simulated backend (in this process) answers every call after a lognormal latency — bench_llm's
latency model: median 2 s, sigma 1 — drawn from a seeded hash of the call's key, so that both
schedulers see the same latency for the same call. Its answers follow the output contract (proofs
with self-evaluations, verdicts of 0 / 0.5 / 1, some unparsable, meta-verdicts), with scores drawn
from the same seeded hash; refined proofs score better than drafts. Nothing it says is
mathematics, and no figure here is a result about proving.

The fixed workload — 20 problems, the ``medium`` preset (N = M = 8, R = 3, K = 8, A = 4, m = 1) —
runs twice, each time on a fresh SQLite proof database (the real call cache and rows):

* **pipelined**: ``prover run``'s schedule (a proof is verified the moment it exists, problems
  interleave, one concurrency limit);
* **barrier**: DeepSeekMath-V2's reference scripts (each round: all generations of all problems,
  then all verifications, then all meta-verifications).

Printed: both wall times and their ratio (target ≥ 1.5), the calls of each (must be equal: the
same call keys), and the orchestration CPU per call — all CPU time of the process (engine,
model client, parsing, hashing, SQLite writes; not the simulated backend's own work) over the
calls, split by thread — target < 1 ms.
The CPU per call depends on the call rate: rows that arrive together are committed together, so a
slow trickle of answers (full-scale latencies) costs more per call than a busy stream.

Run: ``python scripts/bench_search.py`` (a few minutes at full latency), or ``--time-scale 0.02``
for a quick run.

``--waves W`` instead compares **verification in waves** (``--verification-wave W``) with the full
schedule (all M verifications of every proof), both pipelined, on the same seeds and workload:
verifier calls per problem (target: ≥ 30% fewer), wall time, whether every proof present in both
runs passes or fails alike (it must: the waves ask a prefix of the full schedule's samples), and
how often the proofs selected for refinement differ (per problem and round, the set of parents of
the round's refinements). These are scripted-backend wiring figures, not results: the simulated
verifier's scores are hash draws, not judgements of proofs."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

from prover.core.informal_records import SearchConfig, SearchKnobs
from prover.core.llm_records import CallRequest, Generation, ModelConfig, RoleSettings
from prover.core.records import ProblemRecord


def _unit(*parts: object) -> float:
    """A uniform number in (0, 1) from a seeded hash."""
    h = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return (int.from_bytes(h[:8], "big") + 0.5) / 2 ** 64


def _normal(u: float) -> float:
    # Inverse CDF of the standard normal (Acklam's rational approximation is overkill here;
    # statistics.NormalDist is exact enough and in the standard library).
    return statistics.NormalDist().inv_cdf(u)


class SimulatedBackend:
    """Answers after a lognormal latency; content and latency are functions of the call key."""

    name = "sim"

    def __init__(self, seed: int, median_s: float, sigma: float, scale: float, proof_chars: int):
        self.seed, self.mu, self.sigma, self.scale = seed, math.log(median_s), sigma, scale
        self.filler = ("We argue by induction on n; the base case is immediate. " * (proof_chars // 56 + 1))[:proof_chars]
        self.calls = 0
        self.cpu_s = 0.0

    async def generate(self, call: CallRequest) -> Generation:
        # The simulation's own CPU is measured apart: it is not orchestration.
        t0 = time.thread_time()
        latency, gen = self._answer(call)
        self.cpu_s += time.thread_time() - t0
        await asyncio.sleep(latency)
        return gen

    def _answer(self, call: CallRequest) -> tuple[float, Generation]:
        self.calls += 1
        # The same call gets the same latency and content under both schedules (crc32: cheap,
        # so that the simulation's own CPU stays out of the orchestration figure).
        key = f"{zlib.crc32(call.messages[-1].content.encode()):08x}{call.seed}{call.role}"
        latency = math.exp(self.mu + self.sigma * _normal(_unit(self.seed, key, "latency"))) * self.scale
        u = _unit(self.seed, key, "content")
        prompt = call.messages[-1].content
        if call.role == "generator":
            refined = "--- Solution 0 ---" in prompt
            text = (f"## Solution\n{'Refined' if refined else 'Draft'} {key[:12]}. {self.filler}\n\n## Self Evaluation\n"
                    f"Here is my evaluation of the solution: checked.\nBased on my evaluation, the final overall "
                    f"score should be: \\boxed{{{1 if u < 0.6 else 0.5}}}")
        elif call.role == "verifier":
            refined = "Refined " in prompt
            p1 = 0.85 if refined else 0.55
            if u < 0.05:
                text = "I could not finish the evaluation."
            else:
                score = "1" if u < p1 else ("0.5" if u < (1 + p1) / 2 else "0")
                text = (f"Here is my evaluation of the solution:\n{self.filler[:600]}\n"
                        f"Based on my evaluation, the final overall score should be: \\boxed{{{score}}}")
        elif call.role == "meta_verifier":
            text = ('Here is my analysis of the "solution evaluation": fine.\nBased on my analysis, I will rate the '
                    f'"solution evaluation" as: \\boxed{{{1 if u < 0.8 else 0}}}')
        else:
            text = "\\boxed{yes}"
        return latency, Generation(text=text, finish_reason="stop", prompt_tokens=len(prompt) // 4,
                                   completion_tokens=len(text) // 4, latency_s=latency)

    async def aclose(self) -> None:
        pass


THREAD_CPU: dict[str, float] = {}
_thread_run = threading.Thread.run


def _measured_run(self: threading.Thread) -> None:
    # Each thread's own CPU time, recorded as it ends (the store writers end with the run).
    try:
        _thread_run(self)
    finally:
        THREAD_CPU[self.name] = THREAD_CPU.get(self.name, 0.0) + time.thread_time()


threading.Thread.run = _measured_run  # type: ignore[method-assign]


def run_once(schedule: str, args, problems: list[ProblemRecord], db: Path, *, wave: int | None = None,
             keep: bool = False):
    from prover.pipeline.run import run_informal
    from prover.store import ProofStore

    store = ProofStore.open(db)
    store.add_problems(problems)
    backend = SimulatedBackend(args.seed, args.median, args.sigma, args.time_scale, args.proof_chars)
    config = SearchConfig(knobs=SearchKnobs.preset("medium"), seed=args.seed, verification_wave=wave)
    model_config = ModelConfig(defaults=RoleSettings(model="sim", concurrency=args.concurrency))
    tokens = [f"{p.collection}/{p.external_id}" for p in problems]
    THREAD_CPU.clear()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    summary = run_informal(store, tokens, config=config, model_config=model_config, progress=False,
                           backends={r: backend for r in ("generator", "verifier", "meta_verifier", "judge")},
                           schedule=schedule)
    cpu, wall = time.process_time() - cpu0 - backend.cpu_s, time.perf_counter() - wall0
    with store.session() as s:
        from prover.store.schema import ModelCall

        keys = sorted(k for (k,) in s.query(ModelCall.call_key))
    if keep:
        return summary, backend.calls, keys, wall, store
    store.close()
    threads = {"store writer (calls and rows)": THREAD_CPU.get("prover-store-writer", 0.0)}
    threads["event loop and the rest"] = cpu - sum(threads.values())
    return summary, backend.calls, keys, wall, cpu, threads, backend.cpu_s


def _pool_facts(store, m: int):
    """Per proof (problem, round, text): whether it passed; per (problem, round ≥ 1): the texts
    of the proofs selected for refinement (the parents of the round's refinements); verifier
    calls per problem."""
    from prover.informal.pool import PoolProof, PoolVerdict
    from prover.store.schema import Problem, Proof, Verification

    passed, selected, calls = {}, {}, {}
    with store.session() as s:
        names = dict(s.query(Problem.id, Problem.external_id))
        proofs = s.query(Proof.id, Proof.problem_id, Proof.round, Proof.text, Proof.parent_ids).all()
        text_of = {p.id: p.text for p in proofs}
        verdicts: dict[int, list] = {}
        for v in s.query(Verification.proof_id, Verification.sample_index, Verification.score,
                         Verification.parse_status):
            verdicts.setdefault(v.proof_id, []).append(v)
    for p in proofs:
        vs = verdicts.get(p.id, [])
        calls[names[p.problem_id]] = calls.get(names[p.problem_id], 0) + len(vs)
        pool = PoolProof(round=p.round, slot=0, text=p.text,
                         verdicts=[PoolVerdict(index=v.sample_index, score=v.score, status=v.parse_status, analysis="")
                                   for v in vs])
        passed[(names[p.problem_id], p.round, p.text)] = pool.passed(m)
        if p.round > 0 and p.parent_ids:
            selected.setdefault((names[p.problem_id], p.round), set()).add(text_of.get(p.parent_ids[0]))
    return passed, selected, calls


def compare_waves(args, problems: list[ProblemRecord]) -> None:
    """Full schedule against waves of ``args.waves``, pipelined, same seeds."""
    m = SearchKnobs.preset("medium").verifications
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, wave in (("full", None), (f"waves of {args.waves}", args.waves)):
            summary, calls, _, wall, store = run_once("pipelined", args, problems, Path(tmp) / f"{wave}.db", wave=wave,
                                                      keep=True)
            runs[name] = (summary, calls, wall, *_pool_facts(store, m))
            store.close()
    print(f"bench_search --waves {args.waves}: {args.problems} problems, preset medium (N=M=8, R=3, K=8, A=4, m=1), "
          f"pipelined, seed {args.seed}, time scale {args.time_scale:g}. SCRIPTED-BACKEND WIRING FIGURES, NOT RESULTS: "
          "the simulated verifier's scores are hash draws.")
    (full_name, full), (wave_name, waves) = runs.items()
    for name, (summary, calls, wall, passed, selected, per_problem) in runs.items():
        v = sum(per_problem.values())
        print(f"{name:>14}: verifier calls {v:6d} ({v / len(problems):7.1f} per problem)   all calls {calls:6d}   "
              f"wall {wall:7.2f} s   proofs {len(passed):5d}   simulated passes "
              f"{sum(r.passed for r in summary.results)}/{len(problems)}")
    vf, vw = sum(full[5].values()), sum(waves[5].values())
    print(f"verifier calls saved by waves: {100 * (1 - vw / vf):.1f}%   target >= 30%   "
          f"(wall time ratio waves / full: {waves[2] / full[2]:.2f})")
    common = set(full[3]) & set(waves[3])
    differ = [k for k in common if full[3][k] != waves[3][k]]
    print(f"proofs in both runs: {len(common)} (round 0: {sum(1 for k in common if k[1] == 0)}); pass/fail differs for "
          f"{len(differ)}" + ("" if not differ else f": {sorted(differ)[:5]}"))
    rounds = set(full[4]) | set(waves[4])
    changed = sum(1 for k in rounds if full[4].get(k) != waves[4].get(k))
    print(f"selection for refinement differs in {changed} of {len(rounds)} (problem, round) pairs "
          f"({100 * changed / max(len(rounds), 1):.1f}%)")
    if differ:
        raise SystemExit(1)


def main() -> None:
    import prover.llm  # noqa: F401 - imported before timing, so that neither schedule pays for it
    import prover.pipeline.run  # noqa: F401

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=20, help="problems in the workload")
    ap.add_argument("--concurrency", type=int, default=256, help="the client's concurrency limit")
    ap.add_argument("--time-scale", type=float, default=1.0, help="multiply latencies (0.02: quick run)")
    ap.add_argument("--median", type=float, default=2.0, help="median latency, seconds")
    ap.add_argument("--sigma", type=float, default=1.0, help="lognormal sigma")
    ap.add_argument("--seed", type=int, default=0, help="seed of latencies, scores and the run")
    ap.add_argument("--proof-chars", type=int, default=2000, help="length of a simulated proof")
    ap.add_argument("--waves", type=int, metavar="W",
                    help="compare verification in waves of W with the full schedule instead")
    args = ap.parse_args()

    problems = [ProblemRecord(collection="bench", external_id=f"p{i}",
                              informal_statement=f"Simulated problem {i}: prove that the sequence a_{i} is bounded.")
                for i in range(args.problems)]
    if args.waves is not None:
        compare_waves(args, problems)
        return
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for schedule in ("barrier", "pipelined"):
            figures[schedule] = run_once(schedule, args, problems, Path(tmp) / f"{schedule}.db")

    print(f"bench_search: {args.problems} problems, preset medium (N=M=8, R=3, K=8, A=4, m=1, P=1), "
          f"concurrency {args.concurrency}, lognormal latency median {args.median * args.time_scale:g} s sigma "
          f"{args.sigma:g} (time scale {args.time_scale:g}, seed {args.seed}); simulated backend, SQLite store; "
          f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for schedule, (summary, calls, keys, wall, cpu, threads, sim_cpu) in figures.items():
        solved = sum(r.passed for r in summary.results)
        print(f"{schedule:>9}: wall {wall:8.2f} s   calls {calls:6d} ({calls / wall:.0f}/s)   orchestration CPU "
              f"per call {1000 * cpu / max(calls, 1):6.3f} ms = "
              + " + ".join(f"{1000 * t / max(calls, 1):.3f} {name}" for name, t in threads.items())
              + f"   (rounds {sum(r.rounds for r in summary.results)}, simulated passes {solved}; the simulated "
              f"backend's own {1000 * sim_cpu / max(calls, 1):.3f} ms per call not counted)")
    (_, cb, kb, wb, _, _, _), (_, cp, kp, wp, cpu_p, _, _) = figures["barrier"], figures["pipelined"]
    print(f"speed-up (barrier wall / pipelined wall): {wb / wp:.2f}x   target >= 1.5x")
    print(f"pipelined orchestration CPU per call: {1000 * cpu_p / max(cp, 1):.3f} ms   target < 1 ms "
          f"(machine load average {os.getloadavg()[0]:.1f})")
    same = cb == cp and kb == kp
    print("identical calls (count and keys):", "yes" if same else "NO")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
