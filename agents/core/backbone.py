"""A pretrained LLM's decoder stack without its LM head: LLaRP's backbone (paper §3), the LSTM baselines' encoder.

``load_backbone`` accepts the packaged ``"smollm2-135m"`` (default) and ``"gemma3-270m"``,
a GGUF file, a local Hugging Face folder or hub id (e.g. LLaMA-7B on a GPU box), or a
``transformers`` config for a randomly initialised model (LLaRP-Scratch, tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from agents.core.llm import DEFAULT_MODEL, load_tokenizer, model_source


@dataclass
class Backbone:
    decoder: nn.Module  # e.g. LlamaModel: takes inputs_embeds, returns last_hidden_state
    embed_tokens: nn.Embedding  # the LLM's own token embedding table
    tokenizer: Any
    hidden_size: int
    name: str


def load_backbone(name_or_path: str = DEFAULT_MODEL, dtype: torch.dtype = torch.bfloat16, device: str = "cpu",
                  config: Any = None, tokenizer: Any = None, pretrained: bool = True) -> Backbone:
    """Load the decoder stack, its embedding table and tokenizer.

    Args:
        name_or_path: packaged name, GGUF file, HF folder or hub id (ignored when ``config`` is given).
        dtype: weights of the LLM (bf16 by default; adapters stay fp32 in the policy).
        config: a ``PretrainedConfig``: build that architecture with random weights instead.
        tokenizer: tokenizer to use with ``config`` (default: the packaged SmolLM2 one).
        pretrained: False keeps the architecture of ``name_or_path`` but re-initialises every
            weight (LLaRP-Scratch).
    """
    from transformers import AutoConfig, AutoModel

    if config is None:
        source = model_source(name_or_path)
        tokenizer = tokenizer or load_tokenizer(name_or_path)
        if pretrained:
            model = AutoModel.from_pretrained(source, dtype=dtype)
        else:
            model = AutoModel.from_config(AutoConfig.from_pretrained(source), dtype=dtype)
        name = name_or_path if pretrained else f"{name_or_path} (random init)"
    else:
        tokenizer = tokenizer or load_tokenizer(DEFAULT_MODEL)
        model = AutoModel.from_config(config, dtype=dtype)
        name = f"{type(config).__name__} (random init)"
    model = model.to(device)
    return Backbone(decoder=model, embed_tokens=model.get_input_embeddings(), tokenizer=tokenizer,
                    hidden_size=int(model.config.hidden_size), name=name)


def tiny_llama_config(vocab_size: int = 49152, hidden_size: int = 64, layers: int = 2, heads: int = 4) -> Any:
    """A small Llama architecture for tests and quick experiments (random weights)."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=vocab_size, hidden_size=hidden_size, intermediate_size=hidden_size * 2,
                       num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                       max_position_embeddings=512, tie_word_embeddings=True)
