"""Verifier training on the labeled proof database's exports.

Public names: :func:`train_verifier` (``prover train verifier``), :func:`train_reward_model`
(``prover train reward-model``), :func:`evaluate_verifier` and :func:`held_out_proofs`
(``prover train evaluate``), :func:`verifier_name`. torch and transformers are imported only
when training runs (extra ``ml``)."""

from prover.train.evaluate import evaluate_verifier, held_out_proofs, verifier_name
from prover.train.reward import train_reward_model
from prover.train.verifier import train_verifier

__all__ = ["evaluate_verifier", "held_out_proofs", "train_reward_model", "train_verifier", "verifier_name"]
