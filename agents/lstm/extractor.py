"""The features extractor of the LSTM baselines: [instruction vector, projected frame, proprioception].

RecurrentPPO's LSTM then consumes this vector every step (paper §4.1, LSTM baselines).

The instruction is constant within an episode, so it is not re-encoded every step:

* in rollouts and ``predict`` (no gradient), encoded instructions are kept in a cache
  keyed by their tokens until the next PPO update changes the encoder's weights, so the
  encoder runs once per new instruction (i.e. at most once per episode and env);
* in the PPO update (gradient), each distinct instruction of a minibatch is encoded once
  and its vector reused for all the steps that share it.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from agents.nn.frozen_cache import FrozenOutputCache, row_keys
from agents.nn.observations import PROPRIO_KEYS, proprio_dim
from agents.nn.vision import make_visual_encoder
from agents.lstm.encoders import InstructionEncoder, build_instruction_encoder


class InstructionFrameExtractor(BaseFeaturesExtractor):
    """Dict observation (tokenized instruction, rgb, proprioception) -> one feature vector.

    Args (besides SB3's ``observation_space``):
        encoder: ``"t5"``, ``"llm-resampler"`` (default) or ``"llm-final"``; see ``encoders.py``.
        encoder_model, encoder_config, finetune, encoder_dtype: passed to ``build_instruction_encoder``.
        instruction_dim: width of the linear projection of the instruction vector.
        visual_encoder: ``"cnn"`` (default), ``"resnet18"`` or a frozen ``nn.Module``.
        visual_dim: visual encoder output; ``frame_dim``: its linear projection.
        proprio: append joints, holding flag and egomotion.
    """

    def __init__(self, observation_space: gym.spaces.Dict, encoder: str = "llm-resampler",
                 encoder_model: str = "smollm2-135m", encoder_config: Any = None, finetune: bool | None = None,
                 encoder_dtype: str = "float32", instruction_dim: int = 256, visual_encoder: Any = "cnn",
                 visual_dim: int = 512, frame_dim: int = 256, proprio: bool = True) -> None:
        for key in ("instruction", "instruction_mask"):
            if key not in observation_space.spaces:
                raise ValueError(f"observation space has no {key!r}: wrap the env in "
                                 "gym_langrearrange.wrappers.TokenizeInstruction")
        self.use_rgb = "rgb" in observation_space.spaces
        self.proprio_dim = proprio_dim(observation_space) if proprio else 0
        super().__init__(observation_space, instruction_dim + (frame_dim if self.use_rgb else 0) + self.proprio_dim)
        self.instruction: InstructionEncoder = build_instruction_encoder(encoder, encoder_model, encoder_config,
                                                                         finetune, encoder_dtype)
        self.instruction_proj = nn.Sequential(nn.Linear(self.instruction.out_dim, instruction_dim), nn.ReLU())
        if self.use_rgb:
            self.visual = make_visual_encoder(visual_encoder, visual_dim)
            self.frame_proj = nn.Sequential(nn.Linear(self.visual.out_dim, frame_dim), nn.ReLU())
        self._cache: FrozenOutputCache[torch.Tensor] = FrozenOutputCache(4096)  # until the encoder's next update
        self.encoded_rows = 0  # instructions the encoder has run on (tests and curiosity)

    # --- what is new (for orthogonal init) and what is stored ---------------------------------

    def fresh_modules(self) -> list[nn.Module]:
        """Modules created here with random weights; pretrained weights are never re-initialised."""
        fresh: list[nn.Module] = [self.instruction_proj]
        if self.use_rgb:
            fresh += [self.frame_proj] + ([self.visual] if any(p.requires_grad for p in self.visual.parameters())
                                          else [])
        return fresh

    def train(self, mode: bool = True) -> "InstructionFrameExtractor":
        if mode and any(p.requires_grad for p in self.instruction.parameters()):
            self._cache.clear()  # an update is coming: cached vectors are about to be stale
        return super().train(mode)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._cache.clear()
        super()._load_from_state_dict(*args, **kwargs)

    # --- forward ----------------------------------------------------------------------------

    def encode_instructions(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) tokens and mask -> (B, encoder out_dim), each distinct instruction encoded once."""
        keys = torch.cat([tokens, mask], 1)
        unique, inverse = torch.unique(keys, dim=0, return_inverse=True)  # (U, 2T), (B,)
        u_tokens, u_mask = unique[:, : tokens.shape[1]], unique[:, tokens.shape[1]:]
        if torch.is_grad_enabled():
            self.encoded_rows += int((u_mask.sum(1) > 0).sum())
            return self.instruction(u_tokens, u_mask)[inverse]

        def compute(rows: list[int]) -> list[torch.Tensor]:
            self.encoded_rows += int((u_mask[rows].sum(1) > 0).sum())
            return list(self.instruction(u_tokens[rows], u_mask[rows]))

        return torch.stack(self._cache.get(row_keys(u_tokens, u_mask), compute))[inverse]

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        tokens = observations["instruction"].long()  # SB3 hands Box observations over as floats
        mask = observations["instruction_mask"].long()
        parts = [self.instruction_proj(self.encode_instructions(tokens, mask))]
        if self.use_rgb:
            parts.append(self.frame_proj(self.visual(observations["rgb"])))
        if self.proprio_dim:
            parts.append(torch.cat([observations[k].float().flatten(1) for k in PROPRIO_KEYS
                                    if k in observations], 1))
        return torch.cat(parts, 1)
