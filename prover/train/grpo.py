"""``prover train verifier|meta-verifier|generator --method grpo``: reinforcement learning with
DeepSeekMath-V2's rewards (``rl_rewards.py``) through TRL's ``GRPOTrainer``.

Prompts (chat, one user turn, the informal engine's templates — pass those the export used):

* ``verifier``: the verification prompt of each proof of the ``pointwise`` dataset; its label is
  chosen by :data:`~prover.train.rl_rewards.RL_PRECEDENCE` (formal, human, informal) among the
  labels of that proof — the export's ``labels`` column lists every source's, so the export's own
  precedence (human first by default) does not decide here — or among several records of it;
* ``meta-verifier``: the meta-verification prompt of (problem, proof, analysis) records, with the
  rating the meta-verifier should give (``meta_score``) — the ``meta`` dataset that ``prover
  labels export`` writes, or a JSONL/Parquet file;
* ``generator``: the generation prompt of each distinct problem (``problem`` of the pointwise
  records, or ``statement``).

The verifier and meta-verifier that score the generator's proofs (and the meta-verifier of the
verifier's ``R_meta``) are the ``verifier`` and ``meta_verifier`` roles of the model settings,
called through :class:`prover.llm.ModelClient` — any backend, a vLLM server in practice — and
with a store their calls are stored and answered from the call cache like any other.

The run writes what ``train verifier`` writes: ``OUT/`` the model (or adapter; ``--merge``),
``metrics.jsonl`` (with the mean reward of each step), ``train_config.json``, ``summary.json``;
checkpoints are TRL's (``OUT/checkpoints/checkpoint-N``), and ``--resume`` continues from the
newest one, refusing changed settings or prompts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from prover.core.errors import BadDataError, PrerequisiteError, UsageError
from prover.core.train_records import DataSummary, StepMetrics, TrainConfig, TrainSummary
from prover.train.data import load_sft
from prover.train.rl_rewards import (Reward, choose_label, generator_format, generator_reward, meta_verifier_reward,
                                     verifier_reward, verifier_score)
from prover.train.trainer import CHECKPOINTS, keep_metrics, newest_checkpoint

if TYPE_CHECKING:
    from prover.store import ProofStore


DATASETS = {"verifier": "pointwise", "generator": "pointwise", "meta-verifier": "meta"}
FINGERPRINT_FILE = "grpo_data.sha256"
RewardFunc = Callable[..., list[float]]


# -- prompts -----------------------------------------------------------------------------------

def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def prompt_rows(task: str, records: Sequence[Mapping[str, Any]], templates: Any, where: str = "data"
                ) -> list[dict[str, Any]]:
    """The dataset rows of a task: ``prompt`` (chat messages) and the columns its reward reads."""
    rows: list[dict[str, Any]] = []
    if task == "verifier":
        by_proof: dict[Any, dict[str, Any]] = {}
        labels: dict[Any, dict[str, float]] = defaultdict(dict)
        for i, rec in enumerate(records):
            try:
                key = rec.get("proof_id") if rec.get("proof_id") is not None else (rec["problem"], rec["proof"])
                by_proof.setdefault(key, {"problem": str(rec["problem"] or ""), "proof": str(rec["proof"] or "")})
                given = rec.get("labels")
                if isinstance(given, str):
                    given = json.loads(given)
                if isinstance(given, dict):
                    labels[key].update({k: float(v) for k, v in given.items() if v is not None})
                if rec.get("label") is not None:
                    labels[key].setdefault(str(rec.get("source") or "informal"), float(rec["label"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise BadDataError(f"a pointwise record needs problem, proof and a label ({exc})", source=where,
                                   line=i + 1) from None
        for key, texts in by_proof.items():
            chosen = choose_label(labels[key])
            if chosen is None:
                continue
            rows.append({"prompt": _user(templates.verification(texts["problem"], texts["proof"])), **texts,
                         "label": chosen[1], "label_source": chosen[0]})
    elif task == "meta-verifier":
        for i, rec in enumerate(records):
            try:
                problem, proof, analysis = (str(rec[k] or "") for k in ("problem", "proof", "analysis"))
                score = float(rec["meta_score"] if rec.get("meta_score") is not None else rec["label"])
            except (KeyError, TypeError, ValueError) as exc:
                raise BadDataError(f"a meta-verification record needs problem, proof, analysis and meta_score ({exc})",
                                   source=where, line=i + 1) from None
            rows.append({"prompt": _user(templates.meta_verification(problem, proof, analysis)),
                         "meta_label": score})
    elif task == "generator":
        seen: set[str] = set()
        for i, rec in enumerate(records):
            problem = rec.get("problem") if rec.get("problem") is not None else rec.get("statement")
            if not isinstance(problem, str) or not problem.strip():
                raise BadDataError("a generator record needs a problem (or statement)", source=where, line=i + 1)
            if problem not in seen:
                seen.add(problem)
                rows.append({"prompt": _user(templates.generation(problem)), "problem": problem})
    else:
        raise UsageError(f"no GRPO task {task!r}")
    return rows


def rows_fingerprint(rows: Sequence[Mapping[str, Any]]) -> str:
    """A hash of the prompt rows, in order: a resumed run must see the same prompts."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps(r, sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


