"""A tiny, randomly initialised Llama-style model directory, made offline.

::

    path = write_tiny_model(tmp_path / "tiny")
    AutoModelForCausalLM.from_pretrained(path)   # and AutoTokenizer, the same

The weights are random, so the text it writes is gibberish; what it is good for is running
the real loading, generation and embedding code of an engine in a second or two. It never
writes its end-of-sequence token, so an answer runs until max_tokens or a stop string. The
tokenizer is a byte-level BPE trained in memory on a few built-in sentences, so it encodes
any text. Needs `torch`, `transformers` and `tokenizers` (the `transformers` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["CHAT_TEMPLATE", "write_tiny_model"]

BOS, EOS, PAD = "<s>", "</s>", "<pad>"
VOCAB_SIZE = 384

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "A self-hosted platform serves chat, completions and embeddings.",
    "Question: What is the capital of Italy? Answer: The capital of Italy is Rome.",
    "There are seven days in a week, twelve months in a year and 24 hours in a day.",
    "Hello world! How are you today? I am fine, thank you.",
    "Models load weights, tokenize text, generate tokens and stop at the end.",
)


def write_tiny_model(path: Path, *, seed: int = 0) -> Path:
    """Write config, safetensors weights and tokenizer to `path`; return `path`."""
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer()
    _model(tokenizer, seed=seed).save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=BOS, eos_token=EOS, pad_token=PAD
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _model(tokenizer: Any, *, seed: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight[tokenizer.eos_token_id] = 0.0
    return model
