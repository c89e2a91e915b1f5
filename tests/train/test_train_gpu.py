"""Verifier training (SFTTrainer) on a CUDA device (skipped without one): the fused loss through
the Triton kernel reaches the weights of the plain loss in float32; the default mixed precision
(float32 weights under bf16 autocast) and bf16 LoRA train; --loss liger (with liger-kernel) draws
the plain curve. Tiny model, a few steps."""

from __future__ import annotations

import pytest

from prover.core.train_records import TrainConfig

torch = pytest.importorskip("torch")
pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")

pytestmark = [pytest.mark.gpu, pytest.mark.hf, pytest.mark.timeout(600),
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def run(export, model, out, **overrides):
    from prover.train import train_verifier

    settings = dict(data=str(export), model=str(model), out=str(out), lr=1e-3, epochs=1, grad_accum=2,
                    batch_tokens=500, device="cuda", warmup_steps=2)
    settings.update(overrides)
    return train_verifier(TrainConfig(**settings), progress=False)


def test_fused_triton_loss_matches_plain_on_cuda(labelled_db, tiny_model_dir, tmp_path):
    pytest.importorskip("triton", reason="the CUDA fused loss runs the Triton kernel")
    from safetensors.torch import load_file

    _, export, _ = labelled_db
    for loss in ("plain", "fused"):
        run(export, tiny_model_dir, tmp_path / loss, loss=loss, dtype="float32", kernel_impl="auto")
    plain = load_file(tmp_path / "plain" / "model.safetensors")
    fused = load_file(tmp_path / "fused" / "model.safetensors")
    for name in plain:
        # TF32 matmuls may be on: looser than the CPU test.
        torch.testing.assert_close(fused[name], plain[name], rtol=1e-3, atol=2e-4, msg=name)


def test_mixed_precision_and_bf16_lora_train_on_cuda(labelled_db, tiny_model_dir, tmp_path):
    _, export, _ = labelled_db
    full = run(export, tiny_model_dir, tmp_path / "amp", lr=3e-3, epochs=3)
    assert full.dtype == "float32+bf16-autocast" and full.last_loss < full.first_loss
    lora = run(export, tiny_model_dir, tmp_path / "lora", lora=True, merge=True, lr=2e-2, epochs=3)
    assert lora.dtype == "bfloat16" and lora.merged and lora.last_loss < lora.first_loss


def test_liger_loss_draws_the_plain_curve_on_cuda(labelled_db, tiny_model_dir, tmp_path):
    """--loss liger: TRL's use_liger_kernel patches Liger's fused loss into the model."""
    pytest.importorskip("liger_kernel", reason="--loss liger needs liger-kernel (pip install liger-kernel)")
    import json

    _, export, _ = labelled_db
    curves = {}
    for loss in ("plain", "liger"):
        summary = run(export, tiny_model_dir, tmp_path / loss, loss=loss, dtype="float32")
        assert summary.loss == loss and summary.last_loss < summary.first_loss
        curves[loss] = [json.loads(x)["loss"] for x in (tmp_path / loss / "metrics.jsonl").read_text().splitlines()]
    assert curves["liger"] == pytest.approx(curves["plain"], rel=1e-3)
