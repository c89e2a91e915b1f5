"""Triton kernel for the row-wise part of the fused linear cross-entropy: the log-sum-exp of one
chunk of logits and, in place, the scaled gradient of the logits.

Imported only when impl="triton" runs, so that ``import prover.kernels`` never needs triton. The
matmuls around it stay in torch (cuBLAS on GPU), as in Liger-Kernel's fused linear cross-entropy.
Under TRITON_INTERPRET=1 (set before triton is imported) the kernel runs on CPU tensors.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .utils import block_size_for


@triton.jit
def _ce_rows_kernel(
    logits_ptr,
    logits_stride,
    targets_ptr,
    row_scale_ptr,
    lse_ptr,
    target_logit_ptr,
    n_cols,
    ignore_index,
    HAS_LSE: tl.constexpr,
    COMPUTE_GRAD: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
):
    """One program per row of logits.

    Without HAS_LSE, an online log-sum-exp over the row's blocks writes ``lse`` and the target's
    logit (0 for ignored rows); with HAS_LSE the saved ``lse`` is read instead (backward
    recomputation). With COMPUTE_GRAD the row is then overwritten by
    ``row_scale * (softmax(row) - onehot(target))``; ignored rows carry row_scale 0.
    """
    row = tl.program_id(0).to(tl.int64)
    logits_ptr += row * logits_stride
    target = tl.load(targets_ptr + row)
    valid = target != ignore_index
    safe_target = tl.where(valid, target, 0)

    if HAS_LSE:
        lse = tl.load(lse_ptr + row)
    else:
        m = float("-inf")
        d = 0.0
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            x = tl.load(logits_ptr + cols, mask=cols < n_cols, other=float("-inf")).to(tl.float32)
            m_new = tl.maximum(m, tl.max(x, 0))
            d = d * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new), 0)
            m = m_new
        lse = m + tl.log(d)
        tl.store(lse_ptr + row, lse)
        z_target = tl.load(logits_ptr + safe_target).to(tl.float32)
        tl.store(target_logit_ptr + row, tl.where(valid, z_target, 0.0))

    if COMPUTE_GRAD:
        scale = tl.load(row_scale_ptr + row)
        for start in range(0, n_cols, BLOCK_SIZE):
            cols = start + tl.arange(0, BLOCK_SIZE)
            mask = cols < n_cols
            x = tl.load(logits_ptr + cols, mask=mask, other=0.0).to(tl.float32)
            g = tl.exp(x - lse)
            g = tl.where(cols == safe_target, g - 1.0, g) * scale
            tl.store(logits_ptr + cols, g.to(logits_ptr.dtype.element_ty), mask=mask)


def _num_warps(block_size: int) -> int:
    if block_size >= 16384:
        return 32
    if block_size >= 4096:
        return 16
    if block_size >= 1024:
        return 8
    return 4


def ce_rows_triton(logits: torch.Tensor, targets: torch.Tensor, row_scale: torch.Tensor,
                   lse: torch.Tensor, target_logit: torch.Tensor, ignore_index: int,
                   has_lse: bool, compute_grad: bool) -> None:
    """Launch the row kernel over a ``[rows, V]`` chunk of logits (see ``_ce_rows_kernel``).

    ``lse`` and ``target_logit`` are float32 ``[rows]`` outputs (``lse`` an input when
    ``has_lse``); ``row_scale`` is float32 ``[rows]``; the logits are overwritten by their
    gradient when ``compute_grad`` (and left as they were otherwise).
    """
    n_rows, n_cols = logits.shape
    if n_rows == 0:
        return
    if logits.stride(1) != 1:
        raise ValueError("logits rows must be contiguous")
    block = block_size_for(n_cols, logits.device)
    _ce_rows_kernel[(n_rows,)](
        logits, logits.stride(0), targets, row_scale, lse, target_logit, n_cols, ignore_index,
        HAS_LSE=has_lse, COMPUTE_GRAD=compute_grad, BLOCK_SIZE=block,
        num_warps=_num_warps(block),
    )
