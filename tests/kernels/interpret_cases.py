"""impl="triton" on CPU tensors under the Triton interpreter, against the plain reference.

Not collected by the normal run (no ``test_`` prefix): test_triton_interpreter.py runs this file
in a subprocess with TRITON_INTERPRET=1, which must be set before triton is imported. To run it
directly: ``TRITON_INTERPRET=1 python -m pytest tests/kernels/interpret_cases.py``.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("needs TRITON_INTERPRET=1 set before triton is imported",
                allow_module_level=True)

torch = pytest.importorskip("torch", reason="the kernels need torch: pip install 'prover[kernels]'")
pytest.importorskip("triton", reason="triton not installed: pip install 'prover[kernels]'")

from lce_checks import (  # noqa: E402
    CASE_IDS,
    CASES,
    check_all_ignored,
    check_cross_entropy,
    check_log_probs,
    make_inputs,
)

from prover.kernels import fused_linear_cross_entropy  # noqa: E402
from prover.kernels.linear_cross_entropy import _ce_rows_torch  # noqa: E402


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), CASES, ids=CASE_IDS)
def test_cross_entropy_matches_reference(lead, d, vocab, chunk, ignore_frac, reduction):
    check_cross_entropy("triton", lead, d, vocab, chunk, ignore_frac, reduction)


@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), CASES, ids=CASE_IDS)
def test_log_probs_match_reference(lead, d, vocab, chunk, ignore_frac):
    check_log_probs("triton", lead, d, vocab, chunk, ignore_frac)


def test_bfloat16_within_tolerance():
    check_cross_entropy("triton", (2, 9), 16, 300, 4, 0.2, "mean", dtype=torch.bfloat16)


def test_all_targets_ignored_gives_zero():
    check_all_ignored("triton")


def test_auto_stays_on_torch_for_cpu_tensors():
    hidden, weight, targets = make_inputs((5,), 8, 20, 0.0)
    out = fused_linear_cross_entropy(hidden, weight, targets, impl="auto")
    assert torch.isfinite(out)


@pytest.mark.parametrize("has_lse", [False, True])
@pytest.mark.parametrize("compute_grad", [False, True])
def test_row_kernel_matches_torch_rows(has_lse, compute_grad):
    """The Triton row kernel and its PyTorch twin agree on every output, the in-place gradient
    included (without a gradient the torch twin may use the logits as scratch)."""
    from prover.kernels._triton_fused_ce import ce_rows_triton

    gen = torch.Generator().manual_seed(3)
    rows, vocab = 6, 333
    logits = torch.randn(rows, vocab, generator=gen) * 3
    targets = torch.randint(0, vocab, (rows,), generator=gen)
    targets[2] = -100
    row_scale = torch.rand(rows, generator=gen) * (targets != -100)
    lse_in = torch.logsumexp(logits, dim=1)
    outs = []
    for fn in (ce_rows_triton, _ce_rows_torch):
        x = logits.clone()
        lse = lse_in.clone() if has_lse else torch.empty(rows)
        target_logit = torch.zeros(rows)
        fn(x, targets, row_scale, lse, target_logit, -100, has_lse, compute_grad)
        outs.append((x, lse, target_logit))
    compared = outs if compute_grad else [o[1:] for o in outs]
    for got, want in zip(*compared):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    if not has_lse:
        torch.testing.assert_close(outs[0][1], lse_in)
        picked = logits.gather(1, targets.clamp(min=0)[:, None]).squeeze(1)
        torch.testing.assert_close(outs[0][2], torch.where(targets != -100, picked, 0.0))
    if compute_grad:
        expected = (logits.softmax(1) - torch.nn.functional.one_hot(targets.clamp(min=0), vocab))
        torch.testing.assert_close(outs[0][0], expected * row_scale[:, None], atol=1e-6, rtol=1e-5)


def test_frozen_head_log_probs():
    from prover.kernels import reference_selective_log_probs, selective_log_probs

    hidden, weight, targets = make_inputs((2, 7), 16, 300, 0.2)
    weight.requires_grad_(False)
    upstream = torch.randn(targets.shape, generator=torch.Generator().manual_seed(5))
    lp = selective_log_probs(hidden, weight, targets, impl="triton", chunk_size=5)
    (lp * upstream).sum().backward()
    h32 = hidden.detach().requires_grad_()
    ref = reference_selective_log_probs(h32, weight, targets)
    (ref * upstream).sum().backward()
    torch.testing.assert_close(lp, ref)
    torch.testing.assert_close(hidden.grad, h32.grad)
    assert weight.grad is None
