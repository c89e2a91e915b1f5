"""The fused linear cross-entropy and selective log-probabilities, impl="torch" on CPU, against
the plain PyTorch reference; plus the API's contracts (needs_input_grad, no_grad, errors)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the kernels need torch: pip install 'prover[kernels]'")

from lce_checks import (  # noqa: E402
    CASE_IDS,
    CASES,
    check_all_ignored,
    check_cross_entropy,
    check_log_probs,
    make_inputs,
)

from prover.core.errors import PrerequisiteError  # noqa: E402
from prover.kernels import (  # noqa: E402
    FusedLinearCrossEntropyLoss,
    fused_linear_cross_entropy,
    reference_linear_cross_entropy,
    reference_selective_log_probs,
    selective_log_probs,
)
from prover.kernels.utils import default_chunk_size, resolve_impl  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), CASES, ids=CASE_IDS)
def test_cross_entropy_matches_reference(lead, d, vocab, chunk, ignore_frac, reduction):
    check_cross_entropy("torch", lead, d, vocab, chunk, ignore_frac, reduction)


@pytest.mark.parametrize(("lead", "d", "vocab", "chunk", "ignore_frac"), CASES, ids=CASE_IDS)
def test_log_probs_match_reference(lead, d, vocab, chunk, ignore_frac):
    check_log_probs("torch", lead, d, vocab, chunk, ignore_frac)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bfloat16_within_tolerance(reduction):
    check_cross_entropy("torch", (3, 50), 64, 999, 16, 0.1, reduction, dtype=torch.bfloat16)


def test_all_targets_ignored_gives_zero():
    check_all_ignored("torch")


def test_log_probs_are_negated_per_token_losses():
    hidden, weight, targets = make_inputs((4, 6), 8, 50, 0.25)
    lp = selective_log_probs(hidden, weight, targets, impl="torch", chunk_size=5)
    ce = fused_linear_cross_entropy(hidden, weight, targets, reduction="none", impl="torch")
    assert lp.shape == targets.shape
    torch.testing.assert_close(lp, -ce)
    assert (lp[targets == -100] == 0).all()
    assert (lp[targets != -100] < 0).all()


def _saved_shapes(fn):
    """Shapes of the tensors the autograd graph saves while ``fn`` runs."""
    shapes = []

    def pack(t):
        shapes.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, shapes


def test_frozen_head_gets_no_weight_gradient_buffer():
    hidden, weight, targets = make_inputs((30,), 16, 200, 0.1)
    weight.requires_grad_(False)
    loss, shapes = _saved_shapes(
        lambda: fused_linear_cross_entropy(hidden, weight, targets, impl="torch", chunk_size=7))
    assert tuple(weight.shape) not in shapes
    assert tuple(hidden.shape) in shapes  # the hidden-state gradient is kept
    loss.backward()
    assert weight.grad is None
    h32 = hidden.detach().requires_grad_()
    reference_linear_cross_entropy(h32, weight, targets).backward()
    torch.testing.assert_close(hidden.grad, h32.grad)


def test_frozen_hidden_gets_weight_gradient_only():
    hidden, weight, targets = make_inputs((30,), 16, 200, 0.1)
    hidden.requires_grad_(False)
    loss, shapes = _saved_shapes(
        lambda: fused_linear_cross_entropy(hidden, weight, targets, impl="torch", chunk_size=7))
    assert tuple(hidden.shape) not in shapes
    loss.backward()
    assert hidden.grad is None
    w32 = weight.detach().requires_grad_()
    reference_linear_cross_entropy(hidden, w32, targets).backward()
    torch.testing.assert_close(weight.grad, w32.grad)


@pytest.mark.parametrize("op", ["none", "log_probs"])
def test_frozen_head_per_token_outputs(op):
    """Per-token outputs with a frozen head keep each token's own gradient from the forward
    pass (no logits recomputation) and scale it by the upstream gradient."""
    hidden, weight, targets = make_inputs((3, 9), 16, 60, 0.2)
    weight.requires_grad_(False)
    if op == "none":
        fused = lambda h: fused_linear_cross_entropy(  # noqa: E731
            h, weight, targets, reduction="none", impl="torch", chunk_size=4)
        plain = lambda h: reference_linear_cross_entropy(  # noqa: E731
            h, weight, targets, reduction="none")
    else:
        fused = lambda h: selective_log_probs(h, weight, targets, impl="torch",  # noqa: E731
                                              chunk_size=4)
        plain = lambda h: reference_selective_log_probs(h, weight, targets)  # noqa: E731
    out, shapes = _saved_shapes(lambda: fused(hidden))
    assert tuple(weight.shape) not in shapes  # neither a gradient buffer nor the recompute
    upstream = torch.randn(out.shape, generator=torch.Generator().manual_seed(5))
    (out * upstream).sum().backward()
    assert weight.grad is None
    h32 = hidden.detach().requires_grad_()
    ref = plain(h32)
    (ref * upstream).sum().backward()
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(hidden.grad, h32.grad)


def test_no_grad_computes_values_without_graph():
    hidden, weight, targets = make_inputs((2, 11), 8, 77, 0.2)
    with torch.no_grad():
        loss = fused_linear_cross_entropy(hidden, weight, targets, impl="torch", chunk_size=4)
        lp = selective_log_probs(hidden, weight, targets, impl="torch", chunk_size=4)
        ref_loss = reference_linear_cross_entropy(hidden, weight, targets)
        ref_lp = reference_selective_log_probs(hidden, weight, targets)
    assert loss.grad_fn is None and lp.grad_fn is None
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(lp, ref_lp)


def test_scaled_loss_and_second_backward():
    """An upstream gradient other than 1 scales both gradients; a retained graph's second
    backward sees the same (unscaled) saved gradients."""
    hidden, weight, targets = make_inputs((25,), 8, 40, 0.2)
    loss = fused_linear_cross_entropy(hidden, weight, targets, impl="torch", chunk_size=6)
    (3.0 * loss).backward(retain_graph=True)
    (3.0 * loss).backward()
    h32, w32 = hidden.detach().requires_grad_(), weight.detach().requires_grad_()
    (6.0 * reference_linear_cross_entropy(h32, w32, targets)).backward()
    torch.testing.assert_close(hidden.grad, h32.grad)
    torch.testing.assert_close(weight.grad, w32.grad)


def test_int32_targets_and_noncontiguous_hidden():
    hidden, weight, targets = make_inputs((6, 4), 8, 30, 0.2)
    h_t = hidden.detach().transpose(0, 1).requires_grad_()  # [4, 6, 8], not contiguous
    t_t = targets.transpose(0, 1)
    loss = fused_linear_cross_entropy(h_t, weight, t_t.int(), reduction="sum", impl="torch",
                                      chunk_size=5)
    loss.backward()
    h32 = h_t.detach().requires_grad_()
    ref = reference_linear_cross_entropy(h32, weight.detach(), t_t, reduction="sum")
    ref.backward()
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(h_t.grad, h32.grad)


def test_module_wrapper_calls_the_function():
    hidden, weight, targets = make_inputs((2, 9), 8, 33, 0.2)
    loss_fn = FusedLinearCrossEntropyLoss(reduction="sum", impl="torch", chunk_size=4)
    assert list(loss_fn.parameters()) == []
    assert "reduction='sum'" in repr(loss_fn)
    torch.testing.assert_close(loss_fn(hidden, weight, targets),
                               reference_linear_cross_entropy(hidden, weight, targets,
                                                              reduction="sum"))


def test_bad_arguments_are_refused():
    hidden, weight, targets = make_inputs((4,), 8, 10, 0.0)
    with pytest.raises(ValueError, match="reduction"):
        fused_linear_cross_entropy(hidden, weight, targets, reduction="avg")
    with pytest.raises(ValueError, match="impl"):
        fused_linear_cross_entropy(hidden, weight, targets, impl="cuda")
    with pytest.raises(ValueError, match="targets"):
        fused_linear_cross_entropy(hidden, weight, targets[:3])
    with pytest.raises(ValueError, match="weight"):
        fused_linear_cross_entropy(hidden, weight[:, :4], targets)
    with pytest.raises(ValueError, match="dtype"):
        fused_linear_cross_entropy(hidden, weight.double(), targets)
    with pytest.raises(ValueError, match="chunk_size"):
        fused_linear_cross_entropy(hidden, weight, targets, chunk_size=0)
    with pytest.raises(ValueError, match="reduction"):
        FusedLinearCrossEntropyLoss(reduction="avg")


@pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") == "1", reason="interpreter is on")
def test_triton_on_cpu_without_interpreter_says_what_is_missing():
    pytest.importorskip("triton", reason="triton not installed")
    hidden, weight, targets = make_inputs((4,), 8, 10, 0.0)
    with pytest.raises(PrerequisiteError, match="TRITON_INTERPRET=1"):
        fused_linear_cross_entropy(hidden, weight, targets, impl="triton")


def test_auto_picks_torch_on_cpu_and_chunks_fit_the_budget():
    assert resolve_impl("auto", torch.device("cpu")) == "torch"
    assert default_chunk_size(4096, 32768, torch.device("cpu")) == 256
    assert default_chunk_size(10, 32768, torch.device("cpu")) == 10
    assert default_chunk_size(8192, 131072, torch.device("cuda")) == 1024
    assert default_chunk_size(100, 2**30, torch.device("cpu")) == 1


def test_import_needs_neither_torch_nor_triton():
    code = ("import sys, prover.kernels as k; assert 'torch' not in sys.modules; "
            "assert 'triton' not in sys.modules; import torch; "
            "h = torch.randn(3, 4, requires_grad=True); w = torch.randn(5, 4); "
            "k.fused_linear_cross_entropy(h, w, torch.tensor([0, 1, 2])).backward(); "
            "assert 'triton' not in sys.modules, 'impl=torch imported triton'; print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_bench_script_runs_on_a_tiny_shape():
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench_kernels.py"), "--T", "64", "--d", "16",
         "--V", "100", "--warmup", "1", "--repeats", "2", "--rounds", "1"],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for expected in ("plain [plain]", "fused [torch]", "extra peak memory", "memory fused/plain",
                     "time fused/plain"):
        assert expected in proc.stdout, proc.stdout
