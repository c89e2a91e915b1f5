"""Records of verifier training (``prover train verifier``) and of its evaluation on held-out
proofs (``prover train evaluate``): the settings of a run, one line of its metrics, what a run
and an evaluation report."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prover.core.crosscheck_records import CrossCheckMetrics, CrossCheckReport

_FROZEN = ConfigDict(frozen=True, extra="forbid")

#: Learning rates used when none is given: full fine-tuning moves every weight, LoRA only the
#: small adapters, which take (and need) a much larger step.
DEFAULT_LR_FULL = 1e-5
DEFAULT_LR_LORA = 2e-4


class GrpoSettings(BaseModel):
    """The GRPO part of a run's settings (TRL's ``GRPOConfig`` gets them)."""

    model_config = _FROZEN

    generations: int = Field(8, ge=2)
    """Completions sampled per prompt (the group whose rewards are compared)."""
    prompts_per_step: int = Field(1, ge=1)
    """Prompts per micro-batch (each with its ``generations`` completions)."""
    max_completion_length: int = Field(1024, ge=1)
    """Tokens a completion may have; a completion cut there is truncated (reward 0)."""
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature of the completions."""
    kl: float = Field(0.0, ge=0)
    """Weight of the KL penalty against the initial model (TRL's ``beta``; 0: no reference model)."""
    max_steps: int | None = Field(None, ge=1)
    """Optimizer steps in all (None: ``epochs`` passes over the prompts)."""
    meta: bool = False
    """Verifier and generator: multiply by the meta-verifier's score (``R_meta``), the
    ``meta_verifier`` role of the model settings."""
    verifier_samples: int = Field(1, ge=1)
    """Generator: verdicts per proof; ``R_Y`` is the mean of the parsed ones."""
    vllm: Literal["colocate", "server"] | None = None
    """Sample the completions with vLLM (TRL's ``use_vllm``): ``colocate`` in the training
    processes, ``server`` from ``trl vllm-serve``; None: transformers' ``generate``."""


class TrainConfig(BaseModel):
    """The settings of one training run. Everything here decides the weights it produces, so a
    resumed run must have the same settings (``resume`` and ``stop_after`` are not settings)."""

    model_config = _FROZEN

    task: Literal["verifier", "reward-model", "meta-verifier", "generator"] = "verifier"
    """``verifier``: a causal LM learns the agreeing analyses of the ``sft`` dataset (or, with
    ``grpo``, to grade the proofs of the ``pointwise`` dataset); ``reward-model``: a scalar head
    learns the labels of the ``pointwise`` dataset; ``meta-verifier`` and ``generator``: GRPO
    only (meta-verification records; problems)."""
    data: str
    """The data: an export folder (``prover labels export --out``), its ``sft`` (or
    ``pointwise``) folder, or one JSONL/Parquet file of such records."""
    model: str
    """The model to fine-tune: a local directory (or a hub id where downloads are allowed)."""
    out: str
    """Output folder: the trained model, ``metrics.jsonl``, ``checkpoints/``, ``summary.json``."""
    split: str = "train"
    """The split trained on (ignored when ``data`` is a single file)."""
    eval_split: str | None = "validation"
    """The split whose loss is measured at each checkpoint; None, or a split the export lacks:
    no evaluation loss."""
    loss: Literal["fused", "plain", "liger"] = "fused"
    """``fused``: hidden states through ``prover.kernels.fused_linear_cross_entropy`` (no logits
    tensor); ``plain``: the model's own logits and ``cross_entropy`` (the reference); ``liger``:
    the trainer's Liger kernels (CUDA, ``pip install liger-kernel``)."""
    kernel_impl: Literal["auto", "torch", "triton"] = "auto"
    """The fused kernel's implementation (``auto``: Triton on CUDA, PyTorch otherwise)."""
    lora: bool = False
    """Train LoRA adapters (peft) instead of every weight."""
    lora_r: int = Field(16, ge=1)
    """LoRA rank."""
    lora_alpha: float = Field(32.0, gt=0)
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    """Dropout on the LoRA input."""
    lora_targets: tuple[str, ...] = ()
    """Module names LoRA adapts; empty: every linear layer but the output head."""
    merge: bool = False
    """With LoRA: merge the adapters into full weights in the output folder (loadable by vLLM);
    without it the output holds the adapter and the base model's path."""
    epochs: int = Field(1, ge=1)
    """Passes over the training split."""
    lr: float | None = Field(None, gt=0)
    """Peak learning rate (None: 1e-5, or 2e-4 with LoRA)."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay."""
    warmup_steps: int = Field(0, ge=0)
    """Optimizer steps of linear warm-up."""
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    """Learning-rate decay after warm-up (to 0 at the last step, except ``constant``)."""
    batch_tokens: int = Field(8192, ge=1)
    """Most tokens (padding included) in one micro-batch; a longer sequence is a batch alone."""
    grad_accum: int = Field(1, ge=1)
    """Micro-batches per optimizer step."""
    max_length: int | None = Field(None, ge=2)
    """Longest sequence kept (None: the model's context); longer records are left out and counted."""
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Gradient clipping (None: none)."""
    seed: int = 0
    """Seeds the data order, the weights LoRA adds and dropout."""
    save_every: int = Field(0, ge=0)
    """A checkpoint every N optimizer steps (0: only at the end of each epoch)."""
    keep_checkpoints: int = Field(2, ge=1)
    """Checkpoints kept (the oldest are deleted)."""
    dtype: str = "auto"
    """Weight dtype: ``auto`` (float32 on CPU, bfloat16 on CUDA), ``float32``, ``bfloat16``, ..."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``, ..."""
    gradient_checkpointing: bool = False
    """Recompute activations in backward (less memory, about a third more compute)."""
    templates: str | None = None
    """Reward model: a TOML file of prompt templates (those the export used); the reward model
    reads the verification prompt of each proof. The SFT records carry their own prompts."""

    grpo: GrpoSettings | None = None
    """Reinforcement learning with DeepSeekMath-V2's rewards through TRL's GRPO (None: supervised
    fine-tuning through the transformers ``Trainer``, ``prover.train.trainer``)."""

    @model_validator(mode="after")
    def _lora_only_options(self) -> TrainConfig:
        if self.merge and not self.lora:
            raise ValueError("merge needs lora (full fine-tuning already writes full weights)")
        if self.task in ("meta-verifier", "generator") and self.grpo is None:
            raise ValueError(f"{self.task} is trained with --method grpo only")
        if self.task == "reward-model" and self.grpo is not None:
            raise ValueError("a reward model is trained with its binary loss, not grpo")
        return self

    @property
    def method(self) -> str:
        return "sft" if self.grpo is None else "grpo"

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return DEFAULT_LR_LORA if self.lora else DEFAULT_LR_FULL

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share (paths as given; ``out`` is where it is)."""
        return self.model_dump(mode="json", exclude={"out"})


class StepMetrics(BaseModel):
    """One line of ``metrics.jsonl``: an optimizer step (``kind = train``) or a loss on the
    evaluation split (``kind = eval``)."""

    model_config = _FROZEN

    kind: Literal["train", "eval"] = "train"
    step: int
    """Optimizer steps done (1 after the first)."""
    epoch: int
    """The epoch of the step (0-based)."""
    loss: float
    """Mean cross-entropy per target token over the step (or over the evaluation split)."""
    tokens: int
    """Target (assistant) tokens the loss was taken over."""
    lr: float | None = None
    """Learning rate of the step."""
    grad_norm: float | None = None
    """Gradient norm before clipping."""
    seconds: float | None = None
    """Wall time of the step."""
    split: str | None = None
    """For ``eval``: the split."""
    reward: float | None = None
    """GRPO: the mean reward of the step's completions."""
    reward_std: float | None = None
    """GRPO: the standard deviation of those rewards."""


