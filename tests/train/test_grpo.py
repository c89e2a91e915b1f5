"""GRPO through TRL: the reward functions as TRL calls them, with the verifier and meta-verifier
answered through the model layer (a scripted backend, calls stored); a few steps on the hf
tests' tiny random model where a toy reward is reachable raise the mean reward; a stopped run
resumes, and refuses changed prompts. Mechanics only: no figure here is a result."""

from __future__ import annotations

import json

import pytest

from prover.core.errors import UsageError
from prover.core.train_records import GrpoSettings, TrainConfig

MARKER = "Here is my evaluation of the solution:"
PHRASE = "Based on my evaluation, the final overall score should be:"
META = 'Here is my analysis of the "solution evaluation":\nReal.\nRated: \\boxed{%s}'


def analysis(score: str) -> str:
    return f"{MARKER}\nStep 2 is fine.\n{PHRASE} \\boxed{{{score}}}"


def generation(proof: str, self_score: str) -> str:
    return f"## Solution\n{proof}\n\n## Self Evaluation\n{analysis(self_score)}"


def scorer_for(verdicts: dict[str, str], metas: dict[str, str], store=None, run_id=None):
    """A RoleScorer whose verifier answers by the proof it reads and whose meta-verifier answers
    by the analysis it reads (scripted rules)."""
    from prover.core.llm_records import ModelConfig
    from prover.informal.prompts import default_templates
    from prover.llm.scripted import ScriptedBackend, ScriptedOutput
    from prover.train.grpo import RoleScorer

    verifier = ScriptedBackend([ScriptedOutput(match=proof, text=text) for proof, text in verdicts.items()])
    meta = ScriptedBackend([ScriptedOutput(match=needle, text=text) for needle, text in metas.items()])
    return RoleScorer(ModelConfig(), default_templates(), store=store, run_id=run_id,
                      backends={"verifier": verifier, "meta_verifier": meta})


def test_verifier_reward_as_trl_calls_it_with_and_without_the_meta_verifier():
    from prover.train.grpo import make_reward

    cols = {"label": [1.0, 1.0, 0.0, 1.0], "problem": ["P"] * 4, "proof": ["Q"] * 4}
    completions = [[{"role": "assistant", "content": analysis("1")}],  # right, well formed
                   [{"role": "assistant", "content": analysis("0.5")}],  # half right
                   [{"role": "assistant", "content": "It is wrong. \\boxed{0}"}],  # right score, bad format
                   [{"role": "assistant", "content": analysis("1")}]]  # right, but cut off at the limit
    ids = [[5, 2], [5, 2], [5, 2], [5, 6, 7]]
    plain = make_reward("verifier", limit=3, eos=2)
    assert plain(prompts=[None] * 4, completions=completions, completion_ids=ids, **cols) == [1.0, 0.5, 0.0, 0.0]

    scorer = scorer_for({}, {"Step 2 is fine": META % "0.5"})
    try:
        with_meta = make_reward("verifier", scorer=scorer, meta=True, limit=3, eos=2)
        assert with_meta(prompts=[None] * 4, completions=completions, completion_ids=ids, **cols) == \
            [0.5, 0.25, 0.0, 0.0]
        # only the two well-formed, uncut analyses were sent to the meta-verifier
        assert len(scorer.client._given["meta_verifier"].calls) == 2
    finally:
        scorer.close()
    with pytest.raises(UsageError, match="no scorer"):
        make_reward("verifier", meta=True)


