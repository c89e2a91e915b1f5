"""Supervised training on a model sharded by FSDP2: two CPU processes (gloo) started by torchrun
through ``fsdp_cpu_launch.py`` — ``prover.cli`` with accelerate's FSDP let onto CPU, which
accelerate itself keeps for accelerator devices — with the environment ``accelerate launch
--config_file scripts/accelerate/fsdp.yaml`` sets. Two processes with --grad-accum 1 draw the curve
and end with the weights of one process with --grad-accum 2 (the verifier with the fused and the
plain loss, LoRA with --merge, the reward model); a stopped FSDP run resumes exactly. The fused
loss runs inside the model's forward, where a sharded head's weight is whole."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_sft_trl import LOOP_CURVE_500, LOOP_WEIGHTS_500, config, curve, draws, same_run, weights

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.hf, pytest.mark.timeout(900)]

HERE = Path(__file__).resolve().parent
# What ``accelerate launch`` sets from scripts/accelerate/fsdp.yaml.
FSDP_ENV = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
            "FSDP_STATE_DICT_TYPE": "FULL_STATE_DICT", "FSDP_RESHARD_AFTER_FORWARD": "true"}


def fsdp_run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", str(HERE / "fsdp_cpu_launch.py"),
           "train", *args, "--device", "cpu", "--no-progress"]
    full_env = {**os.environ, **FSDP_ENV, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(cmd, cwd=HERE.parents[1], env=full_env, capture_output=True, text=True, timeout=400)


def verifier_args(export, model, out, *extra: str) -> list[str]:
    return ["verifier", "--data", str(export), "--model", str(model), "--out", str(out), "--lr", "3e-3", "--epochs",
            "2", "--batch-tokens", "500", "--grad-accum", "1", "--warmup-steps", "2", "--eval-split", "test",
            "--save-every", "3", *extra]


def ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("model written to") == 1


def test_the_fused_loss_inside_the_forward_is_the_plain_loss(tiny_model_dir):
    """The head swapped for the kernel for one forward: the plain cross-entropy's value and
    gradients, and the head is itself again afterwards (an error inside the forward included)."""
    from transformers import AutoModelForCausalLM

    from prover.train.data import IGNORE_INDEX
    from prover.train.verifier import loss_sum

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    ids = torch.randint(10, 300, (2, 12), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[0, :5] = IGNORE_INDEX
    labels[1, :8] = IGNORE_INDEX
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}
    grads = {}
    for kind in ("plain", "fused"):
        model.zero_grad()
        loss = loss_sum(model, batch, kind, impl="auto")
        loss.backward()
        grads[kind] = (float(loss.detach()), model.lm_head.weight.grad.clone(), model.model.layers[0].mlp.up_proj.weight.grad.clone())
    assert grads["fused"][0] == pytest.approx(grads["plain"][0], rel=1e-5)
    for fused, plain in zip(grads["fused"][1:], grads["plain"][1:]):
        torch.testing.assert_close(fused, plain, rtol=1e-3, atol=1e-5)  # float32 sums in another order
    assert "forward" not in vars(model.lm_head)
    assert model(input_ids=ids).logits.shape == (2, 12, model.config.vocab_size)
    with pytest.raises(IndexError):
        loss_sum(model, {**batch, "labels": labels[:, :5]}, "fused", impl="auto")  # targets of another shape
    assert "forward" not in vars(model.lm_head)


@pytest.mark.slow
def test_fsdp_draws_the_steps_of_one_process_and_resumes_exactly(labelled_db, tiny_model_dir, tmp_path):
    """The fused loss (the old loop's recorded curve and weights, as the data-parallel test), a
    stop after step 4 and --resume (the uninterrupted run's steps and weights), and the plain loss."""
    _, export, _ = labelled_db
    whole = tmp_path / "whole"
    ok(fsdp_run(verifier_args(export, tiny_model_dir, whole)))
    draws(whole, LOOP_CURVE_500, LOOP_WEIGHTS_500)
    assert sorted(p.name for p in (whole / "checkpoints").glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-6"]

    parts = tmp_path / "parts"
    stopped = fsdp_run(verifier_args(export, tiny_model_dir, parts, "--stop-after", "4"))
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert not (parts / "model.safetensors").exists()
    ok(fsdp_run(verifier_args(export, tiny_model_dir, parts, "--resume")))
    same_run(whole, parts)

    plain = tmp_path / "plain"
    ok(fsdp_run(verifier_args(export, tiny_model_dir, plain, "--loss", "plain")))
    draws(plain, LOOP_CURVE_500, LOOP_WEIGHTS_500)


@pytest.mark.slow
def test_fsdp_lora_merge_is_one_process_merge(labelled_db, tiny_model_dir, tmp_path):
    """LoRA under FSDP with --merge (the adapter gathered and saved, then merged into a reloaded
    base on the first process): one process's adapter and merged weights."""
    from safetensors.torch import load_file

    from prover.train.verifier import train_verifier

    _, export, _ = labelled_db
    lora = ("--lora", "--lora-r", "4", "--merge")
    one = tmp_path / "one"
    train_verifier(config(export, tiny_model_dir, one, batch_tokens=500, lora=True, lora_r=4, merge=True),
                   progress=False)
    sharded = tmp_path / "fsdp"
    ok(fsdp_run(verifier_args(export, tiny_model_dir, sharded, *lora)))
    assert [m.loss for m in curve(sharded)] == pytest.approx([m.loss for m in curve(one)], rel=1e-5, abs=1e-6)
    a, b = weights(one), weights(sharded)
    assert set(b) == set(load_file(tiny_model_dir / "model.safetensors"))  # plain weights, merged
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-5, atol=1e-6, msg=name)
    ad_a = load_file(one / "adapter" / "adapter_model.safetensors")
    ad_b = load_file(sharded / "adapter" / "adapter_model.safetensors")
    assert set(ad_a) == set(ad_b)
    for name in ad_a:
        torch.testing.assert_close(ad_b[name], ad_a[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.slow
def test_fsdp_reward_model_is_one_process_with_twice_the_accumulation(labelled_db, tiny_model_dir, tmp_path,
                                                                      templates_file):
    """The reward model under FSDP: one process's curve and weights, and its held-out comparison
    (which runs the sharded model on every process)."""
    from prover.core.train_records import TrainConfig
    from prover.train import train_reward_model

    _, export, _ = labelled_db
    settings = dict(lr=3e-3, epochs=2, batch_tokens=300, eval_split="test", schedule="constant")
    one = train_reward_model(TrainConfig(task="reward-model", data=str(export), model=str(tiny_model_dir),
                                         out=str(tmp_path / "one"), grad_accum=2, device="cpu",
                                         templates=str(templates_file), **settings), progress=False)
    done = fsdp_run(["reward-model", "--data", str(export), "--model", str(tiny_model_dir), "--out",
                     str(tmp_path / "fsdp"), "--templates", str(templates_file), "--lr", "3e-3", "--epochs", "2",
                     "--batch-tokens", "300", "--grad-accum", "1", "--eval-split", "test", "--schedule", "constant"])
    ok(done)
    assert f"held-out test: {one.held_out.n} proofs" in done.stdout
    got, ref = curve(tmp_path / "fsdp"), curve(tmp_path / "one")
    assert [(m.kind, m.step, m.tokens) for m in got] == [(m.kind, m.step, m.tokens) for m in ref]
    assert [m.loss for m in got] == pytest.approx([m.loss for m in ref], rel=1e-5, abs=1e-6)
    a, b = weights(tmp_path / "one"), weights(tmp_path / "fsdp")
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.slow
def test_fsdp_with_sharded_state_dicts_is_refused(labelled_db, tiny_model_dir, tmp_path):
    _, export, _ = labelled_db
    done = fsdp_run(verifier_args(export, tiny_model_dir, tmp_path / "o"), FSDP_STATE_DICT_TYPE="SHARDED_STATE_DICT")
    assert done.returncode != 0  # torchrun reports a failed process, whatever its exit code
    assert "Error: FSDP: set fsdp_state_dict_type: FULL_STATE_DICT" in done.stdout + done.stderr
    assert not (tmp_path / "o").exists()  # refused before anything is written
