"""``prover train verifier``: supervised fine-tuning of a causal language model on the SFT
export (prompt: the verification prompt; target: an analysis whose score agrees with the label).

The loss is the cross-entropy of the assistant tokens. With ``loss = fused`` the model's body
gives hidden states, and ``prover.kernels.fused_linear_cross_entropy`` takes them through the
output head's weight without ever holding the ``[tokens, vocabulary]`` logits — only the target
positions go in, shifted by one here (the kernel does not shift). ``loss = plain`` is the
reference: the model's own logits and ``cross_entropy``. Both sum over the target tokens of a
micro-batch and divide by the target tokens of the whole optimizer step, so gradient
accumulation gives the gradient of one large batch.

Output folder::

    OUT/config.json, model.safetensors, tokenizer files   the trained model (or, with --lora and
                                                          no --merge, adapter_config.json and the
                                                          adapter weights)
    OUT/metrics.jsonl                                     one line per step and per eval loss
    OUT/checkpoints/step-NNNNNNNN/                        see checkpoint.py
    OUT/train_config.json, OUT/summary.json

``resume`` continues from the newest checkpoint exactly: same weights, optimizer moments, RNG,
step and data position, so the loss curve is the one an uninterrupted run draws."""

from __future__ import annotations

import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

from prover.core.errors import BadDataError, PrerequisiteError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.checkpoint import (latest_checkpoint, load_checkpoint, read_state, rng_state, save_checkpoint,
                                     set_rng_state)
from prover.train.data import (IGNORE_INDEX, Example, build_examples, collate, data_fingerprint, epoch_batches,
                               load_sft, sft_file)

CONFIG_FILE = "train_config.json"
METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
# Settings of models whose logits are more than ``hidden @ head.T``: the fused loss would
# silently train another function than the one the model computes.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_multiplier_scale")


def _require_ml() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ModuleNotFoundError as exc:
        raise PrerequisiteError(f"training needs {exc.name}: pip install 'prover[ml]'") from None


# -- the loss ------------------------------------------------------------------------------------

def causal_lm(model: Any) -> Any:
    """The ``...ForCausalLM`` inside a peft wrapper (the model itself otherwise)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


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
    ``labels[i + 1]``."""
    import torch
    import torch.nn.functional as F

    targets = batch["labels"][:, 1:]
    if kind == "plain":
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, :-1]
        return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1),
                               ignore_index=IGNORE_INDEX, reduction="sum")
    from prover.kernels import fused_linear_cross_entropy

    lm = causal_lm(model)
    body = lm.base_model  # the decoder stack (``model.model`` for Llama, Qwen2, ...)
    hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  use_cache=False).last_hidden_state[:, :-1]
    keep = targets != IGNORE_INDEX
    weight = lm.get_output_embeddings().weight
    # Only target positions reach the head; the kernel runs outside autocast, in the head's dtype.
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        return fused_linear_cross_entropy(hidden[keep].to(weight.dtype), weight, targets[keep],
                                          ignore_index=IGNORE_INDEX, reduction="sum", impl=impl)


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

    def __init__(self, total: int, done: int, enabled: bool | None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total, self.done = total, done
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                                      console=Console(stderr=True))
            self._progress.start()
            self._task = self._progress.add_task("train", total=self.total, completed=self.done, info="")
        return self

    def step(self, m: StepMetrics) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, info=f"loss {m.loss:.4f} lr {m.lr:.2e}")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


# -- setup -------------------------------------------------------------------------------------

def _device_and_dtype(config: TrainConfig) -> tuple[Any, Any, bool]:
    """(device, weight dtype, bf16 autocast?). ``auto`` on CUDA: float32 weights under bf16
    autocast for full fine-tuning (pure bf16 weights would swallow small updates), bf16 frozen
    weights for LoRA (whose adapters peft keeps in float32)."""
    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
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


def _load_tokenizer(model_path: str) -> Any:
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


def _load_model(config: TrainConfig, device: Any, dtype: Any) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    from prover.llm.hf_backend import _dtype_kwarg

    try:
        model = AutoModelForCausalLM.from_pretrained(config.model, **{_dtype_kwarg(): dtype})
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
                          target_modules=list(config.lora_targets) or "all-linear", task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
        local = Path(config.model)
        if local.is_dir():  # the adapter must find its base model from anywhere
            model.peft_config["default"].base_model_name_or_path = str(local.resolve())
    model.train()
    return model


def _context_length(model: Any) -> int | None:
    from prover.llm.hf_backend import _context_length as context

    return context(causal_lm(model).config)


def _check_out(out: Path, config: TrainConfig, resume: bool) -> None:
    """Refuse an output folder this run may not write to (nothing is written here)."""
    saved = out / CONFIG_FILE
    if saved.is_file():
        if not resume:
            raise UsageError(f"{out} holds an earlier training run: pass --resume to continue it, or name a new --out")
        earlier = json.loads(saved.read_text(encoding="utf-8"))
        now = config.identity()
        changed = sorted(k for k in set(earlier) | set(now) if earlier.get(k) != now.get(k))
        if changed:
            raise UsageError(f"--resume: settings differ from the run in {out}: "
                             + ", ".join(f"{k} ({earlier.get(k)!r} -> {now.get(k)!r})" for k in changed))
        return
    if out.is_file():
        raise UsageError(f"--out {out} is a file")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"--out {out} exists and is not empty (and holds no training run to resume)")


