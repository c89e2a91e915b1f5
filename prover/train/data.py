"""SFT data for verifier training: chat records of a ``prover labels export`` (``sft`` dataset)
turned into token sequences whose loss covers the assistant turn only, and packed into
micro-batches by a token budget.

A sequence is exactly what the model sees when it grades a proof through the ``hf`` backend:
the prompt rendered by the tokenizer's chat template with the generation prompt, then the
assistant's text as the template closes it (its end-of-turn marker included, so the model
learns to stop). Without a chat template: the contents joined by blank lines (as the backend
does) and the answer followed by the end-of-sequence token.

The order of an epoch depends on (seed, epoch) alone, so a resumed run rebuilds the same
micro-batches and skips the ones it has done."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from prover.core.errors import BadDataError, NotFoundError, UsageError
from prover.core.train_records import DataSummary

IGNORE_INDEX = -100
DATA_SUFFIXES = (".jsonl", ".parquet")


# -- reading -----------------------------------------------------------------------------------

def dataset_folder(data: str | Path, dataset: str = "sft") -> Path:
    """The folder of ``dataset`` in an export folder (``data`` itself when it has no such
    subfolder: the dataset's own folder was given)."""
    path = Path(data)
    return path / dataset if (path / dataset).is_dir() else path


def sft_file(data: str | Path, split: str | None, dataset: str = "sft") -> Path | None:
    """The file holding ``split`` of ``data`` (an export folder, its ``sft`` — or ``dataset`` —
    folder, or a file: then the file itself whatever the split); None when a folder has no file
    for that split."""
    path = Path(data)
    if path.is_file():
        return path
    if not path.is_dir():
        raise NotFoundError(f"no training data at {path} (an export folder, its {dataset} folder, or a "
                            ".jsonl/.parquet file)")
    folder = dataset_folder(path, dataset)
    if split is None:
        return None
    for suffix in DATA_SUFFIXES:
        candidate = folder / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL or Parquet file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    records = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadDataError(f"not JSON: {exc.msg}", source=str(path), line=line_no) from None
            if not isinstance(rec, dict):
                raise BadDataError("a record must be a JSON object", source=str(path), line=line_no)
            records.append(rec)
    return records


def load_sft(data: str | Path, split: str, dataset: str = "sft") -> tuple[list[dict[str, Any]], Path]:
    """The records of ``split`` (chat records of ``sft``, or of another exported dataset); a
    missing split is a NotFoundError naming what exists."""
    path = sft_file(data, split, dataset)
    if path is None:
        folder = dataset_folder(data, dataset)
        present = sorted(p.stem for p in folder.iterdir() if p.suffix in DATA_SUFFIXES)
        raise NotFoundError(f"{folder} has no {split!r} split (splits: {', '.join(present) or 'none'})")
    return read_records(path), path


def _messages(rec: dict[str, Any], where: str, index: int) -> list[dict[str, str]]:
    messages = rec.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadDataError("a chat record needs a non-empty 'messages' list", source=where, line=index + 1,
                           field="messages")
    out = []
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise BadDataError("each message needs a 'role' and a 'content' string", source=where,
                               line=index + 1, field="messages")
        out.append({"role": m["role"], "content": m["content"]})
    return out


# -- tokenizing --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Example:
    """One training sequence: token ids and, per token, its target id or IGNORE_INDEX."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    """``labels[i]`` is the target of position i itself (the loss shifts by one)."""

    @property
    def target_tokens(self) -> int:
        # Position 0 is never predicted.
        return sum(1 for t in self.labels[1:] if t != IGNORE_INDEX)

    @property
    def units(self) -> int:
        """What the loss is averaged over: target tokens."""
        return self.target_tokens

    def digest(self) -> bytes:
        from array import array

        return array("q", self.labels).tobytes()


def render_prompt_and_answer(tokenizer: Any, messages: Sequence[dict[str, str]]) -> tuple[str, str]:
    """(prompt text as the hf backend renders it, the answer text that follows it)."""
    prompt_messages, answer = list(messages[:-1]), messages[-1]["content"]
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(prompt_messages, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(list(messages), tokenize=False)
        if full.startswith(prompt) and len(full) > len(prompt):
            return prompt, full[len(prompt):]
        # Templates that rewrite earlier turns (e.g. strip reasoning) do not extend the prompt:
        # the answer is the assistant's text closed by the end-of-sequence token.
        return prompt, answer + (tokenizer.eos_token or "")
    from prover.llm.hf_backend import plain_prompt

    return plain_prompt(_as_chat(prompt_messages)), answer + (tokenizer.eos_token or "")


def _as_chat(messages):
    from prover.core.llm_records import ChatMessage

    return [ChatMessage(role=m["role"], content=m["content"]) for m in messages]


def tokenize_record(tokenizer: Any, messages: Sequence[dict[str, str]]) -> Example | None:
    """The sequence of one chat record (None: no assistant turn at the end)."""
    if len(messages) < 2 or messages[-1]["role"] != "assistant":
        return None
    prompt, answer = render_prompt_and_answer(tokenizer, messages)
    templated = bool(getattr(tokenizer, "chat_template", None))
    # As the hf backend tokenizes its prompts: a template writes its own special tokens.
    prompt_ids = tokenizer(prompt, add_special_tokens=not templated)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    if not answer_ids:
        return None
    ids = tuple(prompt_ids) + tuple(answer_ids)
    labels = (IGNORE_INDEX,) * len(prompt_ids) + tuple(answer_ids)
    return Example(input_ids=ids, labels=labels)


def build_examples(records: Sequence[dict[str, Any]], tokenizer: Any, max_length: int | None,
                   where: str = "data") -> tuple[list[Example], DataSummary]:
    """Token sequences of the records, and what was left out."""
    summary = DataSummary(records=len(records))
    examples: list[Example] = []
    for i, rec in enumerate(records):
        ex = tokenize_record(tokenizer, _messages(rec, where, i))
        if ex is None or ex.target_tokens == 0:
            summary.no_target += 1
            continue
        if max_length is not None and len(ex.input_ids) > max_length:
            summary.too_long += 1
            continue
        examples.append(ex)
    summary.examples = len(examples)
    summary.target_tokens = sum(e.target_tokens for e in examples)
    return examples, summary


def data_fingerprint(examples: Sequence[Any]) -> str:
    """A hash of the sequences, in order: a resumed run must see the same data."""
    from array import array

    h = hashlib.sha256()
    for e in examples:
        h.update(len(e.input_ids).to_bytes(8, "little"))
        h.update(array("q", e.input_ids).tobytes())
        h.update(e.digest())
    return h.hexdigest()


# -- batching ----------------------------------------------------------------------------------

def pack_batches(examples: Sequence[Any], batch_tokens: int, seed: int) -> list[list[int]]:
    """Micro-batches as example indices: examples sorted by length (ties in a seeded order),
    packed while ``len(batch) * longest <= batch_tokens``. The same for every epoch, so every
    epoch has the same number of optimizer steps; little padding, since neighbours have
    similar lengths."""
    if batch_tokens < 1:
        raise UsageError("--batch-tokens must be at least 1")
    order = list(range(len(examples)))
    random.Random(f"prover-train-pack:{seed}").shuffle(order)
    order.sort(key=lambda i: len(examples[i].input_ids))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        n = len(examples[i].input_ids)  # the longest so far, the order being by length
        if current and (len(current) + 1) * n > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def epoch_batches(examples: Sequence[Any], batch_tokens: int, seed: int, epoch: int) -> list[list[int]]:
    """The micro-batches of one epoch: :func:`pack_batches` in an order drawn from (seed, epoch)."""
    batches = pack_batches(examples, batch_tokens, seed)
    random.Random(f"prover-train-order:{seed}:{epoch}").shuffle(batches)
    return batches


def collate(examples: Sequence[Example], indices: Sequence[int], pad_id: int) -> dict[str, Any]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` tensors of a micro-batch."""
    import torch

    rows = [examples[i] for i in indices]
    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        n = len(r.input_ids)
        ids[j, :n] = torch.tensor(r.input_ids)
        labels[j, :n] = torch.tensor(r.labels)
        mask[j, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
