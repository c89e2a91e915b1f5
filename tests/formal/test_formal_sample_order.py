"""`--formal-sample` draws the same proofs whatever order they were stored in: row ids follow
insertion order, which the timing of concurrent work decides (found by the twin, issue 18)."""

from __future__ import annotations

import random

from formal_support import toy_problem
from prover.core.records import ProofRecord
from prover.formal.engine import sample_pool
from prover.store import ProofStore

TEXTS = [f"Proof {i}. By induction on n; step {i} closes the goal." for i in range(12)]


def drawn_texts(path, order: list[int], k: int, seed: int) -> list[str]:
    store = ProofStore.open(path)
    try:
        store.add_problems([toy_problem()])
        problem = store.resolve_problem("mini/toy")
        store.add_proofs([ProofRecord(problem_id=problem.id, text=TEXTS[i], source="imported") for i in order])
        pool = {p.id: p.text for p in store.proofs_of(problem.id)}
        drawn, probability = sample_pool(pool, k, seed, "mini/toy")
        assert probability == k / len(TEXTS)
        return sorted(pool[pid] for pid in drawn)
    finally:
        store.close()


def test_same_proofs_in_different_orders_draw_the_same_proofs(tmp_path):
    shuffled = list(range(len(TEXTS)))
    random.Random(7).shuffle(shuffled)
    for seed in range(5):
        first = drawn_texts(tmp_path / f"in-order-{seed}.db", list(range(len(TEXTS))), 4, seed)
        second = drawn_texts(tmp_path / f"shuffled-{seed}.db", shuffled, 4, seed)
        assert first == second
        assert len(set(first)) == 4


def test_the_seed_still_changes_the_draw():
    pool = dict(enumerate(TEXTS))
    draws = {tuple(sample_pool(pool, 4, seed, "mini/toy")[0]) for seed in range(10)}
    assert len(draws) > 1
