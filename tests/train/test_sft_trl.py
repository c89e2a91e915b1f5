"""Supervised fine-tuning through TRL's SFTTrainer (``prover.train.trainer``) on the SFT export and
the tiny model, on CPU in float32: it draws the loss curve of the training loop it replaced; a
stopped (or interrupted) and resumed run continues exactly; changed data or settings refuse a
resume; LoRA with --merge; two data-parallel processes."""

from __future__ import annotations

import json

import pytest

from prover.core.errors import UsageError
from prover.core.train_records import StepMetrics, TrainConfig

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.hf, pytest.mark.timeout(600)]

# The curves of the training loop of our own that SFTTrainer replaced (``prover/train/loop.py``,
# deleted in the same change), recorded by running it on this file's settings — the conftest's
# export, the tiny model (seed 0), CPU, float32 — just before it was deleted: (kind, step, epoch,
# units, lr, loss) per metrics.jsonl line, and the sum of the absolute trained weights.
LOOP_CURVE_400 = [
    ('train', 1, 0, 340, 0.0015, 16.682113647460938),
    ('train', 2, 0, 380, 0.003, 11.692982196807861),
    ('train', 3, 0, 340, 0.003, 12.92261552810669),
    ('eval', 3, 0, 540, None, 15.650023509837963),
    ('train', 4, 0, 370, 0.00288581929876693, 15.5117506980896),
    ('train', 5, 0, 190, 0.002560660171779821, 13.180679321289062),
    ('eval', 5, 0, 540, None, 9.763002974898727),
    ('train', 6, 1, 380, 0.002074025148547635, 10.016994953155518),
    ('eval', 6, 1, 540, None, 8.227283619068286),
    ('train', 7, 1, 360, 0.0015, 8.208235263824463),
    ('train', 8, 1, 350, 0.0009259748514523654, 6.9473230838775635),
    ('train', 9, 1, 360, 0.0004393398282201788, 6.1874096393585205),
    ('eval', 9, 1, 540, None, 5.257898175274884),
    ('train', 10, 1, 170, 0.0001141807012330699, 4.766297340393066),
    ('eval', 10, 1, 540, None, 5.119681803385417),
]
LOOP_WEIGHTS_400 = 27503.8020294445
# The same with --batch-tokens 500 (one process, --grad-accum 2).
LOOP_CURVE_500 = [
    ('train', 1, 0, 540, 0.0015, 16.672996997833252),
    ('train', 2, 0, 540, 0.003, 11.975147247314453),
    ('train', 3, 0, 540, 0.003, 13.033524513244629),
    ('eval', 3, 0, 540, None, 15.7583251953125),
    ('train', 4, 1, 540, 0.002560660171779821, 15.65368366241455),
    ('train', 5, 1, 540, 0.0015, 11.67125940322876),
    ('train', 6, 1, 540, 0.0004393398282201788, 10.279212474822998),
    ('eval', 6, 1, 540, None, 9.50934470847801),
]
LOOP_WEIGHTS_500 = 27341.433325310507


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


def weight_sum(out) -> float:
    return float(sum(t.double().abs().sum() for t in weights(out).values()))


def draws(out, recorded, recorded_weights) -> None:
    """The run in ``out`` draws the recorded curve (losses within float32 reordering) and ends with
    weights of the same size."""
    got = curve(out)
    assert [(m.kind, m.step, m.epoch, m.tokens) for m in got] == [r[:4] for r in recorded]
    assert [m.lr for m in got] == [None if r[4] is None else pytest.approx(r[4], rel=1e-9) for r in recorded]
    assert [m.loss for m in got] == pytest.approx([r[5] for r in recorded], rel=1e-5, abs=1e-6)
    assert weight_sum(out) == pytest.approx(recorded_weights, rel=1e-6)


def same_run(a, b) -> None:
    """Run ``b`` (stopped or interrupted, then resumed) draws run ``a``'s steps and ends with its
    weights; a stop adds a checkpoint, so ``b`` may hold evaluation losses ``a`` has not."""
    ca, cb = curve(a), curve(b)
    steps_a, steps_b = [m for m in ca if m.kind == "train"], [m for m in cb if m.kind == "train"]
    assert [(m.step, m.epoch, m.tokens, m.lr) for m in steps_b] == [(m.step, m.epoch, m.tokens, m.lr) for m in steps_a]
    assert [m.loss for m in steps_b] == pytest.approx([m.loss for m in steps_a], rel=1e-6, abs=1e-7)
    evals_b = {m.step: m.loss for m in cb if m.kind == "eval"}
    assert {m.step: evals_b.get(m.step) for m in ca if m.kind == "eval"} == \
        pytest.approx({m.step: m.loss for m in ca if m.kind == "eval"}, rel=1e-6)
    wa, wb = weights(a), weights(b)
    for name in wa:
        torch.testing.assert_close(wb[name], wa[name], rtol=1e-6, atol=1e-7, msg=name)