def test_generator_reward_calls_the_verifier_through_the_model_layer_and_stores_the_calls(tmp_path):
    from prover.store import ProofStore
    from prover.train.grpo import make_reward

    store = ProofStore.open(tmp_path / "calls.db")
    run_id = store.start_run("grpo-train", command=["test"], seed=0, config={})
    scorer = scorer_for({"GOOD PROOF": analysis("1"), "BAD PROOF": analysis("0"), "HALF PROOF": "no verdict"},
                        {"Step 2 is fine": META % "1"}, store=store, run_id=run_id)
    try:
        reward = make_reward("generator", scorer=scorer, meta=True)
        completions = [generation("GOOD PROOF", "1"),   # 0.76*1 + 0.24*1*1
                       generation("BAD PROOF", "1"),    # 0.76*0 + 0.24*0
                       generation("BAD PROOF", "0"),    # 0.24 for an honest self-evaluation
                       generation("HALF PROOF", "1"),   # the verifier gave no score: 0
                       "GOOD PROOF without sections"]   # format: 0, never sent
        got = reward(prompts=[None] * 5, completions=completions, problem=["P"] * 5)
        assert got == pytest.approx([1.0, 0.0, 0.24, 0.0, 0.0])
        assert len(scorer.client._given["verifier"].calls) == 4
        assert len(scorer.client._given["meta_verifier"].calls) == 4
    finally:
        scorer.close()
    counts = store.call_counts(run_id)
    store.close()
    assert sum(counts.values()) == 8, counts


def test_prompt_rows_choose_labels_formal_first(templates_file):
    from prover.informal.prompts import load_templates
    from prover.train.grpo import prompt_rows

    t = load_templates(templates_file)
    records = [{"proof_id": 1, "problem": "P", "proof": "Q", "label": 1.0, "source": "informal"},
               {"proof_id": 1, "problem": "P", "proof": "Q", "label": 0.0, "source": "formal"},
               {"proof_id": 2, "problem": "P", "proof": "R", "label": 0.5, "source": "human",
                "labels": json.dumps({"informal": 1.0})},
               # as `labels export` writes it: the export's precedence chose human, every source is listed
               {"proof_id": 3, "problem": "P", "proof": "S", "label": 1.0, "source": "human",
                "labels": json.dumps({"formal": 0.0, "human": 1.0, "informal": 1.0})}]
    rows = prompt_rows("verifier", records, t)
    assert [(r["label"], r["label_source"]) for r in rows] == [(0.0, "formal"), (0.5, "human"), (0.0, "formal")]
    assert rows[0]["prompt"] == [{"role": "user", "content": t.verification("P", "Q")}]
    gen = prompt_rows("generator", records, t)
    assert len(gen) == 1 and gen[0]["problem"] == "P"
    meta = prompt_rows("meta-verifier", [{"problem": "P", "proof": "Q", "analysis": "A", "meta_score": 0.5}], t)
    assert meta[0]["meta_label"] == 0.5


# -- training on the tiny model ---------------------------------------------------------------

def even_share(prompts, completions, completion_ids, **columns):
    """A toy reward the tiny random model can reach: the share of its tokens with an even id."""
    return [sum(1 for t in ids if t % 2 == 0) / max(len(ids), 1) for ids in completion_ids]


def toy_config(tmp_path, model, templates_file, out="out", **grpo) -> TrainConfig:
    data = tmp_path / "pointwise.jsonl"
    if not data.exists():
        data.write_text("".join(json.dumps({"proof_id": i, "problem": f"Prove that {2 * i} plus 2 is even.",
                                            "proof": "Both numbers are even.", "label": 1.0,
                                            "source": "formal"}) + "\n" for i in range(4)))
    settings = dict(generations=8, prompts_per_step=2, max_completion_length=8, max_steps=4)
    settings.update(grpo)
    return TrainConfig(data=str(data), model=str(model), out=str(tmp_path / out), lr=1e-2, device="cpu",
                       schedule="constant", templates=str(templates_file), save_every=2,
                       grpo=GrpoSettings(**settings))


