"""Memory-efficient training kernels, installed as ``prover.kernels``.

* ``fused_linear_cross_entropy(hidden, weight, targets, ignore_index=-100, reduction="mean",
  impl="auto")``: cross-entropy through an LM head without materializing the logits.
* ``selective_log_probs(hidden, weight, targets, impl="auto")``: per-token log-probabilities of
  the targets, differentiable, from the same machinery.
* ``FusedLinearCrossEntropyLoss``: the ``nn.Module`` face of the first.

Names load lazily, so ``import prover.kernels`` needs neither torch nor triton; torch is needed
when a name is used, triton only for ``impl="triton"`` (or "auto" on CUDA). The code lives in
``linear_cross_entropy.py`` (a module named like the function would shadow it here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = [
    "FusedLinearCrossEntropyFunction",
    "FusedLinearCrossEntropyLoss",
    "fused_linear_cross_entropy",
    "reference_linear_cross_entropy",
    "reference_selective_log_probs",
    "selective_log_probs",
]

if TYPE_CHECKING:
    from .linear_cross_entropy import (
        FusedLinearCrossEntropyFunction,
        FusedLinearCrossEntropyLoss,
        fused_linear_cross_entropy,
        reference_linear_cross_entropy,
        reference_selective_log_probs,
        selective_log_probs,
    )


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import linear_cross_entropy as module
    except ModuleNotFoundError as exc:
        if exc.name != "torch":
            raise
        from prover.core.errors import PrerequisiteError

        raise PrerequisiteError(
            "prover.kernels needs torch: pip install 'prover[kernels]'") from exc
    return getattr(module, name)