def test_sft_trainer_draws_the_old_loops_curve_and_resumes_exactly(labelled_db, tiny_model_dir, tmp_path):
    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    whole = tmp_path / "whole"
    full = train_verifier(config(export, tiny_model_dir, whole), progress=False)
    assert full.status == "completed" and full.steps == full.total_steps == 10
    assert full.eval_loss == curve(whole)[-1].loss
    draws(whole, LOOP_CURVE_400, LOOP_WEIGHTS_400)
    # the trainer's checkpoints: each epoch's end (5, 10) and every --save-every (3, 6, 9), two kept
    assert sorted(p.name for p in (whole / "checkpoints").glob("checkpoint-*")) == ["checkpoint-10", "checkpoint-9"]

    parts = tmp_path / "parts"
    first = train_verifier(config(export, tiny_model_dir, parts), stop_after=4, progress=False)
    assert first.status == "stopped" and first.steps == 4 and first.output == "none"
    assert not (parts / "model.safetensors").exists()
    with pytest.raises(UsageError, match="--resume"):
        train_verifier(config(export, tiny_model_dir, parts), progress=False)
    with pytest.raises(UsageError, match="settings differ.*lr"):
        train_verifier(config(export, tiny_model_dir, parts, lr=1e-3), resume=True, progress=False)
    second = train_verifier(config(export, tiny_model_dir, parts), resume=True, progress=False)
    assert second.resumed_from == 4 and second.steps == full.steps
    same_run(whole, parts)

    # Ctrl-C after a step: that step is checkpointed, and the resumed run is the uninterrupted one.
    broken = tmp_path / "interrupted"

    def interrupt(m):
        if m.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_verifier(config(export, tiny_model_dir, broken), progress=False, on_step=interrupt)
    assert (broken / "checkpoints" / "checkpoint-2").is_dir()
    assert train_verifier(config(export, tiny_model_dir, broken), resume=True, progress=False).resumed_from == 2
    same_run(whole, broken)


def test_a_resume_on_changed_data_is_refused(labelled_db, tiny_model_dir, tmp_path):
    _, export, _ = labelled_db
    from prover.train.verifier import train_verifier

    changed = tmp_path / "changed.jsonl"
    records = [json.loads(x) for x in (export / "sft" / "train.jsonl").read_text().splitlines()]
    changed.write_text("".join(json.dumps(r) + "\n" for r in records[1:]))
    out = tmp_path / "out"
    train_verifier(config(changed, tiny_model_dir, out, epochs=1), stop_after=1, progress=False)
    changed.write_text("".join(json.dumps(r) + "\n" for r in records[2:]))
    with pytest.raises(UsageError, match="data differ"):
        train_verifier(config(changed, tiny_model_dir, out, epochs=1), resume=True, progress=False)
    changed.write_text("".join(json.dumps(r) + "\n" for r in records[1:]))  # the same data again: resumes
    assert train_verifier(config(changed, tiny_model_dir, out, epochs=1), resume=True,
                          progress=False).resumed_from == 1


def test_liger_without_its_kernels_is_refused_before_training(labelled_db, tiny_model_dir, tmp_path):
    import importlib.util

    from prover.core.errors import PrerequisiteError
    from prover.train.verifier import train_verifier

    if importlib.util.find_spec("liger_kernel") is not None:
        pytest.skip("liger-kernel is installed here")
    _, export, _ = labelled_db
    with pytest.raises(PrerequisiteError, match="pip install liger-kernel"):
        train_verifier(config(export, tiny_model_dir, tmp_path / "liger", loss="liger"), progress=False)
    assert not (tmp_path / "liger").exists()


def test_lora_merge_on_the_command_line(labelled_db, tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from prover.cli.main import cli

    _, export, _ = labelled_db
    out = tmp_path / "lora"
    result = CliRunner().invoke(cli, ["train", "verifier", "--data", str(export), "--model", str(tiny_model_dir),
                                      "--out", str(out), "--lora", "--lora-r", "4", "--merge", "--lr", "2e-2",
                                      "--batch-tokens", "700", "--device", "cpu", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["lora"] and summary["merged"] and summary["output"] == "model"
    assert 0 < summary["trainable_parameters"] < summary["parameters"] / 5
    assert summary["last_loss"] < summary["first_loss"]
    assert (out / "adapter" / "adapter_config.json").is_file()
    merged, base = weights(out), weights(tiny_model_dir)
    assert set(merged) == set(base)  # plain weights, no adapter names left
    changed = [n for n in base if not torch.equal(merged[n], base[n])]
    assert changed and all("proj" in n for n in changed)  # LoRA adapted the linear layers only


@pytest.mark.slow
def test_two_processes_make_the_steps_of_one_with_twice_the_accumulation(labelled_db, tiny_model_dir, tmp_path):
    """Data parallel on CPU (torchrun -m prover.cli, gloo — what ``accelerate launch -m prover.cli``
    starts on GPUs): two processes with --grad-accum 1 draw the curve one process draws with
    --grad-accum 2 (the old loop's, recorded), and end with its weights (the fused loss, through the
    wrapped model's forward)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prover.train.data import build_examples, load_sft, pack_batches
    from prover.train.model_setup import load_tokenizer

    _, export, _ = labelled_db
    records, _ = load_sft(export, "train")
    examples, _ = build_examples(records, load_tokenizer(str(tiny_model_dir)), None)
    # An odd count gives each process an uneven share at an epoch's end (padded): not one process's steps.
    assert len(pack_batches(examples, 500, 0)) % 2 == 0
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "prover.cli", "train",
           "verifier", "--data", str(export), "--model", str(tiny_model_dir), "--out",
           str(tmp_path / "ddp"), "--lr", "3e-3", "--epochs", "2", "--batch-tokens", "500", "--grad-accum", "1",
           "--warmup-steps", "2", "--eval-split", "test", "--save-every", "3", "--device", "cpu", "--no-progress"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("model written to") == 1
    draws(tmp_path / "ddp", LOOP_CURVE_500, LOOP_WEIGHTS_500)
