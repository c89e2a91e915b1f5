"""The fused ops on a CUDA device: Triton (impl="auto") and torch impls against the float32
reference, in bfloat16 and float32. Skipped without CUDA."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the kernels need torch: pip install 'prover[kernels]'")

from lce_checks import (  # noqa: E402
    GPU_FLOAT32_TOLERANCE,
    check_all_ignored,
    check_cross_entropy,
    check_log_probs,
    make_inputs,
)

from prover.kernels import fused_linear_cross_entropy  # noqa: E402
from prover.kernels.utils import resolve_impl  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

# (leading dims, d, V, chunk_size, ignored fraction): several chunks with a ragged last one;
# a vocabulary of three 32768-wide kernel blocks, the last ragged; the default chunk size.
GPU_CASES = [
    ((3, 333), 256, 32003, 128, 0.2),
    ((64,), 64, 70001, 16, 0.1),
    ((2, 1500), 128, 50257, None, 0.1),
]
GPU_IDS = ["B3x333-V32003-c128", "T64-V70001-c16", "B2x1500-V50257-default"]
DTYPES = {"bf16": (torch.bfloat16, None), "fp32": (torch.float32, GPU_FLOAT32_TOLERANCE)}


def _need_triton(impl):
    if impl in ("auto", "triton"):
        pytest.importorskip("triton", reason="triton not installed: pip install 'prover[kernels]'")


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), GPU_CASES, ids=GPU_IDS)
@pytest.mark.parametrize("impl", ["auto", "torch"])
def test_cross_entropy_on_gpu(impl, lead, d, vocab, chunk, ignore_frac, reduction, dtype):
    _need_triton(impl)
    torch_dtype, tol = DTYPES[dtype]
    check_cross_entropy(impl, lead, d, vocab, chunk, ignore_frac, reduction, dtype=torch_dtype,
                        device="cuda", tol=tol)


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), GPU_CASES, ids=GPU_IDS)
@pytest.mark.parametrize("impl", ["auto", "torch"])
def test_log_probs_on_gpu(impl, lead, d, vocab, chunk, ignore_frac, dtype):
    _need_triton(impl)
    torch_dtype, tol = DTYPES[dtype]
    check_log_probs(impl, lead, d, vocab, chunk, ignore_frac, dtype=torch_dtype, device="cuda",
                    tol=tol)


@pytest.mark.parametrize("impl", ["auto", "torch"])
def test_all_targets_ignored_on_gpu(impl):
    _need_triton(impl)
    check_all_ignored(impl, device="cuda", dtype=torch.bfloat16)


def test_auto_picks_triton_for_cuda_tensors():
    _need_triton("auto")
    assert resolve_impl("auto", torch.device("cuda")) == "triton"


def test_frozen_head_on_gpu_allocates_no_weight_gradient():
    _need_triton("auto")
    hidden, weight, targets = make_inputs((4, 512), 256, 32000, 0.1, dtype=torch.bfloat16,
                                          device="cuda")
    weight.requires_grad_(False)
    # Warm-up, so that cuBLAS workspaces and kernel compilation are not in the measurement.
    fused_linear_cross_entropy(hidden, weight, targets, chunk_size=256).backward()
    hidden.grad = None
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    fused_linear_cross_entropy(hidden, weight, targets, chunk_size=256).backward()
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - base
    weight_bytes = weight.numel() * weight.element_size()
    chunk_bytes = 256 * 32000 * 2
    # logits chunk + hidden gradient + small buffers; a weight-gradient buffer would add 16 MiB.
    assert extra < chunk_bytes + weight_bytes // 2, (extra, weight_bytes)
    assert weight.grad is None and hidden.grad is not None
