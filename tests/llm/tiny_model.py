"""A tiny random Llama model with a byte-level BPE tokenizer trained on the fly: built in a few
seconds, fully offline, loadable by transformers and vLLM. Its weights are random, so its text
is noise — tests check mechanics (batching, seeds, limits, stop strings), never content."""

from __future__ import annotations

from pathlib import Path

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}")

_CORPUS = [
    "Prove that the sum of two even integers is even.",
    "Let n be a positive integer. Show that n squared plus n is even.",
    "Reply with the single word: ready",
    "The verifier grades each proof with a score of 0, 0.5 or 1.",
    "Suppose x and y are real numbers such that x + y = 10 and x - y = 2. Find x.",
    "By induction on n, the statement holds for every natural number.",
    "Therefore the answer is 42, and the proof is complete.",
    "Lemma. For all integers a and b, if a divides b then a divides b times c.",
]


def build_tiny_model(path: Path, *, chat_template: bool = True, seed: int = 0,
                     context: int = 512) -> Path:
    """Write a tiny Llama model and its tokenizer to ``path``; returns ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>")
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=context,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Larger output weights than the default init: sharper distributions, so greedy decoding
    # has clear winners and sampling at different seeds visibly differs.
    with torch.no_grad():
        model.lm_head.weight.normal_(0.0, 0.5)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny model with a chat template (built once per session; import this fixture)."""
    pytest.importorskip("transformers", reason="needs transformers (pip install -e '.[ml]')")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
