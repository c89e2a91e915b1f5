"""Verifier training on a real SFT export with the hf tests' tiny random model, on CPU in
float32: the loss falls; a stopped and resumed run draws the same curve and ends with the same
weights; the fused loss reaches the weights of the plain loss; LoRA adapters train and merge;
settings are checked before anything is written."""

from __future__ import annotations

import json

import pytest

from prover.core.errors import NotFoundError, UsageError
from prover.core.train_records import StepMetrics, TrainConfig

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
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
    kept = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert len(kept) == 2 and kept[-1] == f"step-{summary.steps:08d}" and summary.checkpoint.endswith(kept[-1])
    assert json.loads((out / "summary.json").read_text())["steps"] == summary.steps

    with pytest.raises(UsageError, match="--resume"):
        train_verifier(config(export, tiny_model_dir, out, epochs=3, save_every=2), progress=False)


def test_a_resumed_run_continues_the_same_curve(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    settings = dict(epochs=2, grad_accum=2, batch_tokens=400, lora_dropout=0.0)
    whole = tmp_path / "whole"
    full = train_verifier(config(export, tiny_model_dir, whole, **settings), progress=False)
    assert full.total_steps >= 4

    parts = tmp_path / "parts"
    first = train_verifier(config(export, tiny_model_dir, parts, **settings), stop_after=3, progress=False)
    assert first.status == "stopped" and first.steps == 3 and first.output == "none"
    assert not (parts / "model.safetensors").exists()
    with pytest.raises(UsageError, match="settings differ.*lr"):
        train_verifier(config(export, tiny_model_dir, parts, **{**settings, "lr": 1e-3}), resume=True, progress=False)
    second = train_verifier(config(export, tiny_model_dir, parts, **settings), resume=True, progress=False)
    assert second.resumed_from == 3 and second.steps == full.steps

    # Ctrl-C in the middle: the last finished step is checkpointed
    broken = tmp_path / "interrupted"

    def interrupt(m):
        if m.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_verifier(config(export, tiny_model_dir, broken, **settings), progress=False, on_step=interrupt)
    assert (broken / "checkpoints" / "step-00000002").is_dir()
    assert train_verifier(config(export, tiny_model_dir, broken, **settings), resume=True,
                          progress=False).resumed_from == 2

    a = curve(whole)
    wa = trained_weights(whole)
    for run in (parts, broken):
        b = curve(run)
        assert [(m.kind, m.step, m.tokens, m.lr) for m in a] == [(m.kind, m.step, m.tokens, m.lr) for m in b]
        assert [m.loss for m in b] == pytest.approx([m.loss for m in a], rel=1e-5, abs=1e-6)
        wb = trained_weights(run)
        for name in wa:
            torch.testing.assert_close(wb[name], wa[name], rtol=1e-5, atol=1e-6, msg=name)


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


def test_lora_trains_adapters_and_merges_them(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    out = tmp_path / "lora"
    summary = train_verifier(config(export, tiny_model_dir, out, lora=True, lora_r=4, merge=True, lr=2e-2, epochs=2),
                             progress=False)
    assert summary.lora and summary.merged and summary.output == "model"
    assert 0 < summary.trainable_parameters < summary.parameters / 5
    assert summary.last_loss < summary.first_loss
    assert (out / "adapter" / "adapter_config.json").is_file()
    merged, base = trained_weights(out), trained_weights(tiny_model_dir)
    assert set(merged) == set(base)  # plain weights, no adapter names left
    changed = [n for n in base if not torch.equal(merged[n], base[n])]
    assert changed and all("proj" in n for n in changed)  # LoRA adapted the linear layers only


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
