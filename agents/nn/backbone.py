"""A pretrained LLM's decoder stack without its LM head: LLaRP's backbone (paper §3), the LSTM baselines' encoder.

``load_backbone`` accepts the packaged ``"smollm2-135m"`` (default) and ``"gemma3-270m"``,
a GGUF file, a local Hugging Face folder or hub id (e.g. LLaMA-7B on a GPU box), or a
``transformers`` config for a randomly initialised model (LLaRP-Scratch, tests).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from agents.nn.llm import DEFAULT_MODEL, load_tokenizer, model_source


#: LLM weight dtypes by name; ``"auto"`` picks one of the first two for the machine (``resolve_llm_dtype``)
LLM_DTYPES: dict[str, torch.dtype] = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}
#: what the scripts' ``--dtype`` option takes
DTYPE_CHOICES = ("auto", "bfloat16", "float32")
#: /proc/cpuinfo flags of x86 CPUs with bf16 matmul units (AMX on Sapphire Rapids and later; AVX512-BF16 on
#: Cooper Lake, Zen 4 and later). Without them, torch emulates bf16 matmuls several times slower than fp32.
BF16_CPU_FLAGS = ("amx_bf16", "amx_tile", "avx512_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (Linux x86), or None where it has no ``flags`` line."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return frozenset(value.split())
    return None


def cpu_bf16_flag(flags: Iterable[str] | None = None) -> str | None:
    """The feature that gives this CPU native bf16 matmuls (``"amx_bf16"``, ``"avx512_bf16"``, ...), or None.

    ``flags`` (e.g. from a test) replaces the CPU's own. Without ``/proc/cpuinfo`` (macOS, Windows),
    torch's own check is asked instead (``torch.backends.cpu.get_cpu_capability()`` only says
    "AVX512", which does not tell whether the AVX512 has BF16).
    """
    if flags is None:
        flags = cpu_flags()
    if flags is None:
        probes = (("amx_tile", "_is_amx_tile_supported"), ("avx512_bf16", "_is_avx512_bf16_supported"))
        return next((flag for flag, probe in probes if getattr(torch.cpu, probe, lambda: False)()), None)
    flags = set(flags)
    return next((flag for flag in BF16_CPU_FLAGS if flag in flags), None)


_ANNOUNCED: set[str] = set()


def resolve_llm_dtype(name: str, device: Any = None, flags: Iterable[str] | None = None,
                      announce: bool = True) -> str:
    """A concrete LLM dtype name for ``name``: itself, or for ``"auto"``, bf16 on CUDA and on CPUs with
    bf16 units (``cpu_bf16_flag``), fp32 on other CPUs (where bf16 is emulated, ~3-10x slower).

    ``device``: where the LLM will run (default: CUDA if available, like SB3's ``device="auto"``).
    ``flags`` replaces the CPU's flags (tests). The choice is printed once per process.
    """
    if name != "auto":
        if name not in LLM_DTYPES:
            raise ValueError(f"LLM dtype must be auto or one of {', '.join(LLM_DTYPES)}, got {name!r}")
        return name
    if device is None or str(device) == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cuda":
        native = not torch.cuda.is_available() or torch.cuda.is_bf16_supported(including_emulation=False)
        choice, why = ("bfloat16", "CUDA device") if native else ("float32", "this GPU has no native bf16")
    else:
        flag = cpu_bf16_flag(flags)
        choice, why = (("bfloat16", f"CPU has {flag}") if flag else
                       ("float32", f"CPU has no bf16 units: none of {', '.join(BF16_CPU_FLAGS)}"))
    message = f"LLM dtype auto -> {choice} ({why})"
    if announce and message not in _ANNOUNCED:
        _ANNOUNCED.add(message)
        print(message, file=sys.stderr, flush=True)
    return choice


class _DeprecatedOption(argparse.Action):
    """An old spelling of an option: still works, with a note to use the new one."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print(f"note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_dtype_argument(parser: argparse.ArgumentParser, *old: str, dest: str = "dtype", default: str = "auto",
                       help: str | None = None) -> None:
    """``--dtype {auto,bfloat16,float32}``, the one name of the LLM dtype option in every script; ``old``
    spellings (``--llm-dtype``) keep working, hidden from ``--help``."""
    parser.add_argument("--dtype", dest=dest, default=default, choices=DTYPE_CHOICES,
                        help=help or "LLM weights: auto (default) = bfloat16 on CUDA and on CPUs with bf16 units "
                                     "(AMX, AVX512-BF16), float32 on other CPUs")
    for option in old:
        parser.add_argument(option, dest=dest, choices=DTYPE_CHOICES, default=argparse.SUPPRESS,
                            help=argparse.SUPPRESS, action=_DeprecatedOption, new="--dtype")


def ready_attention_mask(sees: torch.Tensor, config: Any, dtype: torch.dtype) -> torch.Tensor:
    """A 4D mask from booleans (True: the query sees the key), in the form the model's attention kernel
    takes as it is: booleans for SDPA, else an additive mask in ``dtype`` (0 or the dtype's minimum)."""
    if config._attn_implementation == "sdpa":
        return sees
    return torch.zeros(sees.shape, dtype=dtype, device=sees.device).masked_fill(~sees, torch.finfo(dtype).min)


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
