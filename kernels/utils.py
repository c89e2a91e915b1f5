"""Helpers shared by the kernels: picking an implementation, chunk and block sizes, and a
verbose ``allclose`` for tests and device checks."""

from __future__ import annotations

import importlib.util
import os

import torch

from prover.core.errors import PrerequisiteError

IMPLS = ("auto", "torch", "triton")

# Logits elements one chunk may hold. On CPU a chunk of ~8M fp32 logits (32 MiB) keeps the
# matmuls large enough to run at full speed while the chunk buffers stay a small fraction of the
# plain computation's peak (measured with scripts/bench_kernels.py, T=4096, d=256, V=32768).
# On GPU, 2**27 elements (256 MiB of bf16 logits for V=131072, i.e. 1024 tokens) saturates the
# matmuls while keeping the extra memory far below the plain logits.
CHUNK_LOGITS_CPU = 2**23
CHUNK_LOGITS_GPU = 2**27

# The Triton row kernel walks the vocabulary in blocks; beyond this a block no longer fits the
# registers of one program comfortably (Liger uses the same limit).
MAX_BLOCK_SIZE = 32768
# Under the interpreter (CPU tensors), small blocks so that tests exercise the multi-block loop.
INTERPRET_BLOCK_SIZE = 128


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def triton_available() -> bool:
    """Whether the ``triton`` package can be imported (without importing it)."""
    return importlib.util.find_spec("triton") is not None


def interpreting() -> bool:
    """Whether Triton kernels run under the interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def resolve_impl(impl: str, device: torch.device) -> str:
    """Turn ``impl`` ("auto", "torch", "triton") into the implementation that will run.

    "auto" picks Triton for CUDA tensors when triton is installed, torch otherwise. "triton"
    on CPU tensors only works under the interpreter, which must be switched on (TRITON_INTERPRET=1)
    before triton is first imported.
    """
    if impl not in IMPLS:
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    if impl == "auto":
        return "triton" if device.type == "cuda" and triton_available() else "torch"
    if impl == "triton":
        if not triton_available():
            raise PrerequisiteError(
                "impl='triton' needs the triton package: pip install 'prover[kernels]' "
                "(or use impl='torch')")
        if device.type != "cuda" and not interpreting():
            raise PrerequisiteError(
                f"impl='triton' on {device.type} tensors needs the Triton interpreter: set "
                "TRITON_INTERPRET=1 before triton is imported "
                "(or use CUDA tensors, or impl='torch')")
    return impl


def default_chunk_size(n_tokens: int, vocab: int, device: torch.device) -> int:
    """Tokens per chunk so that one chunk of logits stays within the device's budget."""
    budget = CHUNK_LOGITS_GPU if device.type == "cuda" else CHUNK_LOGITS_CPU
    chunk = max(1, budget // max(vocab, 1))
    if chunk >= 64:
        chunk -= chunk % 64  # whole matmul tiles
    return max(1, min(chunk, n_tokens))


def block_size_for(vocab: int, device: torch.device) -> int:
    """Vocabulary block of the Triton row kernel."""
    limit = MAX_BLOCK_SIZE if device.type == "cuda" else INTERPRET_BLOCK_SIZE
    return min(next_power_of_2(vocab), limit)


def assert_verbose_allclose(actual: torch.Tensor, expected: torch.Tensor, *, atol: float,
                            rtol: float, name: str = "tensor", max_print: int = 5) -> None:
    """``torch.allclose`` that names the worst mismatching elements when it fails."""
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
    a = actual.detach().double().cpu()
    e = expected.detach().double().cpu()
    bad_nan = torch.isnan(a) != torch.isnan(e)
    diff = (a - e).abs().nan_to_num(0.0)
    bad = (diff > atol + rtol * e.abs()) | bad_nan
    if not bad.any():
        return
    idx = bad.nonzero()
    order = diff[bad].argsort(descending=True)[:max_print]
    lines = [f"{name}: {int(bad.sum())} of {a.numel()} elements differ "
             f"(atol={atol:g}, rtol={rtol:g}, max abs diff {diff.max().item():.3g})"]
    for k in order.tolist():
        where = tuple(idx[k].tolist())
        lines.append(f"  at {where}: actual {a[where].item():.6g}, expected {e[where].item():.6g}")
    raise AssertionError("\n".join(lines))
