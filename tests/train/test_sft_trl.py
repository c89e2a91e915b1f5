"""Supervised fine-tuning through TRL's SFTTrainer (``--trainer trl``) against the loop of
``loop.py`` on the same SFT export and tiny model, on CPU in float32: the same loss curve and
weights; a stopped and resumed run continues exactly; changed data refuse a resume."""

from __future__ import annotations

import json

import pytest

from prover.core.errors import UsageError
from prover.core.train_records import StepMetrics, TrainConfig

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.hf, pytest.mark.slow, pytest.mark.timeout(600)]


def config(data, model, out, **overrides) -> TrainConfig:
    settings = dict(data=str(data), model=str(model), out=str(out), lr=3e-3, epochs=2, batch_tokens=400,
                    grad_accum=2, device="cpu", warmup_steps=2, eval_split="test", save_every=3)
    settings.update(overrides)
    return TrainConfig(**settings)


def curve(out) -> list[StepMetrics]:
    return [StepMetrics.model_validate_json(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def weights(out):
    from safetensors.torch import load_file

    return load_file(out / "model.safetensors")


def same_run(a, b) -> None:
    ca, cb = curve(a), curve(b)
    assert [(m.kind, m.step, m.epoch, m.tokens) for m in ca] == [(m.kind, m.step, m.epoch, m.tokens) for m in cb]
    assert [m.lr for m in cb] == [None if m.lr is None else pytest.approx(m.lr, rel=1e-9) for m in ca]
    assert [m.loss for m in cb] == pytest.approx([m.loss for m in ca], rel=1e-5, abs=1e-6)
    wa, wb = weights(a), weights(b)
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-5, atol=1e-6, msg=name)


def test_sft_trainer_draws_the_loops_curve_and_resumes_exactly(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.sft_trl import train_verifier_trl
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    loop = train_verifier(config(export, tiny_model_dir, tmp_path / "loop"), progress=False)
    trl = train_verifier_trl(config(export, tiny_model_dir, tmp_path / "trl"), progress=False)
    assert trl.status == "completed" and trl.steps == loop.steps == loop.total_steps >= 4
    assert trl.train.target_tokens == loop.train.target_tokens
    assert trl.last_loss < trl.first_loss
    evals = [m for m in curve(tmp_path / "trl") if m.kind == "eval"]
    assert evals and trl.eval_loss == evals[-1].loss == pytest.approx(loop.eval_loss, rel=1e-5)
    # checkpoints where the loop writes them (each epoch's end, every --save-every), the newest kept
    assert sorted(int(p.name[11:]) for p in (tmp_path / "trl" / "checkpoints").glob("checkpoint-*")) == \
        sorted(int(p.name[5:]) for p in (tmp_path / "loop" / "checkpoints").glob("step-*"))
    same_run(tmp_path / "loop", tmp_path / "trl")

    parts = tmp_path / "parts"
    first = train_verifier_trl(config(export, tiny_model_dir, parts), stop_after=3, progress=False)
    assert first.status == "stopped" and first.steps == 3 and first.output == "none"
    with pytest.raises(UsageError, match="--resume"):
        train_verifier_trl(config(export, tiny_model_dir, parts), progress=False)
    second = train_verifier_trl(config(export, tiny_model_dir, parts), resume=True, progress=False)
    assert second.resumed_from == 3 and second.steps == loop.steps
    same_run(tmp_path / "trl", parts)

    changed = tmp_path / "changed.jsonl"
    records = [json.loads(x) for x in (export / "sft" / "train.jsonl").read_text().splitlines()]
    changed.write_text("".join(json.dumps(r) + "\n" for r in records[1:]))
    moved = tmp_path / "moved"
    train_verifier_trl(config(changed, tiny_model_dir, moved), stop_after=1, progress=False)
    changed.write_text("".join(json.dumps(r) + "\n" for r in records[2:]))
    with pytest.raises(UsageError, match="data differ"):
        train_verifier_trl(config(changed, tiny_model_dir, moved), resume=True, progress=False)


def test_sft_trainer_lora_merge_on_the_command_line(labelled_db, tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from prover.cli.main import cli

    _, export, _ = labelled_db
    out = tmp_path / "lora"
    result = CliRunner().invoke(cli, ["train", "verifier", "--trainer", "trl", "--data", str(export), "--model",
                                      str(tiny_model_dir), "--out", str(out), "--lora", "--lora-r", "4", "--merge",
                                      "--lr", "2e-2", "--batch-tokens", "700", "--device", "cpu", "--no-progress",
                                      "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["lora"] and summary["merged"] and summary["output"] == "model"
    assert 0 < summary["trainable_parameters"] < summary["parameters"] / 5
    assert summary["last_loss"] < summary["first_loss"]
    assert (out / "adapter" / "adapter_config.json").is_file()
    merged, base = weights(out), weights(tiny_model_dir)
    assert set(merged) == set(base)
    assert any(not torch.equal(merged[n], base[n]) for n in base)


def test_two_processes_make_the_steps_of_one_with_twice_the_accumulation(labelled_db, tiny_model_dir, tmp_path):
    """Data parallel on CPU (torchrun, gloo — what accelerate launch starts on GPUs): two processes
    with --grad-accum 1 draw the loop's curve with --grad-accum 2, and end with its weights (the fused
    loss, through the wrapped model's forward)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prover.train.data import build_examples, load_sft, pack_batches
    from prover.train.loop import load_tokenizer
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    records, _ = load_sft(export, "train")
    examples, _ = build_examples(records, load_tokenizer(str(tiny_model_dir)), None)
    # An odd count gives each process an uneven share at an epoch's end (padded): not the loop's steps.
    assert len(pack_batches(examples, 500, 0)) % 2 == 0
    train_verifier(config(export, tiny_model_dir, tmp_path / "loop", batch_tokens=500), progress=False)
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "prover.cli.main", "train",
           "verifier", "--trainer", "trl", "--data", str(export), "--model", str(tiny_model_dir), "--out",
           str(tmp_path / "ddp"), "--lr", "3e-3", "--epochs", "2", "--batch-tokens", "500", "--grad-accum", "1",
           "--warmup-steps", "2", "--eval-split", "test", "--save-every", "3", "--device", "cpu", "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("model written to") == 1
    same_run(tmp_path / "loop", tmp_path / "ddp")
