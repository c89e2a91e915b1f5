"""SFT data: a sequence is what the hf backend shows the model plus the analysis; the loss mask
covers the analysis only; records that cannot train are counted; micro-batches keep to their
token budget and every epoch sees every example once."""

from __future__ import annotations

import json

import pytest

from prover.core.errors import BadDataError, NotFoundError
from prover.core.llm_records import ChatMessage
from prover.train.data import (IGNORE_INDEX, Example, build_examples, collate, data_fingerprint, epoch_batches,
                               load_sft, pack_batches, tokenize_record)

pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")

MESSAGES = [{"role": "user", "content": "Grade this proof."},
            {"role": "assistant", "content": "Here is my evaluation of the solution: \\boxed{1}"}]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_a_sequence_is_the_backends_prompt_then_the_answer(tokenizer, tiny_model_dir):
    import asyncio

    from prover.core.llm_records import RoleSettings
    from prover.llm import create_backend

    ex = tokenize_record(tokenizer, MESSAGES)
    backend = create_backend(RoleSettings(backend="hf", model=str(tiny_model_dir), engine={"device": "cpu"}))
    try:
        prompt = backend.render([ChatMessage(role="user", content=MESSAGES[0]["content"])])
    finally:
        asyncio.run(backend.aclose())
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    n = len(prompt_ids)
    assert list(ex.input_ids[:n]) == prompt_ids
    assert ex.labels[:n] == (IGNORE_INDEX,) * n and IGNORE_INDEX not in ex.labels[n:]
    assert ex.labels[n:] == ex.input_ids[n:] and ex.input_ids[-1] == tokenizer.eos_token_id  # learns to stop
    assert tokenizer.decode(ex.input_ids[n:], skip_special_tokens=True) == MESSAGES[1]["content"]
    assert ex.target_tokens == len(ex.input_ids) - n


def test_without_a_chat_template_the_plain_prompt_and_an_end_token(tokenizer):
    plain = tokenizer.__class__.from_pretrained(tokenizer.name_or_path)
    plain.chat_template = None
    ex = tokenize_record(plain, [{"role": "system", "content": "Be strict."}, *MESSAGES])
    prompt_ids = plain("Be strict.\n\nGrade this proof.")["input_ids"]
    assert list(ex.input_ids[:len(prompt_ids)]) == prompt_ids
    assert ex.input_ids[-1] == plain.eos_token_id and ex.labels[-1] == plain.eos_token_id


def test_records_that_cannot_train_are_counted(tokenizer, tmp_path):
    records = [{"messages": MESSAGES}, {"messages": MESSAGES[:1]},
               {"messages": [MESSAGES[0], {"role": "assistant", "content": "x " * 400}]}]
    examples, summary = build_examples(records, tokenizer, max_length=100)
    assert (summary.records, summary.examples, summary.no_target, summary.too_long) == (3, 1, 1, 1)
    assert summary.target_tokens == examples[0].target_tokens
    with pytest.raises(BadDataError, match="messages"):
        build_examples([{"prompt": "no messages"}], tokenizer, None)


def test_jsonl_and_parquet_splits_load_alike(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    records = [{"messages": MESSAGES, "proof_id": i} for i in range(3)]
    (tmp_path / "a" / "sft").mkdir(parents=True)
    with open(tmp_path / "a" / "sft" / "train.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)
    (tmp_path / "b").mkdir()
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "b" / "train.parquet")
    from_export, _ = load_sft(tmp_path / "a", "train")  # an export folder
    from_folder, _ = load_sft(tmp_path / "b", "train")  # the sft folder itself
    assert from_export == from_folder == records
    with pytest.raises(NotFoundError, match="no 'test' split.*train"):
        load_sft(tmp_path / "a", "test")
    (tmp_path / "bad.jsonl").write_text('{"messages": []}\nnot json\n')
    with pytest.raises(BadDataError, match="bad.jsonl:2: not JSON"):
        load_sft(tmp_path / "bad.jsonl", "ignored")


def test_micro_batches_keep_the_budget_and_epochs_reorder_them():
    examples = [Example(input_ids=(1,) * n, labels=(IGNORE_INDEX,) + (1,) * (n - 1)) for n in
                (5, 40, 7, 33, 12, 90, 18, 3, 64, 21)]
    batches = pack_batches(examples, batch_tokens=100, seed=0)
    for b in batches:
        assert len(b) == 1 or len(b) * max(len(examples[i].input_ids) for i in b) <= 100
    assert sorted(i for b in batches for i in b) == list(range(len(examples)))
    one, two = epoch_batches(examples, 100, 0, 0), epoch_batches(examples, 100, 0, 1)
    assert sorted(map(tuple, one)) == sorted(map(tuple, two)) == sorted(map(tuple, batches))
    assert one == epoch_batches(examples, 100, 0, 0) and one != two
    batch = collate(examples, [0, 1], pad_id=0)
    assert batch["input_ids"].shape == (2, 40) and int(batch["attention_mask"][0].sum()) == 5
    assert bool((batch["labels"][0, 5:] == IGNORE_INDEX).all())
    assert data_fingerprint(examples) != data_fingerprint(examples[::-1])