def _read_metrics(path: Path) -> list[StepMetrics]:
    if not path.is_file():
        return []
    return [StepMetrics.model_validate_json(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _truncate_metrics(path: Path, step: int) -> None:
    """Keep the lines of steps up to ``step``: a resumed run writes the rest again."""
    kept = [m for m in _read_metrics(path) if m.step <= step]
    path.write_text("".join(m.model_dump_json(exclude_none=True) + "\n" for m in kept), encoding="utf-8")


def evaluation_loss(model: Any, examples: list[Example], *, batch_tokens: int, pad_id: int, device: Any,
                    kind: str, impl: str, autocast: Callable[[], Any]) -> tuple[float, int]:
    """Mean loss per target token over ``examples`` (no gradients)."""
    import torch

    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    try:
        with torch.no_grad():
            for indices in epoch_batches(examples, batch_tokens, seed=0, epoch=0):
                batch = {k: v.to(device) for k, v in collate(examples, indices, pad_id).items()}
                with autocast():
                    total += float(loss_sum(model, batch, kind, impl=impl))
                tokens += sum(examples[i].target_tokens for i in indices)
    finally:
        model.train(was_training)
    return total / max(tokens, 1), tokens


# -- the run -------------------------------------------------------------------------------------

def train_verifier(config: TrainConfig, *, resume: bool = False, stop_after: int | None = None,
                   progress: bool | None = None,
                   on_step: Callable[[StepMetrics], None] | None = None) -> TrainSummary:
    """Fine-tune ``config.model`` on the SFT data and write the trained model to ``config.out``.

    ``resume``: continue the run in ``out`` from its newest checkpoint (settings must match).
    ``stop_after``: stop (with a checkpoint) once this many optimizer steps are done in all.
    ``progress``: a progress bar on stderr (None: when stderr is a terminal). ``on_step``: called
    with each step's metrics."""
    _require_ml()
    import torch

    started = time.perf_counter()
    out = Path(config.out)
    _check_out(out, config, resume)
    device, dtype, amp = _device_and_dtype(config)

    def autocast():
        if amp:
            return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    tokenizer = _load_tokenizer(config.model)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model = _load_model(config, device, dtype)
    if config.loss == "fused":
        check_fused_supported(model)
    max_length = config.max_length or _context_length(model)

    records, path = load_sft(config.data, config.split)
    examples, train_data = build_examples(records, tokenizer, max_length, where=str(path))
    if not examples:
        raise BadDataError(f"no usable training record ({train_data.records} read, {train_data.too_long} longer "
                           f"than {max_length} tokens, {train_data.no_target} without an assistant answer)",
                           source=str(path))
    eval_examples: list[Example] = []
    eval_data: DataSummary | None = None
    if config.eval_split and not Path(config.data).is_file():
        eval_path = sft_file(config.data, config.eval_split)
        if eval_path is not None:
            eval_examples, eval_data = build_examples(load_sft(config.data, config.eval_split)[0], tokenizer,
                                                      max_length, where=str(eval_path))
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
    impl = config.kernel_impl
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
        loss, tokens = evaluation_loss(model, eval_examples, batch_tokens=config.batch_tokens, pad_id=pad_id,
                                       device=device, kind=config.loss, impl=impl, autocast=autocast)
        last_eval = loss
        write_metrics(StepMetrics(kind="eval", step=at, epoch=epoch, loss=loss, tokens=tokens,
                                  split=config.eval_split))

    try:
        with _Bar(total_steps, step, progress) as bar:
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
                tokens = sum(examples[i].target_tokens for b in micro for i in b)
                step_loss = 0.0
                for indices in micro:
                    batch = {k: v.to(device) for k, v in collate(examples, indices, pad_id).items()}
                    with autocast():
                        loss = loss_sum(model, batch, config.loss, impl=impl) / tokens
                    loss.backward()
                    step_loss += float(loss.detach())
                norm = torch.nn.utils.clip_grad_norm_(
                    trainable, config.max_grad_norm if config.max_grad_norm is not None else float("inf"))
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                step_rng = rng_state()  # where an interrupted next step starts again
                m = StepMetrics(step=step, epoch=epoch, loss=step_loss, tokens=tokens, lr=lr,
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
    curve = [m for m in _read_metrics(metrics_path) if m.kind == "train"]
    evals = [m for m in _read_metrics(metrics_path) if m.kind == "eval"]
    summary = TrainSummary(
        out=str(out), status=status, steps=step, total_steps=total_steps, resumed_from=resumed_from,
        first_loss=curve[0].loss if curve else None, last_loss=curve[-1].loss if curve else None,
        eval_loss=last_eval if last_eval is not None else (evals[-1].loss if evals else None),
        train=train_data, eval=eval_data, loss=config.loss, lora=config.lora, merged=merged, output=output,
        device=str(device), dtype=str(dtype).removeprefix("torch.") + ("+bf16-autocast" if amp else ""),
        trainable_parameters=sum(p.numel() for p in trainable),
        parameters=sum(p.numel() for p in model.parameters()),
        checkpoint=str(last_saved) if last_saved else None, seconds=time.perf_counter() - started)
    (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary


def _write_output(model: Any, tokenizer: Any, out: Path, config: TrainConfig) -> tuple[str, bool]:
    """Save what ``--backend hf --model OUT`` (and vLLM, for full weights) loads."""
    tokenizer.save_pretrained(out)
    if config.lora and config.merge:
        model.save_pretrained(out / "adapter")
        merged = model.merge_and_unload()
        merged.save_pretrained(out)
        return "model", True
    model.save_pretrained(out)
    return ("adapter" if config.lora else "model"), False
