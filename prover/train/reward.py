"""``prover train reward-model``: a scalar head on a language model, trained with a binary
cross-entropy on the labels of the ``pointwise`` export (label in [0, 1], a soft target for
0.5), each proof weighted by the export's ``weight`` (1 / labelled proofs of its problem).

The model reads the verification prompt of the proof (the informal engine's template, or those
``templates`` names — the export's own), rendered as the verifier would see it before answering;
its score is the head's output at the last token. The output folder loads with
``AutoModelForSequenceClassification``; after training, the probabilities on the evaluation split
are compared with the labels (pass: probability >= 0.5 against label = 1)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from prover.core.errors import BadDataError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.data import load_sft, sft_file
from prover.train.model_setup import unwrap
from prover.train.trainer import run_training

DATASET = "pointwise"


@dataclass(frozen=True)
class RewardExample:
    """One proof: the tokens of its verification prompt, its label and weight."""

    input_ids: tuple[int, ...]
    label: float
    weight: float
    proof_id: int | None = None
    problem: str = ""
    """The problem key (bootstrap intervals resample problems)."""

    @property
    def units(self) -> int:
        return 1

    def digest(self) -> bytes:
        return struct.pack("<dd", self.label, self.weight)


def prompt_text(tokenizer: Any, prompt: str) -> str:
    """The verification prompt as the model sees it before it would answer."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                             add_generation_prompt=True)
    return prompt


def build_reward_examples(records: Sequence[dict[str, Any]], tokenizer: Any, templates: Any, max_length: int | None,
                          where: str = "data") -> tuple[list[RewardExample], DataSummary]:
    """Examples of pointwise records (``problem``, ``proof``, ``label``, optional ``weight``)."""
    summary = DataSummary(records=len(records))
    templated = bool(getattr(tokenizer, "chat_template", None))
    out: list[RewardExample] = []
    for i, rec in enumerate(records):
        try:
            label = float(rec["label"])
            problem, proof = str(rec["problem"] or ""), str(rec["proof"] or "")
            weight = float(rec.get("weight", 1.0) if rec.get("weight") is not None else 1.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadDataError(f"a pointwise record needs problem, proof and a numeric label ({exc})", source=where,
                               line=i + 1) from None
        if not 0.0 <= label <= 1.0 or not math.isfinite(weight) or weight < 0:
            raise BadDataError(f"label must be in [0, 1] and weight >= 0, got {label} and {weight}", source=where,
                               line=i + 1)
        text = prompt_text(tokenizer, templates.verification(problem, proof))
        ids = tuple(tokenizer(text, add_special_tokens=not templated)["input_ids"])
        if max_length is not None and len(ids) > max_length:
            summary.too_long += 1
            continue
        out.append(RewardExample(input_ids=ids, label=label, weight=weight, proof_id=rec.get("proof_id"),
                                 problem=str(rec.get("problem_key") or problem)))
    summary.examples = len(out)
    summary.target_tokens = len(out)
    return out, summary


class RewardTask:
    """Pointwise records, a scalar head, a weighted binary cross-entropy."""

    name = "reward-model"
    lora_task_type = "SEQ_CLS"  # peft also trains the new head

    def __init__(self, templates: Any):
        self.templates = templates
        self.max_length: int | None = None

    def model_class(self) -> tuple[Any, dict[str, Any]]:
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification, {"num_labels": 1}

    def trainer_class(self, config: TrainConfig) -> tuple[Any, Any, dict[str, Any]]:
        from transformers import Trainer, TrainingArguments

        return Trainer, TrainingArguments, {}

    def prepare(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        if config.loss != "fused" or config.kernel_impl != "auto":
            raise UsageError("--loss and --kernel are verifier options; a reward model has a scalar head")
        # The head reads the last token that is not padding.
        unwrap(model).config.pad_token_id = tokenizer.pad_token_id

    def examples(self, config: TrainConfig, split: str, tokenizer: Any, max_length: int | None,
                 required: bool) -> tuple[list[Any], DataSummary | None]:
        self.max_length = max_length  # the held-out comparison keeps the same sequences
        if not required and sft_file(config.data, split, DATASET) is None:
            return [], None
        records, path = load_sft(config.data, split, DATASET)
        return build_reward_examples(records, tokenizer, self.templates, max_length, where=str(path))

    def collate(self, examples: Sequence[Any], indices: Sequence[int], pad_id: int) -> dict[str, Any]:
        import torch

        rows = [examples[i] for i in indices]
        width = max(len(r.input_ids) for r in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, :len(r.input_ids)] = torch.tensor(r.input_ids)
            mask[j, :len(r.input_ids)] = 1
        return {"input_ids": ids, "attention_mask": mask,
                "labels": torch.tensor([r.label for r in rows], dtype=torch.float32),
                "weights": torch.tensor([r.weight for r in rows], dtype=torch.float32)}

    def units(self, batch: dict[str, Any]) -> Any:
        import torch

        return torch.tensor(len(batch["labels"]))

    def scores(self, model: Any, batch: dict[str, Any]) -> Any:
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.squeeze(-1).float()

    def loss_sum(self, model: Any, batch: dict[str, Any], config: TrainConfig) -> Any:
        import torch.nn.functional as F

        losses = F.binary_cross_entropy_with_logits(self.scores(model, batch), batch["labels"], reduction="none")
        return (losses * batch["weights"]).sum()

    def finish(self, model: Any, tokenizer: Any, config: TrainConfig, summary: TrainSummary, device: Any,
               autocast: Callable[[], Any]) -> None:
        """The held-out comparison: probabilities against labels on the evaluation split."""
        import torch

        from prover.analysis.metrics import compute_metrics
        from prover.core.crosscheck_records import PairedValue
        from prover.train.data import epoch_batches

        if not config.eval_split or Path(config.data).is_file() or \
                sft_file(config.data, config.eval_split, DATASET) is None:
            return  # a single file is all training data: nothing is held out
        examples, _ = self.examples(config, config.eval_split, tokenizer, self.max_length, required=True)
        if not examples:
            return
        model.eval()
        pairs = []
        with torch.no_grad():
            for indices in epoch_batches(examples, config.batch_tokens, seed=0, epoch=0):
                batch = {k: v.to(device) for k, v in self.collate(examples, indices, tokenizer.pad_token_id).items()}
                with autocast():
                    probs = torch.sigmoid(self.scores(model, batch)).tolist()
                for i, p in zip(indices, probs):
                    e = examples[i]
                    pairs.append(PairedValue(problem=e.problem, proof_id=e.proof_id if e.proof_id is not None else i,
                                             reference=e.label, candidate=p))
        summary.held_out = compute_metrics(pairs, reference_threshold=1.0, candidate_threshold=0.5, bootstrap=1000,
                                           seed=config.seed)


def train_reward_model(config: TrainConfig, *, templates: Any = None, resume: bool = False,
                       stop_after: int | None = None, progress: bool | None = None,
                       on_step: Callable[[StepMetrics], None] | None = None) -> TrainSummary:
    """Train a scalar-head reward model on the pointwise labels and write it to ``config.out``;
    the summary's ``held_out`` compares its probabilities with the evaluation split's labels."""
    from prover.informal.prompts import load_templates

    if config.task != "reward-model":
        raise UsageError(f"train_reward_model needs task 'reward-model', got {config.task!r}")
    templates = templates or load_templates(config.templates)
    return run_training(config, RewardTask(templates), resume=resume, stop_after=stop_after, progress=progress,
                        on_step=on_step)
