"""Supervised training (``prover train verifier --method sft``, ``prover train reward-model``)
through the transformers ``Trainer`` — TRL's ``SFTTrainer`` for the verifier — and so through
accelerate. The library runs the steps, gradient accumulation, clipping, the optimizer (AdamW),
checkpoints with their random generators and data position, the progress bar and data
parallelism. What a run adds on top is here:

* the micro-batches: sequences packed by ``--batch-tokens`` (``data.pack_batches``) in an order
  drawn from (seed, epoch) — the sampler below, which the trainer asks for each epoch's order —
  so a resumed run sees the same data in the same order;
* the loss: the summed loss of the step's micro-batches (the task's, e.g. the fused
  cross-entropy of ``prover.kernels`` over the analysis tokens) divided by the step's units
  (target tokens, or examples), which the trainer counts across processes — so accumulation and
  data parallelism give the gradient of one large batch;
* the schedule: warm-up then cosine, linear or constant decay as a function of the step
  (:func:`lr_at`);
* the output folder (refused when it holds another run; ``--resume`` refused on changed settings
  or data — the data fingerprint), ``metrics.jsonl`` (one line per step, and the loss on
  ``--eval-split`` at each checkpoint), ``summary.json``, the model or LoRA adapter (``--merge``).

What differs between the verifier and the reward model is a :class:`Task`. Under ``accelerate
launch`` (or torchrun) with N processes each takes every N-th micro-batch, so N processes with
``--grad-accum g`` make the steps of one process with ``--grad-accum N·g`` (a test checks it);
the first process alone writes ``OUT``. Under FSDP or DeepSpeed ZeRO-3 (a model sharded across
the processes) the same holds; every process then takes part in what runs the model — the
evaluation loss, the output (the trainer's ``save_model``, which gathers the full weights; a
``--merge`` reloads base and adapter on the first process), the task's held-out metrics.

Output folder::

    OUT/config.json, model.safetensors, tokenizer files   the trained model (or, with LoRA and no
                                                          merge, the adapter and its base's path)
    OUT/metrics.jsonl                                     one line per step and per eval loss
    OUT/checkpoints/checkpoint-N/                         the trainer's checkpoints
    OUT/train_config.json, OUT/data.sha256, OUT/summary.json
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from prover.core.errors import BadDataError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.data import data_fingerprint, epoch_batches, pack_batches
from prover.train.model_setup import context_length, device_and_dtype, load_model, load_tokenizer, require_ml, unwrap

CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
FINGERPRINT_FILE = "data.sha256"
CHECKPOINTS = "checkpoints"


class Task(Protocol):
    """What a kind of supervised training brings. Examples have ``input_ids``, ``units`` (what
    the loss is averaged over) and ``digest()`` (bytes of their targets, for the data
    fingerprint)."""

    name: str
    lora_task_type: str

    def model_class(self) -> Any:
        """The transformers Auto class, and keyword arguments for ``from_pretrained``."""

    def trainer_class(self, config: TrainConfig) -> tuple[Any, Any, dict[str, Any]]:
        """The trainer class, its arguments class, and arguments of its own."""

    def prepare(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        """Checks and settings once the model is loaded (and wrapped)."""

    def examples(self, config: TrainConfig, split: str, tokenizer: Any, max_length: int | None,
                 required: bool) -> tuple[list[Any], DataSummary | None]:
        """The examples of a split (None summary: the split does not exist and is not required)."""

    def collate(self, examples: Sequence[Any], indices: Sequence[int], pad_id: int) -> dict[str, Any]:
        """Tensors of one micro-batch."""

    def units(self, batch: dict[str, Any]) -> Any:
        """What the loss of a micro-batch is averaged over (a tensor count)."""

    def loss_sum(self, model: Any, batch: dict[str, Any], config: TrainConfig) -> Any:
        """The float32 loss of a micro-batch, summed over its units."""

    def finish(self, model: Any, tokenizer: Any, config: TrainConfig, summary: TrainSummary,
               device: Any, autocast: Callable[[], Any]) -> None:
        """After training: anything the task adds to the summary (held-out metrics)."""


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Learning rate of optimizer step ``step + 1`` (``step`` steps done)."""
    peak = config.learning_rate
    warm = config.warmup_steps
    if step < warm:
        return peak * (step + 1) / warm
    if config.schedule == "constant":
        return peak
    progress = (step - warm) / max(1, total - warm)
    if config.schedule == "linear":
        return peak * (1.0 - progress)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


