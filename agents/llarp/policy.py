"""LLaRPPolicy: a frozen pretrained LLM that sees (observation encoder) and acts (action module).

    instruction tokens --LLM's own embeddings-------------------------------\\
    frame_t --visual encoder--(+proprio)--linear--> M tokens (width D) -------> LLM decoder --> h at the
                                                                                last token of each step
    h --LayerNorm, MLP 512, ReLU x2--> 70 logits, value

The context window: each step sees the instruction and the last ``context_steps`` steps (32, as
in the paper), through every layer (as in sliding-window attention, a step's keys carry what its
own window saw). Position ids count tokens from the episode start. Two ways to run the same function:

* ``act`` (rollouts, ``predict``): one step for a batch of envs, reusing each env's
  key/value cache (:class:`StepContext`, a ring over the window; memory stays bounded however long
  the episode). A new episode starts the env's row afresh, and each token sees only tokens of its
  own episode, so attention never crosses episode boundaries.
* ``evaluate_sequences`` (PPO update): chunks of consecutive steps in one masked parallel pass
  (banded when a chunk is longer than the window).

Both give the same numbers (tests/test_llarp.py checks max |diff| <= 1e-4 in fp32). A rollout
starts from a context re-encoded from the last ``context_steps - 1`` steps of each env's episode,
which the update pass re-encodes the same way.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from torch import nn
from torch.distributions import Categorical

from agents.nn.vision import make_visual_encoder
from agents.nn.backbone import LLM_DTYPES, Backbone, load_backbone, ready_attention_mask, resolve_llm_dtype
from agents.nn.frozen_cache import FrozenOutputCache, row_keys
from agents.nn.observations import PROPRIO_KEYS, proprio_dim
from agents.llarp.context import (BufferShape, InPlaceLayer, StepContext, cache_holding, context_after_block,
                                  context_from_entries)

#: logit of a masked skill: finite, so entropies stay finite (0 * log 0 terms vanish), as in MaskablePPO
MASKED_LOGIT = -1e8
_DTYPES = LLM_DTYPES
#: fixed codes of the LLM dtype in the ``llm_dtype_id`` buffer that checkpoints carry
_DTYPE_IDS = {"float32": 0, "bfloat16": 1, "float16": 2}


class LLaRPPolicy(BasePolicy):
    """Actor-critic policy of LLaRP (paper §3.1, appendix C.1).

    Args (besides SB3's observation_space, action_space, lr_schedule):
        backbone: LLM name or path (see ``load_backbone``); ``backbone_config`` builds a random one instead.
        pretrained: False re-initialises the LLM (LLaRP-Scratch; then it is trained too).
        freeze_llm: keep LLM weights fixed (LLaRP); False fine-tunes them (LLaRP-FT).
        llm_dtype: "auto" (default: bf16 on CUDA and on CPUs with bf16 units, else fp32; see
            ``resolve_llm_dtype``, which guesses the device as SB3's ``device="auto"`` does), "bfloat16"
            or "float32"; adapters are always fp32. The resolved dtype is what checkpoints record, so a
            checkpoint loads in the same dtype on every machine.
        visual_encoder: "cnn" (default), "resnet18", or an ``nn.Module`` (frozen, e.g. a pretrained ViT).
        visual_bf16: run the visual encoder under bf16 autocast (mixed precision: its weights and
            gradients stay fp32), ~1.6x faster for a ResNet-18 on CPUs with bf16 units and on GPUs.
        tokens_per_step: M embeddings per frame (default 1).
        proprio: "concat" (joints, holding, egomotion appended to the visual features), "token"
            (one extra token per step) or "none" (also right for observations without proprioception,
            such as Atari frames).
        context_steps: the context window: each step sees the instruction and the last ``context_steps``
            steps (default 32, the paper's; Language Rearrangement episodes fit in it whole); None = the
            whole episode (memory then grows with the episode).
        instruction_cache: distinct instructions whose keys/values a frozen LLM keeps (LRU; 0 = off).
            SmolLM2 needs ~23 kB per token, so 512 instructions of ~20 tokens take ~240 MB.

    Invalid-action masking (not in the paper): if the observation space has an ``action_mask``
    key (``gym_langrearrange.wrappers.ActionMaskObservation``), skills whose precondition fails
    get no probability, in rollouts and in the update alike.
    """

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Discrete, lr_schedule,
                 backbone: str = "smollm2-135m", backbone_config: Any = None, pretrained: bool = True,
                 freeze_llm: bool = True, llm_dtype: str = "auto", visual_encoder: Any = "cnn",
                 visual_bf16: bool = False,
                 visual_dim: int = 512, tokens_per_step: int = 1, proprio: str = "concat", context_steps: int | None = 32,
                 action_hidden: int = 512,
                 instruction_cache: int = 512, optimizer_class: type[torch.optim.Optimizer] = torch.optim.AdamW,
                 optimizer_kwargs: dict[str, Any] | None = None, use_sde: bool = False) -> None:
        super().__init__(observation_space, action_space, optimizer_class=optimizer_class,
                         optimizer_kwargs=optimizer_kwargs or {})
        if proprio not in ("concat", "token", "none"):
            raise ValueError(f"proprio must be 'concat', 'token' or 'none', got {proprio!r}")
        if llm_dtype != "auto" and llm_dtype not in _DTYPES:
            raise ValueError(f"llm_dtype must be auto or one of {', '.join(_DTYPES)}, got {llm_dtype!r}")
        self._dtype_was_auto = llm_dtype == "auto"
        llm_dtype = resolve_llm_dtype(llm_dtype)
        if not isinstance(tokens_per_step, int) or tokens_per_step < 1:
            raise ValueError(f"tokens_per_step must be a positive int, got {tokens_per_step!r}")
        if context_steps is not None and (not isinstance(context_steps, int) or isinstance(context_steps, bool)
                                          or context_steps < 2):
            raise ValueError(f"context_steps must be an int >= 2 (steps in the context window) or None (whole "
                             f"episodes), got {context_steps!r}")
        self.context_steps = context_steps
        self.backbone_name, self.backbone_config = backbone, backbone_config
        self.pretrained, self.freeze_llm, self.llm_dtype = pretrained, freeze_llm, _DTYPES[llm_dtype]
        self.tokens_per_step, self.proprio = tokens_per_step, proprio
        llm: Backbone = load_backbone(backbone, dtype=self.llm_dtype, config=backbone_config, pretrained=pretrained)
        self.llm = llm.decoder
        self.tokenizer = llm.tokenizer
        self.hidden_size = d = llm.hidden_size
        self.llm_trainable = not (freeze_llm and pretrained)
        # the resolved dtype travels with the weights: LLaRP.load rebuilds the policy from the algorithm's
        # policy_kwargs, whose "auto" could resolve differently on another machine; load_state_dict restores it
        self.register_buffer("llm_dtype_id", torch.tensor(_DTYPE_IDS[llm_dtype]))
        self.llm.requires_grad_(self.llm_trainable)
        self._instruction_kv: FrozenOutputCache[torch.Tensor] = FrozenOutputCache(instruction_cache)
        self.proprio_dim = proprio_dim(observation_space) if proprio != "none" else 0
        self.visual = make_visual_encoder(visual_encoder, visual_dim)
        self.visual_bf16 = visual_bf16
        in_dim = self.visual.out_dim + (self.proprio_dim if proprio == "concat" else 0)
        self.obs_proj = nn.Linear(in_dim, tokens_per_step * d)
        self.proprio_proj = nn.Linear(self.proprio_dim, d) if proprio == "token" else None
        self.step_tokens = tokens_per_step + (1 if proprio == "token" else 0)
        self.trunk = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, action_hidden), nn.ReLU(),
                                   nn.Linear(action_hidden, action_hidden), nn.ReLU())
        self.action_net = nn.Linear(action_hidden, int(action_space.n))
        self.value_net = nn.Linear(action_hidden, 1)
        trainable = [p for p in self.parameters() if p.requires_grad]
        self.optimizer = self.optimizer_class(trainable, lr=lr_schedule(1), **self.optimizer_kwargs)

    # --- SB3 plumbing ----------------------------------------------------------------------

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(backbone=self.backbone_name, backbone_config=self.backbone_config, pretrained=self.pretrained,
                    freeze_llm=self.freeze_llm, llm_dtype=[k for k, v in _DTYPES.items() if v == self.llm_dtype][0],
                    tokens_per_step=self.tokens_per_step, proprio=self.proprio, context_steps=self.context_steps,
                    instruction_cache=self._instruction_kv.capacity,
                    action_hidden=self.action_net.in_features, visual_dim=self.visual.out_dim,
                    visual_bf16=self.visual_bf16)
        return data

    @property
    def llm_is_stored(self) -> bool:
        """A frozen pretrained LLM is reloaded from its source, so checkpoints hold only the adapters."""
        return self.backbone_config is not None or self.llm_trainable

    def state_dict(self, *args, **kwargs):
        state = super().state_dict(*args, **kwargs)
        if not self.llm_is_stored:
            state = type(state)((k, v) for k, v in state.items() if not k.startswith("llm."))
        return state

    def _apply(self, fn, *args, **kwargs):
        self._instruction_kv.clear()  # cached keys/values would stay on the old device / dtype
        return super()._apply(fn, *args, **kwargs)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._instruction_kv.clear()  # a stored LLM (tiny configs, Scratch) may bring other weights
        self._adopt_llm_dtype(state_dict)
        missing_ok = () if self.llm_is_stored else tuple(k for k in super().state_dict() if k.startswith("llm."))
        missing_ok += ("llm_dtype_id",)  # checkpoints from before llm_dtype "auto"
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if k not in missing_ok]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"checkpoint does not fit the policy: missing {missing}, unexpected "
                               f"{result.unexpected_keys}")
        return result

    def _adopt_llm_dtype(self, state_dict) -> None:
        """Run the LLM in the dtype the checkpoint was trained with, whatever ``auto`` says on this machine
        (a dtype asked for by name is kept)."""
        if not self._dtype_was_auto:
            return
        code = state_dict.get("llm_dtype_id")
        if code is not None:
            name = {v: k for k, v in _DTYPE_IDS.items()}[int(code)]
        else:
            name = "bfloat16"  # written before "auto" existed, when the default was bfloat16
        if _DTYPES[name] != self.llm_dtype:
            print(f"LLM dtype {name}, as the checkpoint was trained (auto chose "
                  f"{str(self.llm_dtype).removeprefix('torch.')} here)", file=sys.stderr, flush=True)
            self.llm.to(_DTYPES[name])
            self.llm_dtype = _DTYPES[name]
            self.llm_dtype_id.fill_(_DTYPE_IDS[name])

    def train(self, mode: bool = True) -> "LLaRPPolicy":
        super().train(mode)
        if not self.llm.training or not mode:
            self.llm.eval()
        if not self.llm_trainable:
            self.llm.eval()  # no dropout in a frozen LLM
        return self

    # --- embeddings ----------------------------------------------------------------------------

    def embed_steps(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Observations (B, ...) -> step tokens (B, step_tokens, D) in fp32."""
        with torch.autocast(obs["rgb"].device.type, dtype=torch.bfloat16, enabled=self.visual_bf16):
            feats = self.visual(obs["rgb"]).float()
        n = feats.shape[0]
        if self.proprio != "none":
            prop = torch.cat([obs[k].float().reshape(n, -1) for k in PROPRIO_KEYS if k in obs], dim=1)
        if self.proprio == "concat":
            feats = torch.cat([feats, prop], dim=1)
        tokens = self.obs_proj(feats).view(n, self.tokens_per_step, self.hidden_size)
        if self.proprio == "token":
            tokens = torch.cat([tokens, self.proprio_proj(prop)[:, None]], dim=1)
        return tokens

    def embed_instruction(self, ids: torch.Tensor) -> torch.Tensor:
        """Token ids (B, K) -> the LLM's own (frozen) token embeddings (B, K, D)."""
        return self.llm.get_input_embeddings()(ids.long())

    def heads(self, hidden: torch.Tensor, action_mask: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits and values; skills where ``action_mask`` is 0 get (practically) no probability."""
        z = self.trunk(hidden.float())
        logits = self.action_net(z)
        if action_mask is not None:
            logits = logits.masked_fill(action_mask == 0, MASKED_LOGIT)
        return logits, self.value_net(z).squeeze(-1)

    def _decode(self, embeds: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any = None):
        return self.llm(inputs_embeds=embeds.to(self.llm_dtype), attention_mask=mask, position_ids=positions,
                        cache=cache, use_cache=cache is not None)

    # --- the update pass: whole episode chunks ----------------------------------------------------

    def evaluate_sequences(self, instruction: torch.Tensor, instruction_mask: torch.Tensor,
                           steps: dict[str, torch.Tensor], step_mask: torch.Tensor,
                           first_step: torch.Tensor | None = None, context: StepContext | None = None,
                           context_rows: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, T, A) and values (B, T) of every step of B sequences in one pass.

        instruction (B, K) ids and mask; ``steps[k]`` (B, T, ...) observations of consecutive
        steps of an episode (left-aligned), ``step_mask`` (B, T) which of them exist, ``first_step``
        (B,) the episode step of each row's first one (default 0). The steps attend to the
        instruction through its key/value cache, and to the steps in their context window, as in
        rollouts. Rows with ``context_rows[b] >= 0`` continue from that row of ``context`` (a
        rollout-start context, whose keys/values are used as they are, detached) instead of their
        instruction alone.
        """
        ctx = self.encode_instruction(instruction, instruction_mask)
        if context is not None and context_rows is not None and bool((context_rows >= 0).any()):
            ctx = self._continue_from(ctx, context, context_rows)
        hidden, _ = self._decode_after(ctx, *self._step_block(steps, step_mask), first_step)
        s = self.step_tokens
        return self.heads(hidden[:, s - 1::s], steps.get("action_mask"))  # (B, T, D): the last token of every step

    def _continue_from(self, fresh: StepContext, context: StepContext, rows: torch.Tensor) -> StepContext:
        """One batch context: row b is ``context``'s row ``rows[b]`` where that is >= 0, else ``fresh``'s."""
        width = max(fresh.kv.shape[4], context.kv.shape[4])
        out = StepContext.empty(len(rows), rows.device).resized(width, 0, self._kv_layout(rows.device))
        take = rows >= 0
        continued, own = take.nonzero().squeeze(1), (~take).nonzero().squeeze(1)  # batch rows of each kind
        source = rows.clamp(min=0)  # the context row each batch row would take
        out.kv[:, :, own, :, :fresh.kv.shape[4]] = fresh.kv[:, :, own]
        out.kv[:, :, continued, :, :context.kv.shape[4]] = context.kv[:, :, rows[continued]]
        out.pos[own, :fresh.pos.shape[1]] = fresh.pos[own]
        out.pos[continued, :context.pos.shape[1]] = context.pos[rows[continued]]
        out.count = torch.where(take, context.count[source], fresh.count)
        out.instruction = torch.where(take, context.instruction[source], fresh.instruction)
        return out

    def _step_block(self, steps: dict[str, torch.Tensor], step_mask: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, ...) observations -> their tokens (B, T * step_tokens, D) and token mask."""
        b, t = step_mask.shape
        flat = {k: v.reshape(b * t, *v.shape[2:]) for k, v in steps.items()}
        s = self.step_tokens
        tokens = self.embed_steps(flat).view(b, t * s, self.hidden_size)
        return tokens, step_mask.long().repeat_interleave(s, dim=1)

    def _decode_after(self, ctx: StepContext, block: torch.Tensor, bmask: torch.Tensor,
                      first_step: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """Decode a block of tokens (B, T, D) after each row's instruction in one pass; ``bmask`` (B, T)
        says which exist, ``first_step`` (B,) where the block starts in its episode. The hidden states
        and the transformers cache of instruction + block.

        A block no longer than the context window needs only the usual causal mask; a longer one gets
        a banded 4D mask, so each step sees the instruction and the steps of its own window.
        """
        s, t, device = self.step_tokens, block.shape[1], block.device
        first = torch.zeros_like(ctx.count) if first_step is None else first_step
        positions = (ctx.instruction[:, None] + first[:, None] * s + bmask.cumsum(1) - 1).clamp(min=0)
        holds_steps = bool((ctx.pos >= ctx.instruction[:, None]).any())
        if not holds_steps and (self.context_steps is None or t <= self.context_steps * s):
            mask = torch.cat([ctx.visible, bmask], dim=1)
        else:
            window = self.context_steps if self.context_steps is not None else 1 << 40
            step = torch.arange(t, device=device) // s
            query, key = torch.arange(t, device=device)[:, None], torch.arange(t, device=device)[None]
            band = (key <= query) & (step[:, None] - step[None] < window)  # (T, T)
            sees = band[None] & bmask[:, None].bool() | torch.eye(t, dtype=torch.bool, device=device)
            # the context's columns: its instruction, and (continued rows) the steps still in each query's window
            is_step = ctx.pos >= ctx.instruction[:, None]  # (B, C)
            column_step = torch.div(ctx.pos - ctx.instruction[:, None], s, rounding_mode="floor")
            query_step = first[:, None] + step[None]  # (B, T)
            in_window = query_step[:, :, None] - column_step[:, None, :] < window  # (B, T, C)
            context_sees = (ctx.visible.bool() & ~is_step)[:, None] | (is_step[:, None] & in_window)
            mask = self._attention_mask(torch.cat([context_sees, sees], dim=2)[:, None])  # (B, 1, T, C + T)
        out = self._decode(block, mask, positions, cache_holding(ctx.layers()))
        return out.last_hidden_state, out.cache

    def encode_instruction(self, instruction: torch.Tensor, instruction_mask: torch.Tensor) -> StepContext:
        """A fresh context per row holding its instruction (B, K ids, left-aligned).

        With a frozen LLM the instruction's keys/values depend on the token ids only: they
        keep no autograd graph (the update pass costs forward and backward over the step
        tokens alone) and come from an LRU cache, so each distinct instruction runs through
        the LLM once, not at every episode start, rollout prefill and PPO minibatch.
        """
        ids, mask = _trim(instruction, instruction_mask.long())
        if (mask[:, 1:] > mask[:, :-1]).any():
            raise ValueError("instruction_mask must be left-aligned in every row (its 1s first, then 0s)")
        if self.llm_trainable:
            return self._run_instruction(ids, mask)
        entries = self._instruction_kv.get(row_keys(ids, mask),
                                           lambda rows: self._instruction_entries(ids[rows], mask[rows]))
        return context_from_entries(entries)

    @torch.no_grad()
    def _instruction_entries(self, ids: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
        """Per row: the frozen LLM's keys/values of its real tokens, (layers, 2, heads, K_row, head_dim)."""
        ctx = self._run_instruction(ids, mask)
        return [ctx.kv[:, :, r, :, :n].clone() for r, n in enumerate(ctx.count.tolist())]

    def _run_instruction(self, ids: torch.Tensor, mask: torch.Tensor) -> StepContext:
        """The LLM over left-aligned instructions (padding columns come after each row's tokens)."""
        embeds = self.embed_instruction(ids)
        positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)
        out = self._decode(embeds, mask, positions, cache_holding([]))
        kv = torch.stack([torch.stack((layer.keys, layer.values)) for layer in out.cache.layers])
        return StepContext.of_instructions(kv, mask.sum(1))

    # --- rollouts: one step per env, writing into the key/value cache -------------------------------

    def act(self, obs: dict[str, torch.Tensor], ctx: StepContext, episode_start: torch.Tensor,
            in_place: bool = False) -> tuple[torch.Tensor, torch.Tensor, StepContext]:
        """Logits (N, A) and values (N,) for the newest observation of each env, and the extended context.

        Envs with ``episode_start`` forget their cached tokens and begin with their
        instruction, which is encoded for those envs only and written into the cache.
        ``in_place=True`` lets the step write into ``ctx`` itself (rollouts, which never
        return to an old context); otherwise ``ctx`` is left as it was, since ``predict``
        may be handed the same state twice, and the step extends a copy.
        """
        if not in_place:
            ctx = ctx.clone()
        start = episode_start.bool()
        if start.any():
            self._start_episodes(ctx, start, obs["instruction"], obs["instruction_mask"])
        hidden = self._append(ctx, self.embed_steps(obs))
        logits, values = self.heads(hidden[:, -1], obs.get("action_mask"))
        return logits, values, ctx

    @property
    def context_span(self) -> int | None:
        """Step tokens the context window holds (None: the whole episode)."""
        return None if self.context_steps is None else self.context_steps * self.step_tokens

    def _start_episodes(self, ctx: StepContext, start: torch.Tensor, instruction: torch.Tensor,
                        instruction_mask: torch.Tensor) -> None:
        """Replace the context of the envs in ``start`` (in place) with their new instruction."""
        rows = start.nonzero().squeeze(1)
        fresh = self.encode_instruction(instruction[rows], instruction_mask[rows])
        width = fresh.kv.shape[4]
        ctx.count[rows] = ctx.instruction[rows] = 0
        self._reserve(ctx, max(width, ctx.base), int((ctx.count - ctx.instruction).max()) + self.step_tokens)
        ctx.kv[:, :, rows, :, :width] = fresh.kv
        ctx.pos[rows] = -1
        ctx.pos[rows, :width] = fresh.pos
        ctx.count[rows] = fresh.count
        ctx.instruction[rows] = fresh.count

    def _append(self, ctx: StepContext, block: torch.Tensor) -> torch.Tensor:
        """Decode a block of q tokens per env (N, q, D) after its context, writing their keys and values
        in place (over the step that leaves the window, if any); the hidden states (N, q, D)."""
        q = block.shape[1]
        offsets = (ctx.count - ctx.instruction)[:, None] + torch.arange(q, device=block.device)  # (N, q)
        self._reserve(ctx, ctx.base, int(offsets.max()) + 1)
        columns = ctx.step_columns(offsets, self.context_span)
        positions = ctx.count[:, None] + torch.arange(q, device=block.device)  # (N, q)
        rows = torch.arange(len(columns), device=block.device)[:, None]
        ctx.pos[rows, columns] = positions
        sees = (ctx.pos[:, None] >= 0) & (ctx.pos[:, None] <= positions[:, :, None])  # (N, q, capacity)
        cache = cache_holding([InPlaceLayer(k, v, rows, columns) for k, v in ctx.layers()])
        out = self._decode(block, self._attention_mask(sees[:, None]), positions, cache)
        ctx.count = ctx.count + q
        return out.last_hidden_state

    def _reserve(self, ctx: StepContext, base: int, steps: int) -> None:
        """Give ``ctx`` ``base`` instruction columns and room for ``steps`` step columns.

        With a context window the step region is exactly the window (a ring); without, it moves in
        blocks of 32 and shrinks only when far too large, so rollouts reallocate rarely. Columns of
        every env's episode are kept.
        """
        span = self.context_span
        window = getattr(self.llm.config, "sliding_window", None)
        attended = base + (steps if span is None else span)
        if window and attended > window:
            raise ValueError(f"an instruction and context of {attended} tokens exceeds the LLM's sliding window "
                             f"of {window} tokens (use a smaller context_steps or fewer tokens_per_step)")
        have = ctx.steps_width
        if span is not None:
            width = span
        elif steps <= have <= steps + 64:
            width = have
        else:
            width = -(-steps // 32) * 32
        if ctx.kv is None or base != ctx.base or width != have:
            ctx.adopt(ctx.resized(base, width, self._kv_layout(ctx.count.device)))

    def _kv_layout(self, device: torch.device) -> BufferShape:
        config = self.llm.config
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        return BufferShape(config.num_hidden_layers, heads, head_dim, self.llm_dtype, device)

    def _attention_mask(self, sees: torch.Tensor) -> torch.Tensor:
        """A ready 4D mask (N, 1, q, width) from booleans, in the form the LLM's attention kernel takes."""
        return ready_attention_mask(sees, self.llm.config, self.llm_dtype)

    def prefill(self, instruction: torch.Tensor, instruction_mask: torch.Tensor, steps: dict[str, torch.Tensor],
                step_mask: torch.Tensor, first_step: torch.Tensor | None = None) -> StepContext:
        """A fresh context holding each env's instruction and the given steps of its current episode
        (``first_step`` (B,): the episode step of the first; with a window, at most that many steps).

        Envs with no steps (their next observation starts an episode) get an empty context.
        """
        b, t = step_mask.shape
        if t == 0 or not step_mask.any():
            return StepContext.empty(b, instruction.device)
        ctx = self.encode_instruction(instruction, instruction_mask)
        block, bmask = self._step_block(steps, step_mask)
        _, cache = self._decode_after(ctx, block, bmask, first_step)
        s = self.step_tokens
        start = 0 if first_step is None else first_step[:, None] * s
        offsets = start + torch.arange(t * s, device=block.device)[None].expand(b, -1)
        return context_after_block(ctx, cache, bmask.bool(), offsets, self.context_span,
                                   self._kv_layout(block.device))

    # --- SB3 API -------------------------------------------------------------------------------------

    def forward(self, obs, deterministic: bool = False):  # pragma: no cover - LLaRP uses act()
        raise NotImplementedError("LLaRPPolicy needs per-env context: use act() with a StepContext, or predict()")

    def _predict(self, observation, deterministic: bool = False):  # pragma: no cover
        raise NotImplementedError("use predict(), which keeps the episode context in `state`")

    def predict(self, observation: dict[str, np.ndarray], state: StepContext | None = None,
                episode_start: np.ndarray | None = None, deterministic: bool = False
                ) -> tuple[np.ndarray, StepContext]:
        """SB3-style predict; ``state`` carries the episodes' context between calls (None to start)."""
        self.set_training_mode(False)
        obs, vectorized = self.obs_to_tensor(observation)
        obs = {k: v for k, v in obs.items()}
        n = next(iter(obs.values())).shape[0]
        if state is None:
            state = StepContext.empty(n, self.device)
            episode_start = np.ones(n, dtype=bool)
        if episode_start is None:
            episode_start = np.zeros(n, dtype=bool)
        start = torch.as_tensor(np.asarray(episode_start).reshape(n), device=self.device)
        with torch.no_grad():
            logits, _, state = self.act(obs, state, start)
            dist = Categorical(logits=logits)
            actions = logits.argmax(-1) if deterministic else dist.sample()
        actions = actions.cpu().numpy()
        return (actions if vectorized else actions[0]), state


def _trim(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop trailing instruction columns that are padding in every row (instructions are left-aligned)."""
    width = max(int(mask.sum(1).max().item()), 1)
    return ids[:, :width], mask[:, :width]
