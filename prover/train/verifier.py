"""``prover train verifier`` (``--method sft``): supervised fine-tuning of a causal language
model on the SFT export (prompt: the verification prompt; target: an analysis whose score agrees
with the label), run by TRL's ``SFTTrainer`` (``trainer.py``).

The loss is the cross-entropy of the analysis tokens only (the prompt is masked out when the
records are tokenized, ``data.py``). With ``loss = fused`` the model's forward runs with its
output head replaced by ``prover.kernels.fused_linear_cross_entropy``, which takes the hidden
states through the head's weight without ever holding the ``[tokens, vocabulary]`` logits — only
the target positions go in, shifted by one here (the kernel does not shift); being inside the
forward, it works on a model sharded by FSDP or ZeRO-3 as on one device. ``loss = plain`` is the reference: the model's
own logits and ``cross_entropy``. ``loss = liger``: the trainer's ``use_liger_kernel`` (Liger's
fused loss patched into the model, CUDA; ``pip install liger-kernel``). Each sums over the target
tokens of a micro-batch; the trainer divides by the target tokens of the optimizer step.

``resume`` continues from the newest checkpoint exactly: same weights, optimizer moments,
schedule, random generators, step and data position, so the loss curve is the one an
uninterrupted run draws."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Sequence

from prover.core.errors import PrerequisiteError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.data import IGNORE_INDEX, build_examples, collate, load_sft, sft_file
from prover.train.model_setup import unwrap
from prover.train.trainer import run_training

# Settings of models whose logits are more than ``hidden @ head.T``: the fused loss would
# silently train another function than the one the model computes.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")

causal_lm = unwrap


def check_fused_supported(model: Any) -> None:
    """Refuse the fused loss for a model whose logits are not a plain linear map of its hidden
    states (soft-capping, scaling, a bias on the head)."""
    lm = causal_lm(model)
    config = lm.config
    for name in _LOGIT_TRANSFORMS:
        if getattr(config, name, None) not in (None, 1, 1.0, 0):
            raise UsageError(f"the fused loss does not apply {name} of {type(lm).__name__}; use --loss plain")
    head = lm.get_output_embeddings()
    if head is None or getattr(head, "bias", None) is not None:
        raise UsageError(f"{type(lm).__name__} has no plain linear output head; use --loss plain")


def loss_sum(model: Any, batch: dict[str, Any], kind: str, *, impl: str = "auto") -> Any:
    """Summed cross-entropy (float32) of the targets of one micro-batch, position i predicting
    ``labels[i + 1]``. ``model`` may be wrapped (DDP, FSDP, a DeepSpeed engine): both losses run
    in its own forward."""
    import torch.nn.functional as F

    targets = batch["labels"][:, 1:]
    if kind == "plain":
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, :-1]
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX, reduction="sum")
    with _head_computes_the_loss(model, targets, impl) as result:
        return result(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False))


@contextlib.contextmanager
def _head_computes_the_loss(model: Any, targets: Any, impl: str):
    """For one forward, the output head returns the fused loss of its input hidden states instead
    of logits. Inside the forward a sharded head's weight is gathered (FSDP's and ZeRO-3's hooks
    run around it), the head reads exactly what the model gives it (after its final norm), and a
    data-parallel wrapper sees every weight used; the ``[tokens, vocabulary]`` logits are never
    built. Yields a function from the model's output to the loss."""
    import torch

    from prover.kernels import fused_linear_cross_entropy

    head = causal_lm(getattr(model, "module", model)).get_output_embeddings()

    def fused(hidden):
        keep = targets != IGNORE_INDEX
        weight = head.weight
        # Only target positions reach the head; the kernel runs outside autocast, in the head's dtype.
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            loss = fused_linear_cross_entropy(hidden[:, :-1][keep].to(weight.dtype), weight, targets[keep],
                                              ignore_index=IGNORE_INDEX, reduction="sum", impl=impl)
        return loss.reshape(1, 1, 1)  # in the logits' place

    head.forward = fused
    try:
        yield lambda out: out.logits.reshape(())
    finally:
        del head.forward  # the class's forward again


class SftTask:
    """Chat records of the ``sft`` dataset, the assistant turn as the target."""

    name = "verifier"
    lora_task_type = "CAUSAL_LM"

    def model_class(self) -> tuple[Any, dict[str, Any]]:
        from transformers import AutoModelForCausalLM

        return AutoModelForCausalLM, {}

    def trainer_class(self, config: TrainConfig) -> tuple[Any, Any, dict[str, Any]]:
        try:
            from trl import SFTConfig, SFTTrainer
        except ModuleNotFoundError:
            raise PrerequisiteError("verifier training needs TRL: pip install 'prover[rl]'") from None
        # The sequences come tokenized, masked and packed (data.py): TRL prepares nothing.
        return SFTTrainer, SFTConfig, {"dataset_kwargs": {"skip_prepare_dataset": True},
                                       "use_liger_kernel": config.loss == "liger"}

    def prepare(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        if config.loss == "fused":
            check_fused_supported(model)
        if config.loss == "liger":
            try:
                import liger_kernel  # noqa: F401
            except ModuleNotFoundError:
                raise PrerequisiteError("--loss liger needs Liger's kernels (CUDA): pip install liger-kernel; "
                                        "or use --loss fused") from None

    def examples(self, config: TrainConfig, split: str, tokenizer: Any, max_length: int | None,
                 required: bool) -> tuple[list[Any], DataSummary | None]:
        if not required and sft_file(config.data, split) is None:
            return [], None
        records, path = load_sft(config.data, split)
        return build_examples(records, tokenizer, max_length, where=str(path))

    def collate(self, examples: Sequence[Any], indices: Sequence[int], pad_id: int) -> dict[str, Any]:
        return collate(examples, indices, pad_id)

    def units(self, batch: dict[str, Any]) -> Any:
        return (batch["labels"][:, 1:] != IGNORE_INDEX).sum()

    def loss_sum(self, model: Any, batch: dict[str, Any], config: TrainConfig) -> Any:
        if config.loss == "liger":
            # The patched model's own loss: the mean over the targets.
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"],
                        use_cache=False)
            return out.loss.float() * self.units(batch)
        return loss_sum(model, batch, config.loss, impl=config.kernel_impl)

    def finish(self, *args: Any) -> None:
        pass


def train_verifier(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None,
                   progress: bool | None = None,
                   on_step: Callable[[StepMetrics], None] | None = None) -> TrainSummary:
    """Fine-tune ``config.model`` on the SFT data and write the trained causal LM to
    ``config.out`` (see :func:`prover.train.trainer.run_training` for ``resume``, ``stop_after``,
    ``progress`` and ``on_step``)."""
    if config.task != "verifier":
        raise UsageError(f"train_verifier needs task 'verifier', got {config.task!r}")
    return run_training(config, SftTask(), resume=resume, stop_after=stop_after, progress=progress, on_step=on_step)
