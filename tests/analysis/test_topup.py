"""``prover labels build --top-up``: a search verified in waves, topped up, gives the informal
labels of the full schedule (the same requests, answered by the same scripted world)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "informal"))
from informal_support import PROBLEMS, ROLES, Refiner, proof_in, run_search, verdict_output  # noqa: E402

from prover.analysis.labels import build_labels  # noqa: E402
from prover.analysis.topup import top_up_analyses  # noqa: E402
from prover.store import ProofStore  # noqa: E402


def world(call):
    # Verdicts drawn from the request seed: some unreadable, some 0.5 (meta-verified by Refiner: 1).
    if call.role == "verifier":
        u = call.seed % 10
        if u == 0:
            return "unreadable"
        return verdict_output("0.5", "gap") if u < 4 else verdict_output("1")
    return Refiner()(call)


def _store(tmp_path, name):
    store = ProofStore.open(tmp_path / name)
    store.add_problems(PROBLEMS)
    return store


def _labels(store):
    texts = {p.id: p.text for p in store.proofs_of(1)}
    return {texts[r.proof_id]: (r.value, r.evidence["rule"]) for r in store.labels(sources=["informal"])
            if r.proof_id in texts}


def test_top_up_gives_the_full_schedules_labels(tmp_path):
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend

    kw = dict(proofs=6, verifications=3, rounds=0, max_verdict_retries=2)
    full = _store(tmp_path, "full.db")
    run_search(full, world, **kw)
    waves = _store(tmp_path, "waves.db")
    run_search(waves, world, verification_wave=1, **kw)
    assert len(waves.verifications_of_proofs([p.id for p in waves.proofs_of(1)])) < \
        len(full.verifications_of_proofs([p.id for p in full.proofs_of(1)]))

    build_labels(full, sources="informal")
    backend = ScriptedBackend(world)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    s = top_up_analyses(waves, model_config=mc, backends={r: backend for r in ROLES})
    assert s.proofs > 0 and s.completed == s.proofs and s.short == [] and s.verifications > 0
    # exactly the verifier requests the full schedule sent and the waves did not
    assert {c.role for c in backend.calls} <= {"verifier", "meta_verifier"}
    build_labels(waves, sources="informal")
    assert _labels(waves) == _labels(full) and len(_labels(full)) == 6
    # nothing is short any more: a second top-up asks nothing
    again = top_up_analyses(waves, model_config=mc, backends={r: ScriptedBackend(world) for r in ROLES})
    assert (again.proofs, again.verifications) == (0, 0)
    full.close()
    waves.close()


def test_top_up_stops_at_the_searchs_sample_limit(tmp_path):
    from prover.core.llm_records import ModelConfig, RoleSettings
    from prover.llm import ScriptedBackend

    def unreadable_after_first(call):
        if call.role == "verifier":
            return verdict_output("0", "gap") if "seed" in proof_in(call) and call.seed % 2 else "unreadable"
        return Refiner()(call)

    store = _store(tmp_path, "short.db")
    run_search(store, unreadable_after_first, proofs=2, verifications=3, rounds=0, max_verdict_retries=1,
               verification_wave=1)
    mc = ModelConfig(defaults=RoleSettings(backend="scripted", max_retries=0, backoff_s=0))
    s = top_up_analyses(store, model_config=mc, backends={r: ScriptedBackend(unreadable_after_first) for r in ROLES})
    # at most M + retries = 4 samples per proof in all: some proofs stay short, and say so
    assert s.short and s.completed + len(s.short) == s.proofs
    for p in store.proofs_of(1):
        assert max(v.sample_index for v in store.verifications_of(p.id)) < 4
    store.close()
