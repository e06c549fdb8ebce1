"""Instruction encoders of the LSTM baselines: token ids -> one fixed-size vector per instruction.

* ``t5`` — a T5-family encoder (Flan-T5 in the paper, from a local path or hub id), the hidden
  state of the final instruction token, fine-tuned by default (paper D.2: frozen, it learns
  only the easy instructions). This is **LSTM-Flan** when the weights are Flan-T5's.
* ``llm-resampler`` — the packaged pretrained LLM (SmolLM2-135M by default), frozen, its
  hidden states summarised by a small trainable Perceiver resampler: our **LSTM-LLaMA**.
* ``llm-final`` — the same LLM as a fine-tuned final-token encoder: the closest offline
  stand-in for LSTM-Flan (no Flan-T5 weights are reachable here). Results name it
  ``lstm-llm-final[...]``, never "Flan".

Every encoder maps ``tokens`` (U, T) int64 and ``mask`` (U, T) (1 = real token,
right-padded) to (U, out_dim) float32. Rows whose mask is empty (the padding RecurrentPPO
adds between sequences) give zeros without touching the model: a fully masked attention
row would give NaNs, and NaN * 0 still poisons gradients.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from agents.nn.frozen_cache import FrozenOutputCache, row_keys

ENCODERS = ("t5", "llm-resampler", "llm-final")
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class InstructionEncoder(nn.Module):
    """Base class: ``forward(tokens, mask) -> (U, out_dim)``.

    ``language_model`` is the (possibly pretrained) transformer; ``stores_language_model``
    says whether checkpoints must hold its weights (fine-tuned or randomly initialised)
    or can reload them from ``source`` (frozen pretrained).
    """

    language_model: nn.Module
    out_dim: int

    def __init__(self, finetune: bool, pretrained: bool, source: str | None) -> None:
        super().__init__()
        self.finetune, self.pretrained, self.source = finetune, pretrained, source

    @property
    def stores_language_model(self) -> bool:
        return self.finetune or not self.pretrained

    def train(self, mode: bool = True) -> "InstructionEncoder":
        super().train(mode)
        self.language_model.eval()  # no dropout: rollout and update passes see the same function
        return self

    def forward(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(tokens.shape[0], self.out_dim, device=tokens.device)
        real = mask.sum(1) > 0
        if bool(real.any()):
            out[real] = self.encode(tokens[real], mask[real]).float()
        return out

    def encode(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def hidden_states(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(U, T, H) last hidden states of the language model (zeros in the columns that are padding in every row).

        Columns after the last real token of every row are dropped before the model runs: no real
        token attends to them (masked, and after it), so the real tokens' states are unchanged, and
        instructions of ~20 tokens padded to 48 cost half the compute.
        """
        width = int(mask.any(0).nonzero().max()) + 1 if bool(mask.any()) else 1
        hidden = self.language_model(input_ids=tokens[:, :width], attention_mask=mask[:, :width]).last_hidden_state
        return F.pad(hidden, (0, 0, 0, tokens.shape[1] - width))  # (U, width, H) -> (U, T, H)


class FinalTokenEncoder(InstructionEncoder):
    """The hidden state at the last real token (a causal LLM's last token has read the whole instruction)."""

    def __init__(self, language_model: nn.Module, hidden_size: int, finetune: bool = True, pretrained: bool = True,
                 source: str | None = None) -> None:
        super().__init__(finetune, pretrained, source)
        self.language_model = language_model
        self.language_model.requires_grad_(finetune)
        self.out_dim = hidden_size

    def encode(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        with torch.set_grad_enabled(torch.is_grad_enabled() and self.finetune):
            hidden = self.hidden_states(tokens, mask)  # (U, T, H)
        last = mask.sum(1) - 1  # (U,) right padding: index of the final real token
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


class PerceiverResampler(nn.Module):
    """``latents`` learned queries cross-attend to the token states (one block: attention + MLP)."""

    def __init__(self, in_dim: int, latents: int = 4, dim: int = 256, heads: int = 4) -> None:
        super().__init__()
        self.latents = nn.Parameter(torch.randn(latents, dim) * dim ** -0.5)
        self.kv_norm = nn.LayerNorm(in_dim)
        self.kv_proj = nn.Linear(in_dim, dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.out_dim = latents * dim

    def forward(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        kv = self.kv_proj(self.kv_norm(hidden.float()))  # (U, T, dim)
        queries = self.latents.expand(hidden.shape[0], -1, -1)  # (U, K, dim)
        x = queries + self.attn(queries, kv, kv, key_padding_mask=mask == 0, need_weights=False)[0]
        x = x + self.mlp(x)
        return x.flatten(1)  # (U, K * dim)


class ResampledLLMEncoder(InstructionEncoder):
    """Frozen LLM hidden states through a trainable Perceiver resampler (LSTM-LLaMA).

    The frozen LLM's states are a pure function of the tokens, so they are kept in a
    bounded LRU cache: the LLM runs once per distinct instruction, in rollouts and in
    PPO updates alike, while the resampler trains.
    """

    def __init__(self, language_model: nn.Module, hidden_size: int, latents: int = 4, dim: int = 256,
                 pretrained: bool = True, source: str | None = None, cache_size: int = 4096) -> None:
        super().__init__(False, pretrained, source)
        self.language_model = language_model.requires_grad_(False)
        self.resampler = PerceiverResampler(hidden_size, latents, dim)
        self.out_dim = self.resampler.out_dim
        self._states: FrozenOutputCache[torch.Tensor] = FrozenOutputCache(cache_size)

    @property
    def stores_language_model(self) -> bool:
        return not self.pretrained

    def encode(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        def compute(rows: list[int]) -> torch.Tensor:
            with torch.no_grad():
                return self.hidden_states(tokens[rows], mask[rows]).float()

        hidden = torch.stack(self._states.get(row_keys(tokens, mask), compute))  # (U, T, H)
        return self.resampler(hidden, mask)


def build_instruction_encoder(kind: str = "llm-resampler", model: str = "smollm2-135m", config: Any = None,
                              finetune: bool | None = None, dtype: str = "float32") -> InstructionEncoder:
    """An encoder by kind (see module docstring).

    Args:
        kind: ``"t5"``, ``"llm-resampler"`` or ``"llm-final"``.
        model: for ``t5`` a local T5 folder or hub id (e.g. a downloaded ``google/flan-t5-base``);
            for the ``llm-*`` kinds anything ``agents.nn.llm`` loads (``"smollm2-135m"``,
            ``"gemma3-270m"``, a GGUF file, an HF folder).
        config: a ``transformers`` config: that architecture with random weights (tests).
        finetune: train the language model (default: True for ``t5`` and ``llm-final``);
            ``llm-resampler`` keeps it frozen by definition.
        dtype: of the language model; ``"float32"`` (default) since fine-tuning needs it and
            this CPU has no native bf16.
    """
    if kind not in ENCODERS:
        raise ValueError(f"instruction encoder must be one of {', '.join(ENCODERS)}, got {kind!r}")
    if dtype not in _DTYPES:
        raise ValueError(f"encoder dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
    if kind == "llm-resampler" and finetune:
        raise ValueError("llm-resampler keeps the LLM frozen (LSTM-LLaMA); use kind='llm-final' to fine-tune it")
    finetune = kind != "llm-resampler" if finetune is None else bool(finetune)
    torch_dtype = _DTYPES[dtype]
    pretrained = config is None
    if kind == "t5":
        from transformers import T5EncoderModel

        lm = (T5EncoderModel.from_pretrained(model, dtype=torch_dtype) if pretrained
              else T5EncoderModel(config).to(torch_dtype))
        hidden = int(lm.config.d_model)
    else:
        from agents.nn.backbone import load_backbone

        backbone = load_backbone(model, dtype=torch_dtype, config=config)
        lm, hidden = backbone.decoder, backbone.hidden_size
    source = model if pretrained else None
    if kind == "llm-resampler":
        return ResampledLLMEncoder(lm, hidden, pretrained=pretrained, source=source)
    return FinalTokenEncoder(lm, hidden, finetune=finetune, pretrained=pretrained, source=source)