class DataSummary(BaseModel):
    """What the training data gave."""

    records: int = 0
    """Chat records read."""
    examples: int = 0
    """Records kept as training sequences."""
    too_long: int = 0
    """Records left out: longer than ``max_length`` tokens."""
    no_target: int = 0
    """Records left out: no assistant turn to learn, or nothing of it left after the prompt."""
    target_tokens: int = 0
    """Assistant tokens the loss is taken over (per epoch)."""
    micro_batches: int = 0
    """Micro-batches per epoch."""


class TrainSummary(BaseModel):
    """What ``prover train verifier`` (or ``reward-model``) did (also ``OUT/summary.json``)."""

    out: str
    task: str = "verifier"
    method: str = "sft"
    """``sft`` or ``grpo``."""
    status: Literal["completed", "stopped"] = "completed"
    """``stopped``: ended early at ``stop_after`` (continue with ``--resume``)."""
    steps: int = 0
    """Optimizer steps done in all (resumed ones included)."""
    total_steps: int = 0
    """Optimizer steps of the whole run."""
    resumed_from: int | None = None
    """The step of the checkpoint this invocation resumed from."""
    first_loss: float | None = None
    """Loss of step 1 (from the metrics file)."""
    last_loss: float | None = None
    """Loss of the last step."""
    eval_loss: float | None = None
    """Last loss on the evaluation split."""
    first_reward: float | None = None
    """GRPO: the mean reward of step 1."""
    last_reward: float | None = None
    """GRPO: the mean reward of the last step."""
    train: DataSummary = Field(default_factory=DataSummary)
    eval: DataSummary | None = None
    loss: str = "fused"
    lora: bool = False
    merged: bool = False
    """The output holds full weights made by merging the LoRA adapters."""
    output: Literal["model", "adapter", "none"] = "model"
    """What the output folder holds: full weights, a LoRA adapter, or nothing yet (stopped)."""
    device: str = ""
    dtype: str = ""
    trainable_parameters: int = 0
    parameters: int = 0
    checkpoint: str | None = None
    """The newest checkpoint."""
    seconds: float = 0.0
    """Wall time of this invocation."""
    held_out: CrossCheckMetrics | None = None
    """Reward model: its probabilities (pass at 0.5) against the labels (pass at 1) of the
    evaluation split."""


class EvalSummary(BaseModel):
    """What ``prover train evaluate`` did: verdicts of a trained verifier on held-out proofs, and
    the cross-checks of its scores against the labels (formal labels first)."""

    run_id: int | None = None
    verifier: str
    """The verifier model name its verdicts are stored under (``verifier:NAME`` in crosscheck)."""
    split: str
    proofs: int = 0
    """Held-out proofs graded."""
    calls: int = 0
    """Verifier calls (answers from the call cache included)."""
    parsed: int = 0
    """Verdicts with a score."""
    unparsed: dict[str, int] = Field(default_factory=dict)
    """Verdicts without a score, by parse status."""
    errors: int = 0
    """Calls that failed."""
    reports: list[CrossCheckReport] = Field(default_factory=list)
    """``lean`` against the verifier (formal labels), then ``label`` against the verifier."""
    notes: list[str] = Field(default_factory=list)
