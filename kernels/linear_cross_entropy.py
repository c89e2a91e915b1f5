"""Fused linear cross-entropy and selective log-probabilities: the loss of hidden states through
an LM head without materializing the ``[tokens, vocab]`` logits.

Layout, in the Liger-Kernel manner:

* ``reference_*``: the plain PyTorch computation (full logits), the ground truth for tests and
  the baseline of ``scripts/bench_kernels.py``.
* ``_ce_rows_torch``: the row-wise part (log-sum-exp, target logit, in-place scaled gradient) for
  one chunk of logits in PyTorch; ``_triton_fused_ce.ce_rows_triton`` is its Triton twin.
* ``_chunked_pass``: the launcher; walks the tokens in chunks, computes each chunk's logits with
  one matmul, runs the row part, and turns the logits gradient into gradients for the hidden
  states and the head in the same pass.
* ``FusedLinearCrossEntropyFunction``: the one autograd.Function.
* ``fused_linear_cross_entropy``, ``selective_log_probs``, ``FusedLinearCrossEntropyLoss``.

Two gradient strategies share that machinery. For ``reduction="mean"`` / ``"sum"`` the
upstream gradient of the loss is a scalar, so the gradients are computed during the forward
pass (as Liger does) and backward only scales them. For ``reduction="none"`` (and so for
``selective_log_probs``) every token has its own upstream gradient, known only in backward.
With a frozen head that is no obstacle: token i's loss depends on hidden_i alone, so the
forward pass keeps each token's own gradient and backward scales the rows. With a trainable
head, whose gradient sums over tokens, the forward pass keeps the per-token log-sum-exp and
backward recomputes each chunk's logits (one matmul more than the plain computation).
Either way only ``[chunk, V]`` logits exist at once, and a gradient is computed only for the
inputs that need one (a frozen head under LoRA gets no weight-gradient buffer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .utils import default_chunk_size, resolve_impl

REDUCTIONS = ("mean", "sum", "none")


# --- plain PyTorch reference -------------------------------------------------------------------


def reference_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor,
                                   targets: torch.Tensor, ignore_index: int = -100,
                                   reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy of ``hidden @ weight.T`` against ``targets``, materializing the logits.

    Computes in the inputs' dtype. With every target ignored, the mean is 0 (plain
    ``F.cross_entropy`` would give NaN), matching the fused op.
    """
    logits = F.linear(hidden, weight).reshape(-1, weight.shape[0])
    flat = targets.reshape(-1)
    if reduction == "none":
        return F.cross_entropy(logits, flat, ignore_index=ignore_index,
                               reduction="none").reshape(targets.shape)
    total = F.cross_entropy(logits, flat, ignore_index=ignore_index, reduction="sum")
    if reduction == "sum":
        return total
    return total / (flat != ignore_index).sum().clamp(min=1)