# -- the output folder ---------------------------------------------------------------------------

def _old_loop_run(out: Path, earlier: dict[str, Any]) -> str | None:
    """What shows that the run in ``out`` was made by prover's own training loop, which the
    transformers Trainer replaced (None: it was not)."""
    if "trainer" in earlier:
        return f"its {CONFIG_FILE} names the removed 'trainer' setting"
    if any(p.is_dir() for p in (out / CHECKPOINTS).glob("step-*")):
        return "its checkpoints are the old loop's step-N folders, not the Trainer's"
    return None


def check_out(out: Path, config: TrainConfig, resume: bool) -> None:
    """Refuse an output folder this run may not write to (nothing is written here)."""
    saved = out / CONFIG_FILE
    if saved.is_file():
        try:
            earlier = json.loads(saved.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"{saved} cannot be read ({exc}): name a new --out") from None
        if not isinstance(earlier, dict):
            raise UsageError(f"{saved} is not a training run's settings: name a new --out")
        old = _old_loop_run(out, earlier)
        if old is not None:
            # Its checkpoints cannot be continued; training from scratch over it would mix two runs' files.
            raise UsageError(f"{out} holds a run of an earlier prover version's training loop ({old}), which "
                             "cannot be resumed: start the run again in a new --out folder")
        if not resume:
            raise UsageError(f"{out} holds an earlier training run: pass --resume to continue it, or name a new --out")
        now = config.identity()
        # A setting added since the earlier run was written holds its default there.
        defaults = {k: f.default for k, f in TrainConfig.model_fields.items() if k not in earlier}
        changed = sorted(k for k in set(earlier) | set(now)
                         if earlier.get(k, defaults.get(k)) != now.get(k, defaults.get(k)))
        if changed:
            raise UsageError(f"--resume: settings differ from the run in {out}: "
                             + ", ".join(f"{k} ({earlier.get(k)!r} -> {now.get(k)!r})" for k in changed))
        return
    if out.is_file():
        raise UsageError(f"--out {out} is a file")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"--out {out} exists and is not empty (and holds no training run to resume)")


def read_metrics(path: Path) -> list[StepMetrics]:
    if not path.is_file():
        return []
    return [StepMetrics.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def keep_metrics(path: Path, step: int) -> None:
    """Keep the lines of steps up to ``step``: a resumed run writes the rest again."""
    kept = [m for m in read_metrics(path) if m.step <= step]
    path.write_text("".join(m.model_dump_json(exclude_none=True) + "\n" for m in kept), encoding="utf-8")


def newest_checkpoint(out: Path) -> Path | None:
    found = [p for p in (out / CHECKPOINTS).glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
    return max(found, key=lambda p: int(p.name[11:]), default=None)


def write_output(model: Any, tokenizer: Any, out: Path, config: TrainConfig) -> tuple[str, bool]:
    """Save what ``from_pretrained(OUT)`` loads (``--backend hf``; vLLM for full weights), from a
    model whole in this process."""
    tokenizer.save_pretrained(out)
    if config.lora and config.merge:
        model.save_pretrained(out / "adapter")
        merged = model.merge_and_unload()
        merged.save_pretrained(out)
        return "model", True
    model.save_pretrained(out)
    return ("adapter" if config.lora else "model"), False


def write_sharded_output(trainer: Any, task: Task, tokenizer: Any, out: Path, config: TrainConfig,
                         main: bool) -> tuple[str, bool]:
    """:func:`write_output` for a model sharded across the processes (every process calls it):
    the trainer's ``save_model`` gathers the full weights and the first process writes them. A
    merge reloads the base model and the saved adapter on the first process alone — merging in
    place would need every shard."""
    merge = bool(config.lora and config.merge)
    trainer.save_model(str(out / "adapter" if merge else out))
    trainer.accelerator.wait_for_everyone()
    if main:
        (out / "adapter" / "training_args.bin" if merge else out / "training_args.bin").unlink(missing_ok=True)
        tokenizer.save_pretrained(out)
        if merge:
            from peft import PeftModel

            auto, kwargs = task.model_class()
            base = auto.from_pretrained(config.model, dtype=unwrap(trainer.model).dtype, **kwargs)
            PeftModel.from_pretrained(base, out / "adapter").merge_and_unload().save_pretrained(out)
    trainer.accelerator.wait_for_everyone()
    return ("adapter" if config.lora and not merge else "model"), merge


def evaluation_loss(model: Any, task: Task, examples: Sequence[Any], config: TrainConfig, *, pad_id: int,
                    device: Any, autocast: Callable[[], Any]) -> tuple[float, int]:
    """Mean loss per unit over ``examples`` (no gradients)."""
    import torch

    was_training = model.training
    model.eval()
    total, units = 0.0, 0
    try:
        with torch.no_grad():
            for indices in epoch_batches(examples, config.batch_tokens, seed=0, epoch=0):
                batch = {k: v.to(device) for k, v in task.collate(examples, indices, pad_id).items()}
                with autocast():
                    total += float(task.loss_sum(model, batch, config))
                units += sum(examples[i].units for i in indices)
    finally:
        model.train(was_training)
    return total / max(units, 1), units


def _epoch_sampler(n: int, seed: int, first_epoch: int) -> Any:
    from torch.utils.data import Sampler

    class EpochOrder(Sampler):
        """The order of ``data.epoch_batches``: the packed batches shuffled by (seed, epoch).
        ``first_epoch``: the epoch a resumed run continues — the trainer's ``set_epoch`` does not
        reach a sampler under both the skip of the batches done and the processes' sharding."""

        def __init__(self) -> None:
            self.epoch = first_epoch

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __len__(self) -> int:
            return n

        def __iter__(self):
            order = list(range(n))
            random.Random(f"prover-train-order:{seed}:{self.epoch}").shuffle(order)
            return iter(order)

    return EpochOrder()


def _rng_snapshot() -> dict[str, Any]:
    """The generators the trainer saves in a checkpoint, as they are now."""
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.random.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.random.get_rng_state_all()
    return state


def _rng_restore(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.random.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.random.set_rng_state_all(state["cuda"])


# -- the run -------------------------------------------------------------------------------------

def run_training(config: TrainConfig, task: Task, *, resume: bool = False, stop_after: int | None = None,
                 progress: bool | None = None,
                 on_step: Callable[[StepMetrics], None] | None = None) -> TrainSummary:
    """Train ``config.model`` on ``task``'s data and write the result to ``config.out``.

    ``resume``: continue the run in ``out`` from its newest checkpoint (settings and data must
    match). ``stop_after``: stop (with a checkpoint) once this many optimizer steps are done in
    all. ``progress``: a progress bar on stderr (None: when stderr is a terminal). ``on_step``:
    called with each step's metrics (first process). Interrupted (Ctrl-C), a run in one process
    checkpoints its last finished step."""
    require_ml()
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from transformers.trainer_callback import PrinterCallback

    trainer_base, args_class, own_args = task.trainer_class(config)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    main = int(os.environ.get("RANK", "0")) == 0
    if world > 1 and os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true":
        from accelerate.utils import FullyShardedDataParallelPlugin

        # The plugin the trainer's accelerator reads from the same environment.
        if "FULL_STATE_DICT" not in str(FullyShardedDataParallelPlugin().state_dict_type):
            raise UsageError("FSDP: set fsdp_state_dict_type: FULL_STATE_DICT (as scripts/accelerate/fsdp.yaml "
                             "does): the trained model is written as full weights")
    started = time.perf_counter()
    out = Path(config.out)
    if main:
        check_out(out, config, resume)
    device, dtype, amp = device_and_dtype(config)
    tokenizer = load_tokenizer(config.model)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model = load_model(config, task, device, dtype)
    task.prepare(model, tokenizer, config)
    max_length = config.max_length or context_length(model)
    examples, data = task.examples(config, config.split, tokenizer, max_length, required=True)
    assert data is not None
    if not examples:
        raise BadDataError(f"no usable training record in split {config.split!r} ({data.records} read, "
                           f"{data.too_long} longer than {max_length} tokens, {data.no_target} without a target)",
                           source=config.data)
    eval_examples: list[Any] = []
    eval_data = None
    if config.eval_split and not Path(config.data).is_file():
        eval_examples, eval_data = task.examples(config, config.eval_split, tokenizer, max_length, required=False)

    def autocast():
        if amp:
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    fingerprint = data_fingerprint(examples)
    checkpoint = newest_checkpoint(out) if resume else None
    if checkpoint is not None:
        saved = out / FINGERPRINT_FILE
        if not saved.is_file() or saved.read_text().strip() != fingerprint:
            raise UsageError(f"--resume: the training data differ from those of the checkpoint {checkpoint}")
    packed = pack_batches(examples, config.batch_tokens, config.seed)
    data.micro_batches = len(packed)
    # Each process takes every world-th micro-batch (the last ones padded to an even share).
    steps_per_epoch = math.ceil(math.ceil(len(packed) / world) / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs

    first_epoch = int(checkpoint.name[11:]) // steps_per_epoch if checkpoint else 0
    metrics_path = out / METRICS_FILE
    if main and checkpoint is None:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / CONFIG_FILE).is_file():
            (out / CONFIG_FILE).write_text(json.dumps(config.identity(), indent=2), encoding="utf-8")
        (out / FINGERPRINT_FILE).write_text(fingerprint + "\n", encoding="utf-8")
        if metrics_path.exists():
            metrics_path.unlink()  # a run that never reached its first checkpoint starts over
    elif main:
        keep_metrics(metrics_path, int(checkpoint.name[11:]))
    pad_id = tokenizer.pad_token_id
    step_sum: dict[str, Any] = {"loss": 0.0, "units": 0, "tic": time.perf_counter()}

    class Trainer(trainer_base):
        def _get_train_sampler(self, dataset=None):
            return _epoch_sampler(len(packed), config.seed, first_epoch)

        def _get_num_items_in_batch(self, batch_samples, device):
            units = sum(task.units(b) for b in batch_samples).to(device)
            if world > 1:
                units = self.accelerator.gather(units).sum()
            return units

        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
                    optimizer or self.optimizer,
                    lambda s: lr_at(min(s, total_steps - 1), total_steps, config) / config.learning_rate)
            return self.lr_scheduler

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = task.loss_sum(model, inputs, config) / num_items_in_batch
            step_sum["loss"] += float(loss.detach())  # this process's share of the step's loss
            step_sum["units"] = int(num_items_in_batch)
            if world > 1:
                loss = loss * world  # data parallelism averages the processes' gradients
            return (loss, None) if return_outputs else loss

    class Metrics(TrainerCallback):
        """A ``metrics.jsonl`` line per step (and the evaluation loss at each checkpoint);
        checkpoints where a step ends an epoch, every ``--save-every``, at ``stop_after``."""

        rng: dict[str, Any] | None = None  # at the end of the last finished step

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs or state.global_step < 1:
                return
            step, loss = state.global_step, step_sum["loss"]
            if world > 1:
                loss = float(trainer.accelerator.reduce(torch.tensor(loss, device=trainer.accelerator.device), "sum"))
            evaluated = None
            # A sharded model's forward gathers its weights from every process: all of them evaluate.
            if control.should_save and eval_examples and (sharded or state.is_world_process_zero):
                evaluated = evaluation_loss(trainer.model, task, eval_examples, config, pad_id=pad_id, device=device,
                                            autocast=autocast)
            if not state.is_world_process_zero:
                step_sum.update(loss=0.0, units=0, tic=time.perf_counter())
                return
            m = StepMetrics(step=step, epoch=(step - 1) // steps_per_epoch, loss=loss, tokens=step_sum["units"],
                            lr=lr_at(step - 1, total_steps, config), grad_norm=logs.get("grad_norm"),
                            seconds=time.perf_counter() - step_sum["tic"])
            lines = [m]
            if evaluated is not None:
                loss, units = evaluated
                lines.append(StepMetrics(kind="eval", step=step, epoch=m.epoch, loss=loss, tokens=units,
                                         split=config.eval_split))
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write("".join(x.model_dump_json(exclude_none=True) + "\n" for x in lines))
            step_sum.update(loss=0.0, units=0, tic=time.perf_counter())
            if on_step is not None:
                on_step(m)

        def on_step_end(self, args, state, control, **kwargs):
            self.rng = _rng_snapshot()
            step = state.global_step
            if step % steps_per_epoch == 0 or (config.save_every and step % config.save_every == 0):
                control.should_save = True
            if stop_after is not None and step >= stop_after:
                control.should_save = True
                control.should_training_stop = True

    metrics = Metrics()
    # optim: torch.optim.AdamW as the loop this replaced ran it (transformers' default is the fused
    # kernel, whose rounding differs): runs draw that loop's curves bit for bit on CPU.
    args = args_class(
        output_dir=str(out / CHECKPOINTS), per_device_train_batch_size=1, learning_rate=config.learning_rate,
        weight_decay=config.weight_decay, gradient_accumulation_steps=config.grad_accum,
        num_train_epochs=config.epochs, max_grad_norm=config.max_grad_norm or 0.0, logging_steps=1,
        save_strategy="no", save_total_limit=config.keep_checkpoints, seed=config.seed, report_to="none",
        use_cpu=device.type == "cpu", bf16=amp, remove_unused_columns=False,
        disable_tqdm=not (sys.stderr.isatty() if progress is None else progress), dataloader_num_workers=0,
        average_tokens_across_devices=True, ddp_find_unused_parameters=False, optim="adamw_torch", **own_args)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list([{"batch": b} for b in packed]),
                      processing_class=tokenizer,
                      data_collator=lambda rows: task.collate(examples, rows[0]["batch"], pad_id),
                      callbacks=[metrics])
    sharded = trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled
    trainer.loss_is_scaled_for_ga = True  # compute_loss divides by the step's units already
    trainer.remove_callback(PrinterCallback)  # it prints each step's logs on stdout; metrics.jsonl has them
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except KeyboardInterrupt:
        # The step in progress is lost; the last finished one (weights, optimizer, schedule,
        # generators, data position) is checkpointed unless it already is. One process only:
        # several would have to agree on the step they stopped at.
        done = trainer.state.global_step
        if world == 1 and done > 0 and metrics.rng is not None and \
                not (out / CHECKPOINTS / f"checkpoint-{done}").is_dir():
            _rng_restore(metrics.rng)
            trainer._save_checkpoint(trainer.model, trial=None)
        raise
    state = trainer.state
    status = "stopped" if stop_after is not None and stop_after <= state.global_step < total_steps else "completed"
    output, merged = "none", False
    model = trainer.model  # as the trainer prepared it (sharded in place under FSDP)
    # Before a merge folds the adapters away; ``ds_numel``: a ZeRO-3 parameter's size (its tensor is empty).
    sizes = [(getattr(p, "ds_numel", p.numel()), p.requires_grad) for p in model.parameters()]
    n_trainable, n_total = sum(n for n, grad in sizes if grad), sum(n for n, _ in sizes)
    trainer.accelerator.wait_for_everyone()
    if status == "completed" and sharded:
        output, merged = write_sharded_output(trainer, task, tokenizer, out, config, main)
    elif status == "completed":
        if main:
            output, merged = write_output(model, tokenizer, out, config)
        else:
            output, merged = ("model" if not config.lora or config.merge else "adapter"), config.merge
    curve = read_metrics(metrics_path)
    train_curve = [m for m in curve if m.kind == "train"]
    evals = [m for m in curve if m.kind == "eval"]
    newest = newest_checkpoint(out)
    summary = TrainSummary(
        out=str(out), task=task.name, status=status, steps=state.global_step, total_steps=total_steps,
        resumed_from=int(checkpoint.name[11:]) if checkpoint else None,
        first_loss=train_curve[0].loss if train_curve else None,
        last_loss=train_curve[-1].loss if train_curve else None,
        eval_loss=evals[-1].loss if evals else None, train=data, eval=eval_data, loss=config.loss, lora=config.lora,
        merged=merged, output=output, device=str(device),
        dtype=str(dtype).removeprefix("torch.") + ("+bf16-autocast" if amp else ""),
        trainable_parameters=n_trainable, parameters=n_total, checkpoint=str(newest) if newest else None)
    if status == "completed" and (main or sharded):
        task.finish(model, tokenizer, config, summary, device, autocast)
    summary.seconds = time.perf_counter() - started
    if main:
        (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary
