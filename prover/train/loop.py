"""The training loop shared by ``prover train verifier`` and ``prover train reward-model``: model
and tokenizer loading (optionally wrapped in LoRA adapters), micro-batches of a token budget,
gradient accumulation, AdamW with a schedule that is a function of the step, checkpoints and an
exact resume, ``metrics.jsonl``, a progress bar, and the output folder.

What differs between the two is a :class:`Task`: how records become examples, how examples
become a batch, the model class, and the summed loss of a micro-batch. The loss of an optimizer
step is the sum over its micro-batches divided by the step's units (target tokens, or examples),
so accumulation gives the gradient of one large batch.

Output folder::

    OUT/config.json, model.safetensors, tokenizer files   the trained model (or, with LoRA and no
                                                          merge, the adapter and its base's path)
    OUT/metrics.jsonl                                     one line per step and per eval loss
    OUT/checkpoints/step-NNNNNNNN/                        see checkpoint.py
    OUT/train_config.json, OUT/summary.json
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

from prover.core.errors import BadDataError, PrerequisiteError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.checkpoint import (latest_checkpoint, load_checkpoint, read_state, rng_state, save_checkpoint,
                                     set_rng_state)
from prover.train.data import data_fingerprint, epoch_batches

CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"


class Task(Protocol):
    """What a kind of training brings to the loop. Examples have ``input_ids``, ``units`` (what
    the loss is averaged over) and ``digest()`` (bytes of their targets, for the data
    fingerprint)."""

    name: str
    lora_task_type: str

    def model_class(self) -> Any:
        """The transformers Auto class, and keyword arguments for ``from_pretrained``."""

    def prepare(self, model: Any, tokenizer: Any, config: TrainConfig) -> None:
        """Checks and settings once the model is loaded (and wrapped)."""

    def examples(self, config: TrainConfig, split: str, tokenizer: Any, max_length: int | None,
                 required: bool) -> tuple[list[Any], DataSummary | None]:
        """The examples of a split (None summary: the split does not exist and is not required)."""

    def collate(self, examples: Sequence[Any], indices: Sequence[int], pad_id: int) -> dict[str, Any]:
        """Tensors of one micro-batch."""

    def loss_sum(self, model: Any, batch: dict[str, Any], config: TrainConfig) -> Any:
        """The float32 loss of a micro-batch, summed over its units."""

    def finish(self, model: Any, tokenizer: Any, config: TrainConfig, summary: TrainSummary,
               device: Any, autocast: Callable[[], Any]) -> None:
        """After training: anything the task adds to the summary (held-out metrics)."""


def require_ml() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ModuleNotFoundError as exc:
        raise PrerequisiteError(f"training needs {exc.name}: pip install 'prover[ml]'") from None


def unwrap(model: Any) -> Any:
    """The transformers model inside a peft wrapper (the model itself otherwise)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


# -- schedule ----------------------------------------------------------------------------------

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


# -- progress ----------------------------------------------------------------------------------

class _Bar:
    """A rich progress bar on stderr (on a terminal, or when asked)."""

    def __init__(self, label: str, total: int, done: int, enabled: bool | None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.label, self.total, self.done = label, total, done
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn(self.label), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total, completed=self.done, info="")
        return self

    def step(self, m: StepMetrics) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=f"loss {m.loss:.4f} lr {m.lr:.2e}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# -- setup -------------------------------------------------------------------------------------

def device_and_dtype(config: TrainConfig) -> tuple[Any, Any, bool]:
    """(device, weight dtype, bf16 autocast?). ``auto`` on CUDA: float32 weights under bf16
    autocast for full fine-tuning (pure bf16 weights would swallow small updates), bf16 frozen
    weights for LoRA (whose adapters peft keeps in float32)."""
    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except RuntimeError:
        raise UsageError(f"--device: unknown device {config.device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PrerequisiteError("--device cuda: no CUDA device is available")
    if config.dtype != "auto":
        dtype = getattr(torch, config.dtype, None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise UsageError(f"--dtype: unknown floating-point dtype {config.dtype!r}")
        return device, dtype, False
    if device.type != "cuda":
        return device, torch.float32, False
    bf16 = torch.cuda.is_bf16_supported()
    if config.lora:
        return device, torch.bfloat16 if bf16 else torch.float32, False
    return device, torch.float32, bf16


def load_tokenizer(model_path: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(model_path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load the tokenizer of {model_path}: {exc}") from None
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise UsageError(f"the tokenizer of {model_path} has neither a pad nor an end-of-sequence token")
        tok.pad_token = tok.eos_token
    return tok


def load_model(config: TrainConfig, task: Task, device: Any, dtype: Any) -> Any:
    import torch
    import transformers

    auto, kwargs = task.model_class()
    # ``dtype`` since transformers 4.56, ``torch_dtype`` before.
    major, minor = (int(p) for p in transformers.__version__.split(".")[:2])
    kwargs["dtype" if (major, minor) >= (4, 56) else "torch_dtype"] = dtype
    try:
        model = auto.from_pretrained(config.model, **kwargs)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load model {config.model}: {exc}") from None
    model.to(device)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if config.lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ModuleNotFoundError:
            raise PrerequisiteError("--lora needs peft: pip install 'prover[ml]'") from None
        if config.gradient_checkpointing:
            model.enable_input_require_grads()
        torch.manual_seed(config.seed)  # the adapters' initial weights
        lora = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                          target_modules=list(config.lora_targets) or "all-linear", task_type=task.lora_task_type)
        model = get_peft_model(model, lora)
        local = Path(config.model)
        if local.is_dir():  # the adapter must find its base model from anywhere
            model.peft_config["default"].base_model_name_or_path = str(local.resolve())
    model.train()
    return model


def context_length(model: Any) -> int | None:
    """The model's context from its config (None when it does not say)."""
    config = unwrap(model).config
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def check_out(out: Path, config: TrainConfig, resume: bool) -> None:
    """Refuse an output folder this run may not write to (nothing is written here)."""
    saved = out / CONFIG_FILE
    if saved.is_file():
        if not resume:
            raise UsageError(f"{out} holds an earlier training run: pass --resume to continue it, or name a new --out")
        earlier = json.loads(saved.read_text(encoding="utf-8"))
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


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the lines of steps up to ``step``: a resumed run writes the rest again."""
    kept = [m for m in read_metrics(path) if m.step <= step]
    path.write_text("".join(m.model_dump_json(exclude_none=True) + "\n" for m in kept), encoding="utf-8")


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


# -- the run -------------------------------------------------------------------------------------

def run_training(config: TrainConfig, task: Task, *, resume: bool = False, stop_after: int | None = None,
                 progress: bool | None = None,
                 on_step: Callable[[StepMetrics], None] | None = None) -> TrainSummary:
    """Train ``config.model`` on ``task``'s data and write the result to ``config.out``.

    ``resume``: continue the run in ``out`` from its newest checkpoint (settings must match).
    ``stop_after``: stop (with a checkpoint) once this many optimizer steps are done in all.
    ``progress``: a progress bar on stderr (None: when stderr is a terminal). ``on_step``: called
    with each step's metrics."""
    require_ml()
    import os

    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("the training loop runs in one process: under accelerate launch or torchrun use "
                         "--trainer trl (or --method grpo)")
    started = time.perf_counter()
    out = Path(config.out)
    check_out(out, config, resume)
    device, dtype, amp = device_and_dtype(config)

    def autocast():
        if amp:
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    tokenizer = load_tokenizer(config.model)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model = load_model(config, task, device, dtype)
    task.prepare(model, tokenizer, config)
    max_length = config.max_length or context_length(model)

    examples, train_data = task.examples(config, config.split, tokenizer, max_length, required=True)
    assert train_data is not None
    if not examples:
        raise BadDataError(f"no usable training record in split {config.split!r} ({train_data.records} read, "
                           f"{train_data.too_long} longer than {max_length} tokens, {train_data.no_target} "
                           "without a target)", source=config.data)
    eval_examples: list[Any] = []
    eval_data: DataSummary | None = None
    if config.eval_split and not Path(config.data).is_file():
        eval_examples, eval_data = task.examples(config, config.eval_split, tokenizer, max_length, required=False)
    fingerprint = data_fingerprint(examples)
    epoch_plan = {0: epoch_batches(examples, config.batch_tokens, config.seed, 0)}
    train_data.micro_batches = len(epoch_plan[0])
    steps_per_epoch = math.ceil(len(epoch_plan[0]) / config.grad_accum)
    total_steps = steps_per_epoch * config.epochs

    out.mkdir(parents=True, exist_ok=True)
    if not (out / CONFIG_FILE).is_file():
        (out / CONFIG_FILE).write_text(json.dumps(config.identity(), indent=2), encoding="utf-8")
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    step, resumed_from = 0, None
    metrics_path = out / METRICS_FILE
    ckpt = latest_checkpoint(out) if resume else None
    if ckpt is not None:
        state = read_state(ckpt)
        if state.get("data") != fingerprint:
            raise UsageError(f"--resume: the training data differ from those of the checkpoint {ckpt}")
        state = load_checkpoint(ckpt, model=model, optimizer=optimizer)
        set_rng_state(state["rng"])
        step = resumed_from = int(state["step"])
        _truncate_metrics(metrics_path, step)
    elif metrics_path.exists():
        metrics_path.unlink()  # a run that never reached its first checkpoint starts over

    pad_id = tokenizer.pad_token_id
    last_saved: Path | None = ckpt
    last_eval: float | None = None
    status = "completed"
    step_rng = rng_state()

    def checkpoint(at: int, rng: dict[str, Any]) -> Path:
        epoch, within = divmod(at, steps_per_epoch)
        return save_checkpoint(out, at, model=model, optimizer=optimizer, rng=rng, keep=config.keep_checkpoints,
                               state={"epoch": epoch, "micro_batch": within * config.grad_accum,
                                      "total_steps": total_steps, "data": fingerprint,
                                      "lr_next": lr_at(at, total_steps, config) if at < total_steps else None})

    def write_metrics(m: StepMetrics) -> None:
        with open(metrics_path, "a", encoding="utf-8") as f:
            f.write(m.model_dump_json(exclude_none=True) + "\n")

    def eval_loss(at: int, epoch: int) -> None:
        nonlocal last_eval
        if not eval_examples:
            return
        loss, units = evaluation_loss(model, task, eval_examples, config, pad_id=pad_id, device=device,
                                      autocast=autocast)
        last_eval = loss
        write_metrics(StepMetrics(kind="eval", step=at, epoch=epoch, loss=loss, tokens=units,
                                  split=config.eval_split))

    try:
        with _Bar(task.name, total_steps, step, progress) as bar:
            while step < total_steps:
                if stop_after is not None and step >= stop_after:
                    status = "stopped"
                    break
                epoch, within = divmod(step, steps_per_epoch)
                if epoch not in epoch_plan:
                    epoch_plan = {epoch: epoch_batches(examples, config.batch_tokens, config.seed, epoch)}
                micro = epoch_plan[epoch][within * config.grad_accum:(within + 1) * config.grad_accum]
                tic = time.perf_counter()
                lr = lr_at(step, total_steps, config)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                units = sum(examples[i].units for b in micro for i in b)
                step_loss = 0.0
                for indices in micro:
                    batch = {k: v.to(device) for k, v in task.collate(examples, indices, pad_id).items()}
                    with autocast():
                        loss = task.loss_sum(model, batch, config) / units
                    loss.backward()
                    step_loss += float(loss.detach())
                norm = torch.nn.utils.clip_grad_norm_(
                    trainable, config.max_grad_norm if config.max_grad_norm is not None else float("inf"))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                step_rng = rng_state()  # where an interrupted next step starts again
                m = StepMetrics(step=step, epoch=epoch, loss=step_loss, tokens=units, lr=lr,
                                grad_norm=float(norm), seconds=time.perf_counter() - tic)
                write_metrics(m)
                bar.step(m)
                if on_step is not None:
                    on_step(m)
                end_of_epoch = step % steps_per_epoch == 0
                if end_of_epoch or (config.save_every and step % config.save_every == 0) or \
                        (stop_after is not None and step >= stop_after):
                    last_saved = checkpoint(step, rng_state())
                    eval_loss(step, epoch)
    except KeyboardInterrupt:
        # The step in progress is lost; its starting point (weights, moments, RNG) is kept.
        if last_saved is None or int(last_saved.name.split("-")[1]) != step:
            checkpoint(step, step_rng)
        raise

    merged = False
    output = "none"
    if status == "completed":
        output, merged = _write_output(model, tokenizer, out, config)
    metrics = read_metrics(metrics_path)
    curve = [m for m in metrics if m.kind == "train"]
    evals = [m for m in metrics if m.kind == "eval"]
    summary = TrainSummary(
        out=str(out), task=task.name, status=status, steps=step, total_steps=total_steps, resumed_from=resumed_from,
        first_loss=curve[0].loss if curve else None, last_loss=curve[-1].loss if curve else None,
        eval_loss=last_eval if last_eval is not None else (evals[-1].loss if evals else None),
        train=train_data, eval=eval_data, loss=config.loss, lora=config.lora, merged=merged, output=output,
        device=str(device), dtype=str(dtype).removeprefix("torch.") + ("+bf16-autocast" if amp else ""),
        trainable_parameters=sum(p.numel() for p in trainable),
        parameters=sum(p.numel() for p in model.parameters()),
        checkpoint=str(last_saved) if last_saved else None)
    if status == "completed":
        task.finish(model, tokenizer, config, summary, device, autocast)
    summary.seconds = time.perf_counter() - started
    (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def _write_output(model: Any, tokenizer: Any, out: Path, config: TrainConfig) -> tuple[str, bool]:
    """Save what ``from_pretrained(OUT)`` loads (``--backend hf``; vLLM for full weights)."""
    tokenizer.save_pretrained(out)
    if config.lora and config.merge:
        model.save_pretrained(out / "adapter")
        merged = model.merge_and_unload()
        merged.save_pretrained(out)
        return "model", True
    model.save_pretrained(out)
    return ("adapter" if config.lora else "model"), False