@pytest.mark.slow
@pytest.mark.hf
@pytest.mark.timeout(600)
def test_a_few_grpo_steps_raise_a_reachable_reward(tiny_model_dir, tmp_path, templates_file):
    pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
    import torch
    from safetensors.torch import load_file

    from prover.train.grpo import train_grpo

    config = toy_config(tmp_path, tiny_model_dir, templates_file)
    summary = train_grpo(config, reward_funcs=[even_share], progress=False)
    lines = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").read_text().splitlines()]
    rewards = [m["reward"] for m in lines]
    assert summary.method == "grpo" and summary.status == "completed" and summary.steps == 4 == len(lines)
    assert summary.train.examples == 4
    assert max(rewards[-2:]) > rewards[0] + 0.1, rewards
    assert summary.first_reward == rewards[0] and summary.last_reward == rewards[-1]
    assert (tmp_path / "out" / "model.safetensors").is_file() and (tmp_path / "out" / "tokenizer.json").is_file()

    # stopped after 2 steps, resumed to 4; changed prompts are refused
    parts = toy_config(tmp_path, tiny_model_dir, templates_file, out="parts")
    first = train_grpo(parts, reward_funcs=[even_share], stop_after=2, progress=False)
    assert first.status == "stopped" and first.steps == 2 and first.output == "none"
    assert first.checkpoint.endswith("checkpoint-2")
    with pytest.raises(UsageError, match="--resume"):
        train_grpo(parts, reward_funcs=[even_share], progress=False)
    second = train_grpo(parts, reward_funcs=[even_share], resume=True, progress=False)
    assert second.resumed_from == 2 and second.steps == 4 and second.status == "completed"
    resumed = [json.loads(x) for x in (tmp_path / "parts" / "metrics.jsonl").read_text().splitlines()]
    # the same prompts, completions and updates as the uninterrupted run
    assert [(m["step"], m["epoch"], m["tokens"]) for m in resumed] == \
        [(m["step"], m["epoch"], m["tokens"]) for m in lines]
    assert [m["reward"] for m in resumed] == pytest.approx(rewards, abs=1e-6)
    whole_w = load_file(tmp_path / "out" / "model.safetensors")
    parts_w = load_file(tmp_path / "parts" / "model.safetensors")
    for name in whole_w:
        torch.testing.assert_close(parts_w[name], whole_w[name], rtol=1e-5, atol=1e-6, msg=name)
    data = tmp_path / "pointwise.jsonl"
    data.write_text(data.read_text().replace("plus 2", "plus 4"))
    with pytest.raises(UsageError, match="prompts differ"):
        train_grpo(parts, reward_funcs=[even_share], resume=True, progress=False)


