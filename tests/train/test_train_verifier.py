"""Verifier training (SFTTrainer) on a real SFT export with the hf tests' tiny random model, on CPU
in float32: the loss falls; the fused loss reaches the weights of the plain loss; settings are
checked before anything is written. (Resume, the old loop's curve, LoRA and several processes:
test_sft_trl.py.)"""

from __future__ import annotations

import json

import pytest

from prover.core.errors import NotFoundError, UsageError
from prover.core.train_records import StepMetrics, TrainConfig

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
pytest.importorskip("trl", reason="SFT runs on TRL's SFTTrainer (pip install -e '.[rl]')")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.hf, pytest.mark.timeout(300)]


def config(data, model, out, **overrides) -> TrainConfig:
    settings = dict(data=str(data), model=str(model), out=str(out), lr=3e-3, epochs=2, batch_tokens=700,
                    device="cpu", warmup_steps=2)
    settings.update(overrides)
    return TrainConfig(**settings)


def curve(out) -> list[StepMetrics]:
    return [StepMetrics.model_validate_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def trained_weights(out) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(out / "model.safetensors")


def test_loss_falls_and_the_output_is_a_model(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    out = tmp_path / "out"
    summary = train_verifier(config(export, tiny_model_dir, out, epochs=3, save_every=2), progress=False)
    steps = [m for m in curve(out) if m.kind == "train"]
    assert summary.status == "completed" and summary.steps == summary.total_steps == len(steps)
    assert [m.step for m in steps] == list(range(1, len(steps) + 1))
    assert summary.train.examples == summary.train.records > 0 and summary.train.target_tokens > 0
    # every epoch sees every target token once
    assert sum(m.tokens for m in steps) == 3 * summary.train.target_tokens
    assert steps[-1].loss < 0.6 * steps[0].loss
    assert summary.first_loss == steps[0].loss and summary.last_loss == steps[-1].loss
    assert steps[0].lr < steps[1].lr and steps[-1].lr < steps[2].lr  # warm-up, then cosine decay
    assert {"config.json", "model.safetensors", "tokenizer.json", "summary.json", "train_config.json"} <= \
        {p.name for p in out.iterdir()}
    kept = sorted((p.name for p in (out / "checkpoints").glob("checkpoint-*")), key=lambda n: int(n.split("-")[1]))
    assert len(kept) == 2 and kept[-1] == f"checkpoint-{summary.steps}" and summary.checkpoint.endswith(kept[-1])
    assert json.loads((out / "summary.json").read_text())["steps"] == summary.steps

    with pytest.raises(UsageError, match="--resume"):
        train_verifier(config(export, tiny_model_dir, out, epochs=3, save_every=2), progress=False)


def test_fused_loss_reaches_the_weights_of_the_plain_loss(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    runs = {}
    for loss in ("plain", "fused"):
        out = tmp_path / loss
        train_verifier(config(export, tiny_model_dir, out, loss=loss, epochs=1, grad_accum=2, batch_tokens=500,
                              lr=1e-3), progress=False)
        runs[loss] = (curve(out), trained_weights(out))
    (plain_curve, plain_w), (fused_curve, fused_w) = runs["plain"], runs["fused"]
    assert [m.loss for m in fused_curve] == pytest.approx([m.loss for m in plain_curve], rel=1e-4)
    before = trained_weights(tiny_model_dir)
    moved = 0.0
    for name in plain_w:
        torch.testing.assert_close(fused_w[name], plain_w[name], rtol=1e-4, atol=2e-5, msg=name)
        moved = max(moved, float((plain_w[name] - before[name]).abs().max()))
    assert moved > 1e-4  # the runs trained: equality is not the untouched initial weights


def test_bad_settings_fail_before_training(labelled_db, tiny_model_dir, tmp_path):
    from pydantic import ValidationError

    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    with pytest.raises(NotFoundError, match="no 'dev' split.*test, train"):
        train_verifier(config(export, tiny_model_dir, tmp_path / "a", split="dev"), progress=False)
    with pytest.raises(NotFoundError, match="no training data"):
        train_verifier(config(tmp_path / "absent", tiny_model_dir, tmp_path / "b"), progress=False)
    with pytest.raises(ValidationError, match="merge needs lora"):
        config(export, tiny_model_dir, tmp_path / "c", merge=True)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        train_verifier(config(export, tiny_model_dir, tmp_path / "d"), progress=False)