def reference_selective_log_probs(hidden: torch.Tensor, weight: torch.Tensor,
                                  targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
    """``log_softmax(hidden @ weight.T)`` at the targets (0 where the target is ignored)."""
    logp = F.linear(hidden, weight).log_softmax(-1)
    valid = targets != ignore_index
    picked = logp.gather(-1, torch.where(valid, targets, 0).unsqueeze(-1)).squeeze(-1)
    return torch.where(valid, picked, torch.zeros_like(picked))


# --- row-wise part, PyTorch ----------------------------------------------------------------------


def _ce_rows_torch(logits: torch.Tensor, targets: torch.Tensor, row_scale: torch.Tensor,
                   lse: torch.Tensor, target_logit: torch.Tensor, ignore_index: int,
                   has_lse: bool, compute_grad: bool) -> None:
    """Same contract as ``ce_rows_triton``: fill ``lse`` and ``target_logit`` (float32, [rows])
    unless ``has_lse``; with ``compute_grad`` overwrite the logits by
    ``row_scale * (softmax - onehot(target))``.

    Works in place on float32 logits so that a chunk needs no second ``[rows, V]`` buffer;
    without ``compute_grad`` the logits are left as scratch.
    """
    x = logits if logits.dtype == torch.float32 else logits.float()
    valid = targets != ignore_index
    safe = torch.where(valid, targets, 0).unsqueeze(1)
    if has_lse:
        if compute_grad:
            x.sub_(lse.unsqueeze(1)).exp_().mul_(row_scale.unsqueeze(1))
    else:
        target_logit.copy_(torch.where(valid, x.gather(1, safe).squeeze(1), 0.0))
        row_max = x.amax(dim=1, keepdim=True)
        x.sub_(row_max).exp_()  # x = exp(z - max): the softmax up to the row sums
        sums = x.sum(dim=1, keepdim=True)
        lse.copy_((row_max + sums.log()).squeeze(1))
        if compute_grad:
            x.mul_(row_scale.unsqueeze(1) / sums)
    if compute_grad:
        x.scatter_add_(1, safe, -row_scale.unsqueeze(1))  # ignored rows have row_scale 0
        if x is not logits:
            logits.copy_(x)


def _ce_rows(impl: str):
    if impl == "triton":
        from ._triton_fused_ce import ce_rows_triton  # lazy: triton is optional

        return ce_rows_triton
    return _ce_rows_torch


# --- launcher ---------------------------------------------------------------------------------


def _chunked_pass(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                  ignore_index: int, row_scale: torch.Tensor | None, lse: torch.Tensor | None,
                  need_grad_hidden: bool, need_grad_weight: bool, impl: str,
                  chunk_size: int | None):
    """Walk ``hidden [N, d]`` in chunks of tokens through ``weight [V, d]``.

    Returns ``(lse, target_logit, grad_hidden, grad_weight)``: float32 ``[N]`` log-sum-exp and
    target logits (both computed unless ``lse`` is passed in), and the gradients of
    ``sum_i row_scale[i] * loss_i`` where ``loss_i = lse_i - logit_i[target_i]`` (None where
    not needed). ``grad_weight`` accumulates in the weight's dtype, chunk by chunk.
    """
    n, _ = hidden.shape
    vocab = weight.shape[0]
    has_lse = lse is not None
    compute_grad = need_grad_hidden or need_grad_weight
    chunk = chunk_size or default_chunk_size(n, vocab, hidden.device)
    f32 = dict(dtype=torch.float32, device=hidden.device)
    if lse is None:
        lse = torch.empty(n, **f32)
    target_logit = torch.zeros(n, **f32) if not has_lse else lse  # unused when has_lse
    if row_scale is None:
        row_scale = lse  # unused without gradients; the kernel wants a real pointer
    grad_hidden = torch.empty_like(hidden) if need_grad_hidden else None
    grad_weight = torch.zeros_like(weight) if need_grad_weight else None
    rows = _ce_rows(impl)
    weight_t = weight.t()
    for start in range(0, n, chunk):
        end = min(start + chunk, n)
        h = hidden[start:end]
        logits = torch.mm(h, weight_t)  # [c, V], the only vocabulary-sized buffer
        rows(logits, targets[start:end], row_scale[start:end], lse[start:end],
             target_logit[start:end], ignore_index, has_lse, compute_grad)
        if need_grad_hidden:
            torch.mm(logits, weight, out=grad_hidden[start:end])
        if need_grad_weight:
            grad_weight.addmm_(logits.t(), h)
        del logits
    return lse, target_logit, grad_hidden, grad_weight


def _token_losses(lse: torch.Tensor, target_logit: torch.Tensor,
                  valid: torch.Tensor) -> torch.Tensor:
    return torch.where(valid, lse - target_logit, torch.zeros_like(lse))


def _reduce(per_token: torch.Tensor, valid: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return per_token.sum()
    return per_token.sum() / valid.sum().clamp(min=1)


def _flatten(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor):
    if weight.dim() != 2 or hidden.shape[-1] != weight.shape[1]:
        raise ValueError(f"hidden [..., d] and weight [V, d] disagree: {tuple(hidden.shape)} "
                         f"and {tuple(weight.shape)}")
    if hidden.shape[:-1] != targets.shape:
        raise ValueError(f"targets {tuple(targets.shape)} must match hidden's leading "
                         f"dimensions {tuple(hidden.shape[:-1])} (no shifting is done here)")
    if hidden.dtype != weight.dtype:
        raise ValueError(f"hidden ({hidden.dtype}) and weight ({weight.dtype}) must share a dtype")
    if hidden.device != weight.device or targets.device != hidden.device:
        raise ValueError("hidden, weight and targets must be on one device")
    return hidden.reshape(-1, hidden.shape[-1]).contiguous(), targets.reshape(-1).long()


# --- autograd ---------------------------------------------------------------------------------


class FusedLinearCrossEntropyFunction(torch.autograd.Function):
    """Cross-entropy through a linear head, chunked over tokens (see the module docstring).

    ``apply(hidden, weight, targets, ignore_index, reduction, impl, chunk_size)`` with ``impl``
    already resolved to "torch" or "triton". Returns a float32 loss: a scalar, or per-token
    losses shaped like ``targets`` for ``reduction="none"``.
    """

    @staticmethod
    def forward(ctx, hidden, weight, targets, ignore_index, reduction, impl, chunk_size):
        h2, t = _flatten(hidden, weight, targets)
        need_gh, need_gw = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        valid = t != ignore_index
        ctx.hidden_shape = hidden.shape
        ctx.reduction, ctx.ignore_index, ctx.impl, ctx.chunk_size = (
            reduction, ignore_index, impl, chunk_size)
        ctx.recompute = reduction == "none" and need_gw
        if ctx.recompute:
            # The upstream gradient is per token and the head's gradient sums over tokens, so
            # it can only be formed in backward: keep the log-sum-exp, recompute the logits.
            lse, target_logit, _, _ = _chunked_pass(h2, weight, t, ignore_index, None, None,
                                                    False, False, impl, chunk_size)
            ctx.save_for_backward(h2, weight, t, lse)
            return _token_losses(lse, target_logit, valid).reshape(targets.shape)
        if reduction == "none":
            # Frozen head: loss_i depends on hidden_i alone, so each row of grad_hidden is that
            # token's own gradient; backward scales the rows by the upstream gradient.
            row_scale = valid.float()
        elif reduction == "mean":
            row_scale = valid.float() / valid.sum().clamp(min=1)
        else:
            row_scale = valid.float()
        lse, target_logit, grad_hidden, grad_weight = _chunked_pass(
            h2, weight, t, ignore_index, row_scale, None, need_gh, need_gw, impl, chunk_size)
        ctx.save_for_backward(grad_hidden, grad_weight)
        per_token = _token_losses(lse, target_logit, valid)
        if reduction == "none":
            return per_token.reshape(targets.shape)
        return _reduce(per_token, valid, reduction)

    @staticmethod
    def backward(ctx, grad_output):
        need_gh, need_gw = ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        if ctx.recompute:
            h2, weight, t, lse = ctx.saved_tensors
            valid = t != ctx.ignore_index
            row_scale = torch.where(valid, grad_output.reshape(-1).float(), 0.0)
            _, _, grad_hidden, grad_weight = _chunked_pass(
                h2, weight, t, ctx.ignore_index, row_scale, lse, need_gh, need_gw, ctx.impl,
                ctx.chunk_size)
        elif ctx.reduction == "none":
            (grad_hidden, _) = ctx.saved_tensors  # the head is frozen
            upstream = grad_output.reshape(-1, 1).float()
            grad_hidden = (grad_hidden.float() * upstream).to(grad_hidden.dtype)
            grad_weight = None
        else:
            grad_hidden, grad_weight = ctx.saved_tensors
            # Out of place, so that a second backward (retain_graph) sees the unscaled gradients.
            if grad_output.item() != 1.0:
                grad_hidden = None if grad_hidden is None else grad_hidden * grad_output
                grad_weight = None if grad_weight is None else grad_weight * grad_output
        if grad_hidden is not None:
            grad_hidden = grad_hidden.reshape(ctx.hidden_shape)
        return grad_hidden, grad_weight, None, None, None, None, None


# --- public functions -------------------------------------------------------------------------


def fused_linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                               ignore_index: int = -100, reduction: str = "mean",
                               impl: str = "auto", *,
                               chunk_size: int | None = None) -> torch.Tensor:
    """Cross-entropy of ``hidden [..., d]`` through an LM head ``weight [V, d]`` against
    ``targets [...]``, without materializing the logits.

    No shifting is done: ``targets[i]`` is the label of ``hidden[i]``. Positions whose target is
    ``ignore_index`` contribute nothing; with every target ignored, ``"mean"`` is 0. Returns a
    float32 scalar (``"mean"``, ``"sum"``) or per-token losses shaped like ``targets``
    (``"none"``). ``impl``: "auto" (Triton on CUDA tensors, torch otherwise), "torch" or
    "triton" (CPU tensors only under TRITON_INTERPRET=1). ``chunk_size``: tokens per chunk
    (default: sized to the device, see ``utils.default_chunk_size``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    impl = resolve_impl(impl, hidden.device)
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return FusedLinearCrossEntropyFunction.apply(hidden, weight, targets, ignore_index,
                                                     reduction, impl, chunk_size)
    # No graph to build: one pass for the values only.
    h2, t = _flatten(hidden, weight, targets)
    lse, target_logit, _, _ = _chunked_pass(h2, weight, t, ignore_index, None, None, False, False,
                                            impl, chunk_size)
    valid = t != ignore_index
    per_token = _token_losses(lse, target_logit, valid)
    if reduction == "none":
        return per_token.reshape(targets.shape)
    return _reduce(per_token, valid, reduction)


def selective_log_probs(hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor,
                        impl: str = "auto", *, ignore_index: int = -100,
                        chunk_size: int | None = None) -> torch.Tensor:
    """Log-probabilities of ``targets [...]`` under ``softmax(hidden @ weight.T)``, float32,
    shaped like ``targets``, differentiable in ``hidden`` and ``weight`` — for scoring proofs
    and policy-gradient losses, without materializing the logits.

    Positions whose target is ``ignore_index`` (padding) get 0 and no gradient.
    """
    return -fused_linear_cross_entropy(hidden, weight, targets, ignore_index, "none", impl,
                                       chunk_size=chunk_size)


class FusedLinearCrossEntropyLoss(torch.nn.Module):
    """``nn.Module`` face of ``fused_linear_cross_entropy``: holds the settings only.

    ``loss_fn(hidden, weight, targets)``; the head's weight stays with the model.
    """

    def __init__(self, ignore_index: int = -100, reduction: str = "mean", impl: str = "auto",
                 chunk_size: int | None = None):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.ignore_index, self.reduction, self.impl, self.chunk_size = (
            ignore_index, reduction, impl, chunk_size)

    def forward(self, hidden: torch.Tensor, weight: torch.Tensor,
                targets: torch.Tensor) -> torch.Tensor:
        return fused_linear_cross_entropy(hidden, weight, targets, self.ignore_index,
                                          self.reduction, self.impl, chunk_size=self.chunk_size)

    def extra_repr(self) -> str:
        return (f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
                f"impl={self.impl!r}, chunk_size={self.chunk_size}")