# -- the model layer, from TRL's synchronous reward calls ----------------------------------------

class RoleScorer:
    """Verifier and meta-verifier scores through :class:`prover.llm.ModelClient`, on an event
    loop of its own (TRL calls rewards synchronously). Request seeds derive from (seed, role,
    call number, index), so a rerun builds the same requests and the call cache answers them."""

    def __init__(self, model_config: Any, templates: Any, *, store: ProofStore | None = None, run_id: int | None = None,
                 backends: Mapping[str, Any] | None = None, seed: int = 0, verifier_samples: int = 1):
        from prover.llm import ModelClient

        self.templates, self.seed, self.samples = templates, seed, verifier_samples
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="grpo-scorer", daemon=True)
        self._thread.start()
        self.client = ModelClient(model_config, store=store, run_id=run_id, backends=backends)
        self.batches = 0

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    async def _ask(self, role: str, prompts: Sequence[str], n: int) -> list[list[Any]]:
        from prover.core.llm_records import ChatMessage, ModelRequest, SamplingParams
        from prover.informal.seeds import derive_seed

        reqs = [ModelRequest(role=role, messages=(ChatMessage(role="user", content=p),),
                             params=SamplingParams(n=n, seed=derive_seed(self.seed, "grpo", role, self.batches, i)))
                for i, p in enumerate(prompts)]
        return await self.client.generate(reqs)

    def verify(self, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
        """The mean parsed verdict of each (problem, proof) (None: no parsed verdict)."""
        self.batches += 1
        results = self._run(self._ask("verifier", [self.templates.verification(p, q) for p, q in pairs],
                                      self.samples))
        out: list[float | None] = []
        for samples in results:
            scores = [verifier_score(r.text, truncated=r.truncated) for r in samples if r.status != "error"]
            parsed = [s for s in scores if s is not None]
            out.append(sum(parsed) / len(parsed) if parsed else None)
        return out

    def meta(self, triples: Sequence[tuple[str, str, str]]) -> list[float | None]:
        """The meta-verifier's rating of each (problem, proof, analysis) (None: unparsed)."""
        from prover.train.rl_rewards import meta_score

        self.batches += 1
        results = self._run(self._ask("meta_verifier", [self.templates.meta_verification(*t) for t in triples], 1))
        return [meta_score(r[0].text, truncated=r[0].truncated) if r[0].status != "error" else None
                for r in results]

    def close(self) -> None:
        self._run(self.client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()


# -- reward functions TRL calls --------------------------------------------------------------------

def completion_text(completion: Any) -> str:
    """A TRL completion (text, or chat messages) as text."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))


def _truncated(completion_ids: Sequence[Sequence[int]] | None, i: int, limit: int, eos: int | None) -> bool:
    if not completion_ids:
        return False
    ids = completion_ids[i]
    return len(ids) >= limit and (eos is None or not ids or ids[-1] != eos)


def make_reward(task: str, *, scorer: RoleScorer | None = None, meta: bool = False, limit: int = 1 << 30,
                eos: int | None = None, log: Callable[[list[Reward]], None] | None = None) -> RewardFunc:
    """The reward function of ``task`` in TRL's shape (``prompts``, ``completions``, dataset
    columns as keyword lists) → one float per completion. ``scorer`` answers the verifier and
    meta-verifier calls (the generator always needs one; the verifier when ``meta``)."""
    if (task == "generator" or meta) and scorer is None:
        raise UsageError("the generator's reward, and R_meta, need the verifier/meta-verifier roles: no scorer given")

    def reward(prompts: Sequence[Any], completions: Sequence[Any], completion_ids: Any = None,
               **columns: Any) -> list[float]:
        texts = [completion_text(c) for c in completions]
        cut = [_truncated(completion_ids, i, limit, eos) for i in range(len(texts))]
        if task == "verifier":
            metas: list[float | None] = [None] * len(texts)
            if meta:
                todo = [i for i, t in enumerate(texts) if verifier_score(t, truncated=cut[i]) is not None]
                got = scorer.meta([(columns["problem"][i], columns["proof"][i], texts[i]) for i in todo]) \
                    if todo else []
                for i, m in zip(todo, got):
                    metas[i] = m
            rewards = [verifier_reward(t, float(columns["label"][i]), meta=metas[i], meta_used=meta,
                                       truncated=cut[i]) for i, t in enumerate(texts)]
        elif task == "meta-verifier":
            rewards = [meta_verifier_reward(t, float(columns["meta_label"][i]), truncated=cut[i])
                       for i, t in enumerate(texts)]
        elif task == "generator":
            from prover.informal.parsers import parse_generation

            parsed = [parse_generation(t, truncated=cut[i]) for i, t in enumerate(texts)]
            # Only proofs whose output is in format are worth a verifier call: the others earn 0.
            todo = [i for i, t in enumerate(texts) if generator_format(t, truncated=cut[i])[0] == 1.0]
            scores: list[float | None] = [None] * len(texts)
            metas = [None] * len(texts)
            if todo:
                for i, s in zip(todo, scorer.verify([(columns["problem"][i], parsed[i].proof) for i in todo])):
                    scores[i] = s
                if meta:
                    for i, m in zip(todo, scorer.meta([(columns["problem"][i], parsed[i].proof,
                                                        parsed[i].self_evaluation or "") for i in todo])):
                        metas[i] = m
            rewards = [generator_reward(t, scores[i], meta=metas[i], meta_used=meta, truncated=cut[i])
                       for i, t in enumerate(texts)]
        else:
            raise UsageError(f"no GRPO task {task!r}")
        if log is not None:
            log(rewards)
        return [r.total for r in rewards]

    reward.__name__ = f"{task.replace('-', '_')}_reward"
    return reward


# -- the run -----------------------------------------------------------------------------------------

def check_scoring_roles(config: TrainConfig, model_config: Any, backends: Mapping[str, Any] | None) -> None:
    """Refuse, before any model loads, a run whose reward needs a role that names no model."""
    g = config.grpo
    assert g is not None
    roles = (["verifier"] if config.task == "generator" else []) + (["meta_verifier"] if g.meta else [])
    if config.task == "meta-verifier" and g.meta:
        raise UsageError("--meta applies to the verifier and the generator (R_meta), not to the meta-verifier")
    for role in roles:
        if role in (backends or {}):
            continue
        s = model_config.role(role)
        if not s.model and s.backend != "scripted":
            raise UsageError(f"the reward needs the {role} role: name its model, e.g. --role {role}.model=NAME "
                             f"--role {role}.backend=vllm (or [roles.{role}] in prover.toml)")


def _require_trl() -> None:
    try:
        import trl  # noqa: F401
    except ModuleNotFoundError:
        raise PrerequisiteError("--method grpo needs TRL: pip install 'prover[rl]'") from None


def load_rows(config: TrainConfig, templates: Any) -> tuple[list[dict[str, Any]], DataSummary]:
    """The prompt rows of the training split, and what the data gave."""
    records, path = load_sft(config.data, config.split, DATASETS[config.task])
    rows = prompt_rows(config.task, records, templates, where=str(path))
    return rows, DataSummary(records=len(records), examples=len(rows))


def epoch_order(rows: Sequence[dict[str, Any]], config: TrainConfig, world_size: int = 1) -> list[dict[str, Any]]:
    """The prompts of the whole run in the order they are used: each epoch a permutation drawn
    from (seed, epoch), epochs one after the other (enough of them for ``max_steps``). TRL gets
    them unshuffled, so the order is a function of the position alone and a resumed run uses the
    prompts the uninterrupted one would have (TRL's own shuffle restarts at a resume)."""
    import random

    g = config.grpo
    assert g is not None
    epochs = config.epochs
    if g.max_steps is not None:
        epochs = math.ceil(g.max_steps * g.prompts_per_step * config.grad_accum * world_size / len(rows))
    out: list[dict[str, Any]] = []
    for epoch in range(epochs):
        order = list(range(len(rows)))
        random.Random(f"prover-grpo-order:{config.seed}:{epoch}").shuffle(order)
        out.extend(rows[i] for i in order)
    return out


def steps_per_epoch(rows: int, config: TrainConfig, world_size: int = 1) -> int:
    g = config.grpo
    assert g is not None
    return max(1, rows // (g.prompts_per_step * config.grad_accum * world_size))


def _grpo_args(config: TrainConfig, out: Path, device: str, amp: bool, progress: bool, epoch_steps: int) -> Any:
    from trl import GRPOConfig

    g = config.grpo
    assert g is not None
    return GRPOConfig(
        output_dir=str(out / CHECKPOINTS), learning_rate=config.learning_rate, weight_decay=config.weight_decay,
        warmup_steps=config.warmup_steps, lr_scheduler_type=config.schedule,
        max_grad_norm=config.max_grad_norm or 0.0, num_train_epochs=1, shuffle_dataset=False,
        max_steps=g.max_steps if g.max_steps is not None else -1,
        per_device_train_batch_size=g.generations * g.prompts_per_step, gradient_accumulation_steps=config.grad_accum,
        num_generations=g.generations, max_completion_length=g.max_completion_length, temperature=g.temperature,
        beta=g.kl, seed=config.seed, data_seed=config.seed, logging_steps=1,
        save_strategy="steps", save_steps=config.save_every or epoch_steps,
        save_total_limit=config.keep_checkpoints, report_to="none", use_cpu=device == "cpu",
        **({"gradient_checkpointing": True} if config.gradient_checkpointing else {}), disable_tqdm=not progress,
        bf16=amp, remove_unused_columns=False,
        **({"use_vllm": True, "vllm_mode": g.vllm} if g.vllm else {}))


def train_grpo(config: TrainConfig, *, templates: Any = None, model_config: Any = None, store: ProofStore | None = None,
               run_id: int | None = None, backends: Mapping[str, Any] | None = None,
               reward_funcs: Sequence[RewardFunc] | None = None, resume: bool = False,
               stop_after: int | None = None, progress: bool | None = None) -> TrainSummary:
    """GRPO on ``config.task``'s prompts with its reward (or ``reward_funcs``, e.g. a toy task);
    ``model_config`` gives the verifier and meta-verifier roles (with ``store``/``run_id`` their
    calls are stored; ``backends`` maps roles to ready backends, as in tests)."""
    import sys

    from prover.informal.prompts import load_templates
    from prover.train.model_setup import device_and_dtype, load_tokenizer
    from prover.train.trainer import CONFIG_FILE, METRICS_FILE, SUMMARY_FILE, check_out, read_metrics

    if config.grpo is None:
        raise UsageError("train_grpo needs GRPO settings (--method grpo)")
    _require_trl()
    import torch
    from transformers import AutoModelForCausalLM, TrainerCallback
    from trl import GRPOTrainer

    started = time.perf_counter()
    g = config.grpo
    out = Path(config.out)
    # Under accelerate launch every process runs this; the first one alone reads and writes OUT's
    # files (the trainer saves checkpoints and the model the distributed way).
    main = int(os.environ.get("RANK", "0")) == 0
    if main:
        check_out(out, config, resume)
    if reward_funcs is None:
        if model_config is None and (config.task == "generator" or (config.task == "verifier" and g.meta)):
            from prover.llm.config import load_model_config

            model_config = load_model_config()
        check_scoring_roles(config, model_config, backends)
    templates = templates or load_templates(config.templates)
    rows, data = load_rows(config, templates)
    if not rows:
        raise BadDataError(f"no usable {config.task} prompt in split {config.split!r} ({data.records} records read)",
                           source=config.data)
    fingerprint = rows_fingerprint(rows)
    checkpoint = None
    if resume:
        checkpoint = newest_checkpoint(out)
        saved = out / FINGERPRINT_FILE
        if checkpoint and saved.is_file() and saved.read_text().strip() != fingerprint:
            raise UsageError(f"--resume: the training prompts differ from those of the checkpoint {checkpoint}")
    # As SFT: float32 on CPU; on CUDA float32 weights under bf16 mixed precision for full
    # training, bf16 frozen weights for LoRA.
    torch_device, dtype, amp = device_and_dtype(config)
    device = torch_device.type
    progress = sys.stderr.isatty() if progress is None else progress

    tokenizer = load_tokenizer(config.model)
    tokenizer.padding_side = "left"  # generation pads on the left
    torch.manual_seed(config.seed)
    model = AutoModelForCausalLM.from_pretrained(config.model, dtype=dtype)
    peft_config = None
    if config.lora:
        from peft import LoraConfig

        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                 target_modules=list(config.lora_targets) or "all-linear", task_type="CAUSAL_LM")

    metrics_path = out / METRICS_FILE
    if main:
        out.mkdir(parents=True, exist_ok=True)
        if not (out / CONFIG_FILE).is_file():
            (out / CONFIG_FILE).write_text(json.dumps(config.identity(), indent=2), encoding="utf-8")
        (out / FINGERPRINT_FILE).write_text(fingerprint + "\n", encoding="utf-8")
        if checkpoint is None and metrics_path.exists():
            metrics_path.unlink()

    scorer = None
    if reward_funcs is None:
        needs_models = config.task == "generator" or (config.task == "verifier" and g.meta)
        if needs_models:
            scorer = RoleScorer(model_config, templates, store=store, run_id=run_id, backends=backends,
                                seed=config.seed, verifier_samples=g.verifier_samples)
        reward_funcs = [make_reward(config.task, scorer=scorer, meta=g.meta, limit=g.max_completion_length,
                                    eos=tokenizer.eos_token_id)]

    class Metrics(TrainerCallback):
        """One ``metrics.jsonl`` line per optimizer step; stops (with a checkpoint) at ``stop_after``."""

        seen_tokens = 0.0  # TRL counts tokens cumulatively (from the checkpoint's count on resume)
        if checkpoint is not None:
            history = json.loads((checkpoint / "trainer_state.json").read_text()).get("log_history", [])
            seen_tokens = float(next((h["num_tokens"] for h in reversed(history) if "num_tokens" in h), 0.0))

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            if "loss" not in logs or state.global_step < 1 or not state.is_world_process_zero:
                return
            total = float(logs.get("num_tokens", 0) or 0)
            tokens, self.seen_tokens = max(0, int(total - self.seen_tokens)), total
            m = StepMetrics(step=state.global_step, epoch=(state.global_step - 1) // epoch_steps,
                            loss=float(logs["loss"]), tokens=tokens,
                            lr=logs.get("learning_rate"), grad_norm=logs.get("grad_norm"),
                            reward=logs.get("reward"), reward_std=logs.get("reward_std"))
            with open(metrics_path, "a", encoding="utf-8") as f:
                f.write(m.model_dump_json(exclude_none=True) + "\n")

        def on_step_end(self, args, state, control, **kwargs):
            if stop_after is not None and state.global_step >= stop_after:
                control.should_save = True
                control.should_training_stop = True

    from datasets import Dataset

    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    epoch_steps = steps_per_epoch(len(rows), config, world_size)

    trainer = GRPOTrainer(model=model, reward_funcs=list(reward_funcs),
                          args=_grpo_args(config, out, device, amp, progress, epoch_steps),
                          train_dataset=Dataset.from_list(epoch_order(rows, config, world_size)),
                          processing_class=tokenizer, peft_config=peft_config, callbacks=[Metrics()])
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints each step's logs on stdout; metrics.jsonl has them
    if checkpoint is not None and main:
        keep_metrics(metrics_path, int(checkpoint.name[11:]))
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        if scorer is not None:
            scorer.close()
    state = trainer.state
    status = "completed" if stop_after is None or state.global_step < stop_after or \
        state.global_step >= state.max_steps else "stopped"
    params = list(trainer.model.parameters())  # before a merge folds the adapters away
    trainable, total = sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
    output, merged = "none", False
    if status == "completed":
        if config.lora and Path(config.model).is_dir():  # the adapter must find its base from anywhere
            trainer.model.peft_config["default"].base_model_name_or_path = str(Path(config.model).resolve())
        # save_model gathers sharded weights (FSDP, ZeRO-3) and writes on the first process only.
        trainer.save_model(str(out / "adapter") if config.lora and config.merge else str(out))
        trainer.accelerator.wait_for_everyone()
        if config.lora and config.merge:
            if main:
                from peft import AutoPeftModelForCausalLM

                AutoPeftModelForCausalLM.from_pretrained(str(out / "adapter"), dtype=dtype) \
                    .merge_and_unload().save_pretrained(out)
            output, merged = "model", True
        else:
            output = "adapter" if config.lora else "model"
        if main:
            tokenizer.save_pretrained(out)
    curve = [m for m in read_metrics(metrics_path) if m.kind == "train"]
    newest = newest_checkpoint(out)
    summary = TrainSummary(
        out=str(out), task=config.task, method="grpo", status=status, steps=state.global_step,
        total_steps=state.max_steps,
        resumed_from=int(checkpoint.name[11:]) if checkpoint else None,
        first_loss=curve[0].loss if curve else None, last_loss=curve[-1].loss if curve else None,
        first_reward=curve[0].reward if curve else None, last_reward=curve[-1].reward if curve else None,
        train=data, loss="grpo", lora=config.lora, merged=merged, output=output, device=device,
        dtype=str(dtype).removeprefix("torch.") + ("+bf16-autocast" if amp else ""),
        trainable_parameters=trainable, parameters=total, checkpoint=str(newest) if newest else None)
    summary.seconds = time.perf_counter() - started
    if main:
        (out / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    return summary
