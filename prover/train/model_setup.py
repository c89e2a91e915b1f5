"""What every training run of ``prover train`` sets up the same way: torch and transformers
present, the device and the weights' dtype, the tokenizer, and the model (optionally wrapped in
LoRA adapters through peft)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prover.core.errors import PrerequisiteError, UsageError
from prover.core.train_records import TrainConfig


def require_ml() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ModuleNotFoundError as exc:
        raise PrerequisiteError(f"training needs {exc.name}: pip install 'prover[ml]'") from None


def unwrap(model: Any) -> Any:
    """The transformers model inside a peft wrapper (the model itself otherwise)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


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


def load_model(config: TrainConfig, task: Any, device: Any, dtype: Any) -> Any:
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
