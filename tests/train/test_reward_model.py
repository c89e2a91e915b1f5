"""The optional reward model: a scalar head on the tiny model, trained with a binary loss on the
pointwise export through the transformers Trainer; it draws the old loop's curve, its loss falls,
the held-out split is compared with the labels, and the output loads as a sequence classifier."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from prover.cli.main import cli
from prover.core.errors import UsageError
from prover.core.train_records import TrainConfig

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.hf, pytest.mark.timeout(300)]

# The curve of the training loop of our own that the transformers Trainer replaced
# (``prover/train/loop.py``, deleted in the same change), recorded by running it on the first
# test's settings just before it was deleted: (kind, step, epoch, examples, lr, loss) per line.
LOOP_CURVE = [
    ('train', 1, 0, 18, 0.003, 0.35181161761283875),
    ('eval', 1, 0, 6, None, 0.5559940735499064),
    ('train', 2, 1, 18, 0.003, 0.5566781759262085),
    ('eval', 2, 1, 6, None, 0.3327055176099141),
    ('train', 3, 2, 18, 0.003, 0.33199799060821533),
    ('eval', 3, 2, 6, None, 0.34976863861083984),
    ('train', 4, 3, 18, 0.003, 0.34894996881484985),
    ('eval', 4, 3, 6, None, 0.2602750062942505),
    ('train', 5, 4, 18, 0.003, 0.2586885392665863),
    ('eval', 5, 4, 6, None, 0.17383750279744467),
    ('train', 6, 5, 18, 0.003, 0.17121931910514832),
    ('eval', 6, 5, 6, None, 0.07931314905484517),
]


def test_reward_model_learns_the_labels_and_loads_as_a_classifier(labelled_db, tiny_model_dir, tmp_path,
                                                                   templates_file):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prover.informal.prompts import load_templates
    from prover.train import train_reward_model
    from prover.train.reward import prompt_text

    _, export, _ = labelled_db
    out = tmp_path / "rm"
    config = TrainConfig(task="reward-model", data=str(export), model=str(tiny_model_dir), out=str(out), lr=3e-3,
                         epochs=6, batch_tokens=2000, device="cpu", eval_split="test", templates=str(templates_file),
                         schedule="constant")
    summary = train_reward_model(config, progress=False)
    assert summary.task == "reward-model" and summary.status == "completed"
    from prover.train.trainer import read_metrics

    got = read_metrics(out / "metrics.jsonl")
    assert [(m.kind, m.step, m.epoch, m.tokens, m.lr) for m in got] == [r[:5] for r in LOOP_CURVE]
    assert [m.loss for m in got] == pytest.approx([r[5] for r in LOOP_CURVE], rel=1e-5, abs=1e-6)
    assert summary.train.examples == summary.train.records == 18  # every labelled proof of the train split
    assert summary.last_loss < 0.5 * summary.first_loss
    held = summary.held_out
    assert held is not None and held.n == summary.eval.examples == 6
    assert held.tp + held.fp + held.tn + held.fn == 6

    model = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tok = AutoTokenizer.from_pretrained(out)
    templates = load_templates(templates_file)
    texts = [prompt_text(tok, templates.verification("Prove that 2 plus 4 is even.", proof))
             for proof in ("Both numbers are even, so 2 + 4 is even.", "The sum 6 is odd, so it is even.")]
    with torch.no_grad():
        scores = [float(model(**tok(t, return_tensors="pt", add_special_tokens=False)).logits[0, 0]) for t in texts]
    assert scores[0] > scores[1]  # the training split's pattern: a correct proof scores higher


def test_reward_model_on_the_command_line(labelled_db, tiny_model_dir, tmp_path, templates_file):
    _, export, _ = labelled_db
    args = ["train", "reward-model", "--data", str(export / "pointwise"), "--model", str(tiny_model_dir),
            "--out", str(tmp_path / "rm"), "--templates", str(templates_file), "--eval-split", "test",
            "--lr", "1e-3", "--batch-tokens", "2000", "--device", "cpu", "--no-progress"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "held-out test: 6 proofs" in result.output and "model written to" in result.output
    assert json.loads((tmp_path / "rm" / "summary.json").read_text())["task"] == "reward-model"
    sft_only = CliRunner().invoke(cli, [*args[:3], str(export / "sft"), *args[4:7], str(tmp_path / "rm2"), *args[8:]])
    assert sft_only.exit_code == 1 and "problem, proof and a numeric label" in sft_only.output


def test_verifier_and_reward_entry_points_refuse_the_other_task(tmp_path):
    from prover.train import train_reward_model, train_verifier

    with pytest.raises(UsageError, match="task 'reward-model'"):
        train_reward_model(TrainConfig(data="d", model="m", out=str(tmp_path)))
    with pytest.raises(UsageError, match="task 'verifier'"):
        train_verifier(TrainConfig(task="reward-model", data="d", model="m", out=str(tmp_path)))
