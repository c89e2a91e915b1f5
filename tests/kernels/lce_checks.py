"""Checks shared by the kernel tests: the fused ops against the plain PyTorch reference, on
values and on every gradient. Used for impl="torch" (test_linear_cross_entropy.py), for
impl="triton" under the interpreter (interpret_cases.py) and on GPU (test_kernels_gpu.py)."""

from __future__ import annotations

import torch

from prover.kernels import (
    fused_linear_cross_entropy,
    reference_linear_cross_entropy,
    reference_selective_log_probs,
    selective_log_probs,
)
from prover.kernels.utils import assert_verbose_allclose

# (leading dims of hidden/targets, d, V, chunk_size, fraction of ignored targets). The odd
# shapes: T not a multiple of the chunk, V not a power of two (and, under the interpreter,
# several 128-wide vocabulary blocks with a ragged last one), batch dimensions, padding.
CASES = [
    ((13,), 8, 37, 4, 0.3),
    ((2, 7), 16, 300, 5, 0.2),
    ((3, 2, 5), 8, 1000, 8, 0.0),
    ((40,), 32, 129, None, 0.5),
]
CASE_IDS = ["T13-V37-c4", "B2x7-V300-c5", "B3x2x5-V1000-c8", "T40-V129-default"]

# Per dtype: (atol, rtol). Gradients are compared with atol scaled by the largest expected
# magnitude, since a mean over T tokens makes them O(1/T).
TOLERANCES = {torch.float32: (1e-5, 1e-4), torch.bfloat16: (2e-2, 2e-2)}
# On GPU, float32 matmuls of different shapes (chunk vs full) may split their sums differently.
GPU_FLOAT32_TOLERANCE = (1e-4, 1e-3)


def make_inputs(lead, d, vocab, ignore_frac, *, dtype=torch.float32, device="cpu", seed=0):
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*lead, d, generator=gen)
    weight = torch.randn(vocab, d, generator=gen) * d**-0.5  # logits O(1)
    targets = torch.randint(0, vocab, lead, generator=gen)
    targets[torch.rand(lead, generator=gen) < ignore_frac] = -100
    return (hidden.to(device, dtype).requires_grad_(), weight.to(device, dtype).requires_grad_(),
            targets.to(device))


def _upstream(out: torch.Tensor, seed: int = 1) -> torch.Tensor:
    """A random upstream gradient for per-token outputs (1 for a scalar)."""
    if out.dim() == 0:
        return torch.ones((), device=out.device)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(out.shape, generator=gen).to(out.device)


def _grads(out, upstream, hidden, weight):
    hidden.grad = weight.grad = None
    (out.float() * upstream).sum().backward()
    grads = hidden.grad, weight.grad
    hidden.grad = weight.grad = None
    return grads


def compare(fused_fn, reference_fn, hidden, weight, targets, *, name="op", tol=None):
    """Run ``fused_fn`` on the inputs and ``reference_fn`` on float32 copies; compare the
    outputs and both gradients with ``tol`` (default: the inputs' dtype's tolerances)."""
    atol, rtol = tol or TOLERANCES[hidden.dtype]
    out = fused_fn(hidden, weight, targets)
    assert out.dtype == torch.float32, out.dtype
    upstream = _upstream(out)
    gh, gw = _grads(out, upstream, hidden, weight)

    h32 = hidden.detach().float().requires_grad_()
    w32 = weight.detach().float().requires_grad_()
    ref = reference_fn(h32, w32, targets)
    rgh, rgw = _grads(ref, upstream, h32, w32)

    scale = max(ref.detach().abs().max().item(), 1.0) if ref.numel() else 1.0
    assert_verbose_allclose(out, ref, atol=atol * scale, rtol=rtol, name=f"{name} value")
    for got, want, what in ((gh, rgh, "grad hidden"), (gw, rgw, "grad weight")):
        assert got is not None and got.dtype == hidden.dtype, what
        gscale = max(want.abs().max().item(), 1e-12)
        assert_verbose_allclose(got, want, atol=atol * gscale, rtol=rtol, name=f"{name} {what}")


def check_cross_entropy(impl, lead, d, vocab, chunk, ignore_frac, reduction, *,
                        dtype=torch.float32, device="cpu", tol=None):
    hidden, weight, targets = make_inputs(lead, d, vocab, ignore_frac, dtype=dtype, device=device)
    compare(lambda h, w, t: fused_linear_cross_entropy(h, w, t, reduction=reduction, impl=impl,
                                                       chunk_size=chunk),
            lambda h, w, t: reference_linear_cross_entropy(h, w, t, reduction=reduction),
            hidden, weight, targets, name=f"ce[{reduction}]", tol=tol)


def check_log_probs(impl, lead, d, vocab, chunk, ignore_frac, *, dtype=torch.float32,
                    device="cpu", tol=None):
    hidden, weight, targets = make_inputs(lead, d, vocab, ignore_frac, dtype=dtype, device=device)
    compare(lambda h, w, t: selective_log_probs(h, w, t, impl=impl, chunk_size=chunk),
            reference_selective_log_probs, hidden, weight, targets, name="log_probs", tol=tol)


def check_all_ignored(impl, *, device="cpu", dtype=torch.float32):
    """Every target ignored: mean and sum are 0, per-token losses 0, gradients exactly 0."""
    hidden, weight, targets = make_inputs((2, 5), 8, 37, 1.0, device=device, dtype=dtype)
    assert (targets == -100).all()
    for reduction in ("mean", "sum", "none"):
        out = fused_linear_cross_entropy(hidden, weight, targets, reduction=reduction, impl=impl,
                                         chunk_size=3)
        assert torch.isfinite(out).all() and (out == 0).all(), (reduction, out)
        gh, gw = _grads(out, _upstream(out), hidden, weight)
        assert (gh == 0).all() and (gw == 0).all(), reduction
