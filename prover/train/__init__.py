"""Training on the labeled proof database's exports: verifiers (SFT, GRPO), meta-verifiers and generators
(GRPO), reward models.

Public names: :func:`train_verifier` (``prover train verifier``), :func:`train_reward_model`
(``prover train reward-model``), :func:`evaluate_verifier` and :func:`held_out_proofs`
(``prover train evaluate``), :func:`verifier_name`, :func:`train_grpo` (``prover train
verifier|meta-verifier|generator --method grpo``, extra ``rl``). torch, transformers and TRL are
imported only when training runs (extras ``ml``, ``rl``)."""

from prover.train.evaluate import evaluate_verifier, held_out_proofs, verifier_name
from prover.train.grpo import train_grpo
from prover.train.reward import train_reward_model
from prover.train.verifier import train_verifier

__all__ = ["evaluate_verifier", "held_out_proofs", "train_grpo", "train_reward_model", "train_verifier",
           "verifier_name"]
