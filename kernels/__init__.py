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

import sys

if __name__ == "kernels":
    # Imported as a bare top-level ``kernels``: this repository's root is on sys.path (``python -m
    # pytest``, a shell or notebook started in the checkout), and this folder is shadowing the
    # installed package of that name (Hugging Face's, which transformers imports). Hand the import
    # over to the installed package; this folder is only ever ``prover.kernels``. (The rest of
    # this file then runs on the detached module object, which nothing refers to.)
    def _hand_over() -> None:
        import importlib.machinery
        import importlib.util
        import os

        here = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = [p for p in sys.path if os.path.realpath(os.path.abspath(p or os.curdir)) != here]
        spec = importlib.machinery.PathFinder.find_spec("kernels", path)
        if spec is None or spec.loader is None:
            # Nothing installed: become what Python makes of a folder without __init__.py, an
            # empty namespace package, which import checks (transformers' among them) read as
            # "not installed" and from which nothing can be imported.
            empty = importlib.util.module_from_spec(
                importlib.machinery.ModuleSpec("kernels", None, is_package=True))
            empty.__path__ = []
            empty.__file__ = None
            sys.modules["kernels"] = empty
            return
        module = importlib.util.module_from_spec(spec)
        sys.modules["kernels"] = module  # the import statement returns what sys.modules holds
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop("kernels", None)
            raise

    _hand_over()

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
