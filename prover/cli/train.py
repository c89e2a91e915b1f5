"""``prover train``: fine-tune a verifier on the label exports, and evaluate it on held-out
proofs against the labels."""

from __future__ import annotations

import os
import sys

import click

from prover.cli.common import db_option, echo_json, open_store, print_table
from prover.cli.options import model_options


@click.group("train")
def train() -> None:
    """Train verifiers on the labeled proof database's exports."""


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}g}" if isinstance(value, float) else str(value)


_COMMON = [
    click.option("--model", required=True, help="Model to fine-tune: a local folder (or hub id)."),
    click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder."),
    click.option("--split", default="train", show_default=True, help="Split to train on."),
    click.option("--eval-split", help="Split evaluated at checkpoints ('none': none) [default: validation]."),
    click.option("--lora", is_flag=True, help="Train LoRA adapters (peft) instead of all weights."),
    click.option("--lora-r", type=click.IntRange(min=1), default=16, show_default=True, help="LoRA rank."),
    click.option("--lora-alpha", type=click.FloatRange(min=0, min_open=True), default=32.0, show_default=True,
                 help="LoRA alpha."),
    click.option("--lora-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.0, show_default=True,
                 help="LoRA dropout."),
    click.option("--lora-targets", metavar="LIST",
                 help="Modules LoRA adapts, comma list [default: all linear layers]."),
    click.option("--merge", is_flag=True, help="With --lora: write merged full weights (loadable by vLLM)."),
    click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Passes over the data."),
    click.option("--lr", type=click.FloatRange(min=0, min_open=True),
                 help="Peak learning rate [default: 1e-5, with --lora 2e-4]."),
    click.option("--weight-decay", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="AdamW weight decay."),
    click.option("--warmup-steps", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Linear warm-up steps."),
    click.option("--schedule", type=click.Choice(["cosine", "linear", "constant"]), default="cosine",
                 show_default=True, help="Learning-rate decay after warm-up."),
    click.option("--batch-tokens", type=click.IntRange(min=1), default=8192, show_default=True,
                 help="Most tokens (padding included) per micro-batch."),
    click.option("--grad-accum", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Micro-batches per optimizer step."),
    click.option("--max-length", type=click.IntRange(min=2),
                 help="Longest sequence kept [default: the model's context]."),
    click.option("--max-grad-norm", type=click.FloatRange(min=0), default=1.0, show_default=True,
                 help="Gradient clipping (0: none)."),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of data order, LoRA init and dropout."),
    click.option("--save-every", type=click.IntRange(min=0), default=0, show_default=True,
                 help="Checkpoint every N steps (0: at the end of each epoch)."),
    click.option("--keep-checkpoints", type=click.IntRange(min=1), default=2, show_default=True,
                 help="Checkpoints kept."),
    click.option("--dtype", default="auto", show_default=True,
                 help="Weight dtype: auto (float32 on CPU; bf16 mixed precision on CUDA), float32, bfloat16."),
    click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N."),
    click.option("--gradient-checkpointing", is_flag=True, help="Recompute activations: less memory, more time."),
    click.option("--resume", is_flag=True, help="Continue the run in --out from its newest checkpoint."),
    click.option("--stop-after", type=click.IntRange(min=1), metavar="N",
                 help="Stop with a checkpoint once N steps are done (continue with --resume)."),
    click.option("--progress/--no-progress", default=None, help="Progress bar [default: on a terminal]."),
    click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
]


_GRPO = [
    click.option("--generations", type=click.IntRange(min=2), default=8, show_default=True,
                 help="GRPO: completions per prompt."),
    click.option("--prompts-per-step", type=click.IntRange(min=1), default=1, show_default=True,
                 help="GRPO: prompts per micro-batch."),
    click.option("--max-completion-length", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="GRPO: most tokens per completion (a cut completion earns 0)."),
    click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
                 help="GRPO: sampling temperature."),
    click.option("--kl", type=click.FloatRange(min=0), default=0.0, show_default=True,
                 help="GRPO: KL penalty against the initial model (0: none)."),
    click.option("--max-steps", type=click.IntRange(min=1), help="GRPO: optimizer steps [default: --epochs passes]."),
    click.option("--vllm", type=click.Choice(["colocate", "server"]),
                 help="GRPO: sample with vLLM, in the training processes or from `trl vllm-serve` [default: no]."),
    click.option("--meta/--no-meta", default=False, show_default=True,
                 help="GRPO: multiply by the meta_verifier role's score of the analysis (R_meta)."),
    click.option("--templates", type=click.Path(exists=True, dir_okay=False),
                 help="TOML file replacing prompt templates (those the export used)."),
    click.option("--role", "role_values", multiple=True, metavar="ROLE.KEY=VALUE",
                 help="GRPO: settings of the verifier/meta_verifier roles that score, e.g. verifier.model=NAME."),
    db_option,
]


def _training_options(f=None, *, skip: tuple[str, ...] = ()):
    """The shared options (less those named in ``skip``, e.g. SFT-only ones on a GRPO-only command)."""
    def apply(f):
        for option in reversed(_COMMON):
            probe = option(lambda: None)
            if probe.__click_params__[0].name not in skip:
                f = option(f)
        return f
    return apply(f) if f is not None else apply


_SFT_ONLY = ("eval_split", "batch_tokens", "max_length")


def _grpo_options(f):
    for option in reversed(_GRPO):
        f = option(f)
    return f


def _run_grpo(task: str, lora_targets, max_grad_norm, resume, stop_after, progress, as_json, settings) -> None:
    """Build the settings, run GRPO through TRL, print."""
    from pydantic import ValidationError

    from prover.core.errors import UsageError
    from prover.core.train_records import GrpoSettings, TrainConfig
    from prover.llm.config import ModelFlags, load_model_config
    from prover.train.grpo import train_grpo

    grpo = {k: settings.pop(k) for k in ("generations", "prompts_per_step", "max_completion_length", "temperature",
                                         "kl", "max_steps", "meta", "vllm")}
    grpo["verifier_samples"] = settings.pop("verifier_samples", 1)
    roles, db = settings.pop("role_values"), settings.pop("db")
    for name in ("loss", "kernel_impl", "batch_tokens", "max_length"):
        settings.pop(name, None)  # SFT options; GRPO batches by prompts
    settings.pop("eval_split", None)
    try:
        config = TrainConfig(task=task, **settings, eval_split=None, grpo=GrpoSettings(**grpo),
                             lora_targets=tuple(t.strip() for t in (lora_targets or "").split(",") if t.strip()),
                             max_grad_norm=max_grad_norm or None)
    except ValidationError as exc:
        raise UsageError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None
    needs_models = task == "generator" or grpo["meta"]
    model_config = load_model_config(ModelFlags(role_overrides=tuple(roles))) if needs_models else None
    store = open_store(db) if needs_models else None
    run_id = store.start_run("grpo-train", command=["prover", *sys.argv[1:]], seed=config.seed,
                             config=config.identity()) if store is not None else None
    try:
        summary = train_grpo(config, model_config=model_config, store=store, run_id=run_id, resume=resume,
                             stop_after=stop_after, progress=progress)
    except KeyboardInterrupt:
        click.echo(f"Interrupted; continue from the last checkpoint in {config.out} with --resume.", err=True)
        click.get_current_context().exit(130)
    finally:
        if store is not None:
            store.finish_run(run_id)
            store.close()
    if os.environ.get("RANK", "0") != "0":
        return  # under accelerate launch the first process reports
    if as_json:
        echo_json(summary.model_dump(mode="json"))
        return
    print_table([(summary.steps, summary.total_steps, _fmt(summary.first_reward), _fmt(summary.last_reward),
                  _fmt(summary.last_loss), summary.device, summary.dtype,
                  f"{summary.trainable_parameters}/{summary.parameters}", f"{summary.seconds:.1f}s")],
                ["steps", "of", "first reward", "last reward", "last loss", "device", "dtype", "trainable/params",
                 "time"], title=f"train {task} grpo ({summary.status}), {summary.train.examples} prompts")
    if summary.status == "stopped":
        click.echo(f"stopped after {summary.steps} steps; continue with --resume")
    else:
        what = {"model": "merged model" if summary.merged else "model", "adapter": "LoRA adapter"}[summary.output]
        click.echo(f"{what} written to {summary.out}")


def _run(task: str, lora_targets, max_grad_norm, eval_split, resume, stop_after, progress, as_json,
         settings) -> None:
    """Build the settings, train, print: the body both training commands share."""
    from pydantic import ValidationError

    from prover.core.errors import UsageError
    from prover.core.train_records import TrainConfig
    from prover.train import train_reward_model, train_verifier

    eval_split = "validation" if eval_split is None else eval_split
    try:
        config = TrainConfig(
            task=task, **settings, eval_split=None if eval_split.lower() == "none" else eval_split,
            lora_targets=tuple(t.strip() for t in (lora_targets or "").split(",") if t.strip()),
            max_grad_norm=max_grad_norm or None)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(err["msg"].removeprefix("Value error, ")) from None
    trainer = train_verifier if task == "verifier" else train_reward_model
    try:
        summary = trainer(config, resume=resume, stop_after=stop_after, progress=progress)
    except KeyboardInterrupt:
        where = "the last finished step is checkpointed" if os.environ.get("WORLD_SIZE", "1") == "1" \
            else "the newest checkpoint is kept"
        click.echo(f"Interrupted; {where} in {config.out}: add --resume to continue.", err=True)
        click.get_current_context().exit(130)
    if os.environ.get("RANK", "0") != "0":
        return  # under accelerate launch the first process reports
    if as_json:
        echo_json(summary.model_dump(mode="json"))
        return
    d = summary.train
    click.echo(f"data: {d.examples} of {d.records} records ({d.too_long} too long, {d.no_target} without a target), "
               f"{d.target_tokens} {'target tokens' if task == 'verifier' else 'examples'}, "
               f"{d.micro_batches} micro-batches per epoch")
    print_table([(summary.steps, summary.total_steps, _fmt(summary.first_loss), _fmt(summary.last_loss),
                  _fmt(summary.eval_loss), summary.loss if task == "verifier" else "bce", summary.device,
                  summary.dtype, f"{summary.trainable_parameters}/{summary.parameters}", f"{summary.seconds:.1f}s")],
                ["steps", "of", "first loss", "last loss", "eval loss", "loss", "device", "dtype",
                 "trainable/params", "time"], title=f"train {task} ({summary.status})")
    if summary.held_out is not None:
        h = summary.held_out
        click.echo(f"held-out {config.eval_split}: {h.n} proofs, accuracy {_fmt(h.accuracy, 3)}, "
                   f"AUC {_fmt(h.auc, 3)}, kappa {_fmt(h.kappa, 3)} (probability >= 0.5 against label = 1)")
    if summary.status == "stopped":
        click.echo(f"stopped after {summary.steps} steps; checkpoint {summary.checkpoint}; continue with --resume")
    else:
        what = {"model": "merged model" if summary.merged else "model", "adapter": "LoRA adapter"}[summary.output]
        hint = f" (prover ... --backend hf --model {summary.out})" if task == "verifier" else ""
        click.echo(f"{what} written to {summary.out}{hint}")


@train.command("verifier")
@click.option("--data", required=True, type=click.Path(exists=True),
              help="An export folder, its sft (or, for grpo, pointwise) folder, or a JSONL/Parquet file.")
@click.option("--method", type=click.Choice(["sft", "grpo"]), default="sft", show_default=True,
              help="sft: learn agreeing analyses; grpo: RL with R_format·R_score·R_meta against the labels.")
@_training_options
@click.option("--loss", type=click.Choice(["fused", "plain", "liger"]), default="fused", show_default=True,
              help="SFT: fused (prover.kernels, no logits tensor), plain (the model's logits, reference) or "
                   "liger (TRL's use_liger_kernel, CUDA).")
@click.option("--kernel", "kernel_impl", type=click.Choice(["auto", "torch", "triton"]), default="auto",
              show_default=True, help="Fused-loss implementation.")
@_grpo_options
def verifier(method, lora_targets, max_grad_norm, eval_split, resume, stop_after, progress, as_json,
             **settings) -> None:
    """Train a causal-LM verifier on a label export: SFT on agreeing analyses, or GRPO.

    Example: prover train verifier --data exports/ --model Qwen/Qwen2.5-1.5B-Instruct --out runs/v1 --lora --merge
    """
    if method == "grpo":
        _run_grpo("verifier", lora_targets, max_grad_norm, resume, stop_after, progress, as_json, settings)
        return
    for name in ("generations", "prompts_per_step", "max_completion_length", "temperature", "kl", "max_steps",
                 "meta", "vllm", "templates", "role_values", "db"):
        settings.pop(name, None)
    _run("verifier", lora_targets, max_grad_norm, eval_split, resume, stop_after, progress, as_json, settings)


@train.command("meta-verifier")
@click.option("--data", required=True, type=click.Path(exists=True),
              help="Meta-verification records (problem, proof, analysis, meta_score): a folder or JSONL/Parquet file.")
@click.option("--method", type=click.Choice(["grpo"]), default="grpo", show_default=True, help="Training method.")
@_training_options(skip=_SFT_ONLY)
@_grpo_options
def meta_verifier(method, lora_targets, max_grad_norm, resume, stop_after, progress, as_json, **settings) -> None:
    """Train a meta-verifier with GRPO: R_format·R_score against the records' meta-scores.

    Example: prover train meta-verifier --data meta.jsonl --model runs/v1 --out runs/mv --max-steps 500
    """
    _run_grpo("meta-verifier", lora_targets, max_grad_norm, resume, stop_after, progress, as_json, settings)


@train.command("generator")
@click.option("--data", required=True, type=click.Path(exists=True),
              help="Problems: an export folder, its pointwise folder, or a JSONL/Parquet file of problem records.")
@click.option("--method", type=click.Choice(["grpo"]), default="grpo", show_default=True, help="Training method.")
@_training_options(skip=_SFT_ONLY)
@_grpo_options
@click.option("--verifier-samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="Verdicts per proof (R_Y is their mean).")
def generator(method, lora_targets, max_grad_norm, resume, stop_after, progress, as_json, **settings) -> None:
    """Train a proof generator with GRPO: R_format(Y, Z)·(0.76·R_Y + 0.24·R_Z), scored by the verifier role.

    Example: prover train generator --data exports/ --model runs/g0 --out runs/g1 --role verifier.model=runs/v1 --meta
    """
    _run_grpo("generator", lora_targets, max_grad_norm, resume, stop_after, progress, as_json, settings)


@train.command("reward-model")
@click.option("--data", required=True, type=click.Path(exists=True),
              help="Pointwise data: an export folder, its pointwise folder, or a JSONL/Parquet file.")
@_training_options
@click.option("--templates", type=click.Path(exists=True, dir_okay=False),
              help="TOML file replacing prompt templates (those the export used).")
def reward_model(lora_targets, max_grad_norm, eval_split, resume, stop_after, progress, as_json, **settings) -> None:
    """Train a scalar-head reward model on the pointwise labels (binary cross-entropy).

    Example: prover train reward-model --data exports/ --model Qwen/Qwen2.5-1.5B-Instruct --out runs/rm --lora --merge
    """
    _run("reward-model", lora_targets, max_grad_norm, eval_split, resume, stop_after, progress, as_json, settings)


@train.command("evaluate")
@db_option
@model_options()
@click.option("--data", type=click.Path(exists=True), help="The export trained on: its held-out split is graded.")
@click.option("--split", default="test", show_default=True, help="Held-out split.")
@click.option("--splits", metavar="NAME=PCT,...", help="Without --data: the export's split percentages.")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True, help="Verdicts per proof.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the requests and the bootstrap.")
@click.option("--templates", "templates_file", type=click.Path(dir_okay=False),
              help="TOML file replacing prompt templates (those the export used).")
@click.option("--name", help="Verifier name to store verdicts under [default: MODEL@weights-fingerprint].")
@click.option("--bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples of problems (0: no intervals).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def evaluate(db, model_flags, data, split, splits, samples, seed, templates_file, name, bootstrap, as_json) -> None:
    """Grade held-out proofs with a trained verifier and cross-check it against the labels.

    Example: prover train evaluate --data exports/ --model runs/v1 --backend hf --max-tokens 4096
    """
    from prover.cli.crosscheck import render_report
    from prover.informal.prompts import load_templates
    from prover.llm.config import load_model_config
    from prover.train import evaluate_verifier

    if model_flags.backend is None:
        model_flags = model_flags.model_copy(update={"backend": "hf"})
    model_config = load_model_config(model_flags)
    with open_store(db, create=False) as store:
        summary = evaluate_verifier(store, model_config, data=data, split=split, splits=splits, samples=samples,
                                    seed=seed, templates=load_templates(templates_file), name=name,
                                    bootstrap=bootstrap, command=["prover", *sys.argv[1:]])
    if as_json:
        echo_json({**summary.model_dump(mode="json", exclude={"reports"}),
                   "reports": [r.to_json_dict() for r in summary.reports]})
        return
    unparsed = ", ".join(f"{k} {v}" for k, v in summary.unparsed.items()) or "none"
    click.echo(f"verifier {summary.verifier}: {summary.proofs} {summary.split} proofs, {summary.calls} calls, "
               f"{summary.parsed} parsed verdicts (unparsed: {unparsed}; errors: {summary.errors}); "
               f"run {summary.run_id}")
    for note in summary.notes:
        click.echo(note)
    for report in summary.reports:
        click.echo("")
        click.echo(render_report(report))