@pytest.mark.slow
@pytest.mark.hf
@pytest.mark.timeout(600)
def test_grpo_on_the_command_line(labelled_db, tiny_model_dir, tmp_path, templates_file):
    """The verifier's own reward on the tiny model: its noise earns 0, but the run goes through
    TRL end to end; the generator's needs a verifier role."""
    pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
    from click.testing import CliRunner

    from prover.cli.main import cli

    _, export, _ = labelled_db
    args = ["train", "verifier", "--method", "grpo", "--data", str(export), "--model", str(tiny_model_dir),
            "--out", str(tmp_path / "v"), "--templates", str(templates_file), "--generations", "2",
            "--max-completion-length", "4", "--max-steps", "1", "--device", "cpu", "--no-progress", "--json",
            "--lora", "--lora-r", "4", "--merge"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert (summary["method"], summary["task"], summary["steps"], summary["status"]) == \
        ("grpo", "verifier", 1, "completed")
    assert summary["train"]["examples"] == 18 and summary["first_reward"] == 0.0
    assert summary["lora"] and summary["merged"] and (tmp_path / "v" / "adapter" / "adapter_config.json").is_file()
    assert 0 < summary["trainable_parameters"] < summary["parameters"]
    # the meta-verifier on the export's meta dataset (`labels export` writes it)
    meta_train = (export / "meta" / "train.jsonl").read_text().splitlines()
    meta = CliRunner().invoke(cli, ["train", "meta-verifier", "--method", "grpo", *args[4:9], str(tmp_path / "m"),
                                    *args[10:22]])
    assert meta.exit_code == 0, meta.output
    summary = json.loads(meta.output[meta.output.index("{"):])
    assert (summary["task"], summary["steps"]) == ("meta-verifier", 1)
    assert summary["train"]["records"] == summary["train"]["examples"] == len(meta_train) > 0


def test_a_reward_that_needs_a_role_without_a_model_is_refused_up_front(tmp_path):
    from prover.core.llm_records import ModelConfig
    from prover.train.grpo import check_scoring_roles

    def cfg(task, meta):
        return TrainConfig(task=task, data="d", model="m", out=str(tmp_path), grpo=GrpoSettings(meta=meta))

    bare = ModelConfig()
    with pytest.raises(UsageError, match="the verifier role.*--role verifier.model=NAME"):
        check_scoring_roles(cfg("generator", False), bare, None)
    with pytest.raises(UsageError, match="the meta_verifier role"):
        check_scoring_roles(cfg("verifier", True), bare, None)
    with pytest.raises(UsageError, match="not to the meta-verifier"):
        check_scoring_roles(cfg("meta-verifier", True), bare, None)
    check_scoring_roles(cfg("verifier", False), bare, None)  # needs no model
    check_scoring_roles(cfg("generator", True), ModelConfig(roles={"verifier": {"model": "v"}}),
                        {"meta_verifier": object()})
    with pytest.raises(ValueError, match="grpo only"):
        TrainConfig(task="generator", data="d", model="m", out=str(tmp_path))


def test_a_run_written_before_a_setting_existed_resumes_with_its_default(tmp_path):
    from prover.train.trainer import CONFIG_FILE, check_out

    config = TrainConfig(data="d", model="m", out=str(tmp_path))
    earlier = config.identity()
    del earlier["grpo"], earlier["templates"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(earlier))
    check_out(tmp_path, config, resume=True)
    with pytest.raises(UsageError, match="templates"):
        check_out(tmp_path, config.model_copy(update={"templates": "t.toml"}), resume=True)


@pytest.mark.slow
@pytest.mark.hf
@pytest.mark.timeout(600)
def test_grpo_with_two_processes(tiny_model_dir, tmp_path, templates_file):
    """Two processes on CPU (torchrun, gloo — what accelerate launch starts on GPUs): they share
    each step (twice the completions of one process), the first alone writes OUT and reports."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
    root = Path(__file__).resolve().parents[2]
    config = toy_config(tmp_path, tiny_model_dir, templates_file)
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "prover.cli.main", "train",
           "verifier", "--method", "grpo", "--data", config.data, "--model", str(tiny_model_dir), "--out", str(out),
           "--templates", str(templates_file), "--generations", "4", "--max-completion-length", "8",
           "--max-steps", "2", "--device", "cpu", "--no-progress", "--lora", "--lora-r", "4", "--merge"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.count("merged model written to") == 1  # the first process reports
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in lines] == [1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["merged"] and (out / "model.safetensors").is_file() and (out / "adapter").is_dir()

    from prover.train.grpo import train_grpo

    single = toy_config(tmp_path, tiny_model_dir, templates_file, out="single", generations=4, prompts_per_step=1,
                        max_steps=1)
    train_grpo(single, reward_funcs=[even_share], progress=False)
    one = json.loads((tmp_path / "single" / "metrics.jsonl").read_text().splitlines()[0])["tokens"]
    assert lines[0]["tokens"] > one  # each process sampled a group of its own


@pytest.mark.slow
@pytest.mark.hf
@pytest.mark.timeout(600)
def test_generator_grpo_scores_through_the_model_layer(tiny_model_dir, tmp_path, templates_file):
    """The generator's reward inside a TRL run, the verifier a scripted backend: the tiny model's
    noise is never in format, so nothing is sent and every reward is 0 — the wiring, not a result."""
    pytest.importorskip("trl", reason="needs TRL (pip install -e '.[rl]')")
    from prover.core.llm_records import ModelConfig
    from prover.llm.scripted import ScriptedBackend
    from prover.train.grpo import train_grpo

    verifier = ScriptedBackend(lambda call: analysis("1"))
    base = toy_config(tmp_path, tiny_model_dir, templates_file, generations=2, max_steps=1)
    config = base.model_copy(update={"task": "generator", "out": str(tmp_path / "gen")})
    summary = train_grpo(config, model_config=ModelConfig(), backends={"verifier": verifier}, progress=False)
    assert (summary.task, summary.status, summary.steps, summary.train.examples) == ("generator", "completed", 1, 4)
    assert summary.first_reward == 0.0 and verifier.calls == []
