"""``prover train verifier --trainer trl``: the same supervised fine-tuning as ``loop.py`` run by
TRL's ``SFTTrainer`` (so by the transformers ``Trainer`` and accelerate), with what the loop
guarantees kept:

* the same sequences (loss on the analysis tokens only, ``data.py``), micro-batches of
  ``--batch-tokens`` and their order drawn from (seed, epoch) — the sampler below, which the
  trainer asks for each epoch's order;
* the same loss: the summed cross-entropy of the step's micro-batches (``--loss fused`` through
  ``prover.kernels``, or ``plain``) divided by the step's target tokens, which the trainer counts
  (``num_items_in_batch``); the same AdamW and the same schedule (``loop.lr_at``), so the loss
  curve is the loop's (a test compares them);
* the trainer's checkpoints (``OUT/checkpoints/checkpoint-N``: weights, optimizer, schedule,
  random generators, data position) and an exact ``--resume``, refused on changed settings or
  data (the data fingerprint); LoRA through peft, ``--merge``, ``metrics.jsonl``, progress.

Checkpoints are written where the loop writes them, each with the loss on ``--eval-split`` (the
``kind: eval`` lines of ``metrics.jsonl``). Under ``accelerate launch`` (or torchrun) with N
processes (data parallel), each takes every N-th micro-batch, so N processes with
``--grad-accum g`` make the steps of one process with ``--grad-accum N·g`` (a test checks it); the
first process alone writes ``OUT``; the fused loss then takes the hidden states from the wrapped
model's forward. Not yet on this path: FSDP and DeepSpeed."""

from __future__ import annotations

import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from prover.core.errors import BadDataError, PrerequisiteError, UsageError
from prover.core.train_records import StepMetrics, TrainConfig, TrainSummary

CHECKPOINTS = "checkpoints"
FINGERPRINT_FILE = "sft_data.sha256"


def _epoch_sampler(n: int, seed: int) -> Any:
    from torch.utils.data import Sampler

    class EpochOrder(Sampler):
        """The order of ``data.epoch_batches``: the packed batches shuffled by (seed, epoch)."""

        def __init__(self) -> None:
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = epoch

        def __len__(self) -> int:
            return n

        def __iter__(self):
            order = list(range(n))
            random.Random(f"prover-train-order:{seed}:{self.epoch}").shuffle(order)
            return iter(order)

    return EpochOrder()


def _newest(out: Path) -> str | None:
    found = sorted((p for p in (out / CHECKPOINTS).glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()),
                   key=lambda p: int(p.name[11:]))
    return str(found[-1]) if found else None


def train_verifier_trl(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None,
                       progress: bool | None = None) -> TrainSummary:
    """Fine-tune ``config.model`` on the SFT data with TRL's ``SFTTrainer`` and write the result to
    ``config.out`` (the arguments are :func:`prover.train.loop.run_training`'s)."""
    from prover.train.data import data_fingerprint, pack_batches
    from prover.train.loop import (CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, _write_output, check_out, context_length,
                                   device_and_dtype, evaluation_loss, load_model, load_tokenizer, lr_at, read_metrics,
                                   require_ml)
    from prover.train.verifier import SftTask, fused_loss_sum_through_forward

    require_ml()
    try:
        from trl import SFTConfig, SFTTrainer
    except ModuleNotFoundError:
        raise PrerequisiteError("--trainer trl needs TRL: pip install 'prover[rl]'") from None
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback

    world = int(os.environ.get("WORLD_SIZE", "1"))
    main = int(os.environ.get("RANK", "0")) == 0
    if world > 1 and (os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
                      or os.environ.get("ACCELERATE_USE_DEEPSPEED", "false").lower() == "true"):
        raise UsageError("--trainer trl runs on one device or data-parallel (DDP) for now, not FSDP or DeepSpeed")
    started = time.perf_counter()
    out = Path(config.out)
    if main:
        check_out(out, config, resume)
    device, dtype, amp = device_and_dtype(config)
    tokenizer = load_tokenizer(config.model)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    task = SftTask()
    model = load_model(config, task, device, dtype)
    task.prepare(model, tokenizer, config)
    max_length = config.max_length or context_length(model)
    examples, data = task.examples(config, config.split, tokenizer, max_length, required=True)
    assert data is not None
    if not examples:
        raise BadDataError(f"no usable training record in split {config.split!r}", source=config.data)
    eval_examples: list[Any] = []
    eval_data = None
    if config.eval_split and not Path(config.data).is_file():
        eval_examples, eval_data = task.examples(config, config.eval_split, tokenizer, max_length, required=False)

    def autocast():
        if amp:
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()
    fingerprint = data_fingerprint(examples)
    checkpoint = _newest(out) if resume else None
    if checkpoint is not None:
        saved = out / FINGERPRINT_FILE
        if saved.is_file() and saved.read_text().strip() != fingerprint:
            raise UsageError(f"--resume: the training data differ from those of the checkpoint {checkpoint}")
    packed = pack_batches(examples, config.batch_tokens, config.seed)
    data.micro_batches = len(packed)
    # Each process takes every world-th micro-batch (the last ones padded to an even share).
    steps_per_epoch = -(-(-(-len(packed) // world)) // config.grad_accum)
    total_steps = steps_per_epoch * config.epochs

    metrics_path = out / METRICS_FILE
    if not main:
        pass
    elif checkpoint is None:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / CONFIG_FILE).is_file():
            (out / CONFIG_FILE).write_text(json.dumps(config.identity(), indent=2), encoding="utf-8")
        (out / FINGERPRINT_FILE).write_text(fingerprint + "\n", encoding="utf-8")
        if metrics_path.exists():
            metrics_path.unlink()
    else:
        done = int(Path(checkpoint).name[11:])
        kept = [m for m in read_metrics(metrics_path) if m.step <= done]
        metrics_path.write_text("".join(m.model_dump_json(exclude_none=True) + "\n" for m in kept), encoding="utf-8")

    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: lr_at(min(s, total_steps - 1), total_steps, config) / config.learning_rate)
    pad_id = tokenizer.pad_token_id
    step_sum = {"loss": 0.0, "tokens": 0, "tic": time.perf_counter()}

    class Trainer(SFTTrainer):
        def _get_train_sampler(self, dataset=None):
            return _epoch_sampler(len(packed), config.seed)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            units = int(num_items_in_batch) if num_items_in_batch is not None else \
                int((inputs["labels"][:, 1:] != -100).sum())
            if world > 1 and config.loss == "fused":
                # Through the DDP wrapper's forward, which synchronises the gradients.
                loss = fused_loss_sum_through_forward(model, inputs, impl=config.kernel_impl,
                                                      check=not step_sum.get("checked")) / units
                step_sum["checked"] = True
            else:
                loss = task.loss_sum(model, inputs, config) / units
            step_sum["loss"] += float(loss.detach())  # this process's share of the step's loss
            step_sum["tokens"] = units
            if world > 1:
                loss = loss * world  # data parallelism averages the processes' gradients
            return (loss, None) if return_outputs else loss

    class Metrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs or state.global_step < 1:
                return
            step = state.global_step
            loss = step_sum["loss"]
            if world > 1:
                loss = float(trainer.accelerator.reduce(torch.tensor(loss, device=trainer.accelerator.device), "sum"))
            if not state.is_world_process_zero:
                step_sum.update(loss=0.0, tokens=0, tic=time.perf_counter())
                return
            m = StepMetrics(step=step, epoch=(step - 1) // steps_per_epoch, loss=loss,
                            tokens=step_sum["tokens"], lr=lr_at(step - 1, total_steps, config),
                            grad_norm=logs.get("grad_norm"), seconds=time.perf_counter() - step_sum["tic"])
            lines = [m]
            if control.should_save and eval_examples:  # the loop's evaluation, at each checkpoint
                loss, units = evaluation_loss(model, task, eval_examples, config, pad_id=pad_id, device=device,
                                              autocast=autocast)
                lines.append(StepMetrics(kind="eval", step=step, epoch=m.epoch, loss=loss, tokens=units,
                                         split=config.eval_split))
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write("".join(x.model_dump_json(exclude_none=True) + "\n" for x in lines))
            step_sum.update(loss=0.0, tokens=0, tic=time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            # Checkpoints where the loop writes them: each epoch's end, every --save-every, at --stop-after.
            step = state.global_step
            if step % steps_per_epoch == 0 or (config.save_every and step % config.save_every == 0):
                control.should_save = True
            if stop_after is not None and step >= stop_after:
                control.should_save = True
                control.should_training_stop = True

    args = SFTConfig(
        output_dir=str(out / CHECKPOINTS), per_device_train_batch_size=1,
        gradient_accumulation_steps=config.grad_accum, num_train_epochs=config.epochs,
        max_grad_norm=config.max_grad_norm or 0.0, logging_steps=1, save_strategy="no",
        save_total_limit=config.keep_checkpoints,
        seed=config.seed, report_to="none", use_cpu=device.type == "cpu", bf16=amp, remove_unused_columns=False,
        disable_tqdm=not (sys.stderr.isatty() if progress is None else progress),
        dataset_kwargs={"skip_prepare_dataset": True}, dataloader_num_workers=0,
        average_tokens_across_devices=True, ddp_find_unused_parameters=False)
    trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_list([{"batch": b} for b in packed]),
                      processing_class=tokenizer,
                      data_collator=lambda rows: task.collate(examples, rows[0]["batch"], pad_id),
                      optimizers=(optimizer, schedule), callbacks=[Metrics()])
    trainer.loss_is_scaled_for_ga = True  # compute_loss divides by the step's target tokens already
    trainer.model_accepts_loss_kwargs = True  # so the trainer counts them (num_items_in_batch)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.train(resume_from_checkpoint=checkpoint)
    state = trainer.state
    status = "stopped" if stop_after is not None and state.global_step >= stop_after and \
        state.global_step < total_steps else "completed"
    output, merged = "none", False
    params = list(model.parameters())
    n_trainable, n_total = sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
    trainer.accelerator.wait_for_everyone()
    if status == "completed":
        if main:
            output, merged = _write_output(model, tokenizer, out, config)
        else:
            output, merged = ("adapter" if config.lora and not config.merge else "model"), config.merge
    metrics = read_metrics(metrics_path)
    curve = [m for m in metrics if m.kind == "train"]
    evals = [m for m in metrics if m.kind == "eval"]
    summary = TrainSummary(
        out=str(out), task="verifier", status=status, steps=state.global_step, total_steps=total_steps,
        resumed_from=int(Path(checkpoint).name[11:]) if checkpoint else None,
        first_loss=curve[0].loss if curve else None, last_loss=curve[-1].loss if curve else None,
        eval_loss=evals[-1].loss if evals else None, train=data, eval=eval_data,
        loss=config.loss, lora=config.lora, merged=merged, output=output, device=str(device),
        dtype=str(dtype).removeprefix("torch.") + ("+bf16-autocast" if amp else ""),
        trainable_parameters=n_trainable, parameters=n_total, checkpoint=_newest(out))
    summary.seconds = time.perf_counter() - started
    if main:
        (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary
