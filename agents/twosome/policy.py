"""TwosomePolicy: an LLM that acts by scoring the texts of the valid actions (TWOSOME, Tan et al. 2024).

    prompt + " " + action_a  --LLM with LoRA-->  score_a = sum of log p(token | everything before it)
                                                  / (1, the action's tokens, or its words)
    pi(a | prompt) = softmax over the valid actions of score_a          (invalid actions: probability 0)
    V(prompt) = MLP(last hidden state of the prompt, LoRA disabled)     (the frozen backbone's features)

Actor and critic share one frozen backbone; only the LoRA adapters (actor) and the value head (critic)
learn. Scoring packs the batch's prompts and their candidates as prefix trees (``prefix_tree``: every
distinct prefix once, a 4D attention mask), one pass for the whole batch (``prompt_reuse=True``):
prompts are long, share their openings, and action texts are short, so this is several times faster
than the original's one padded sequence per candidate (``prompt_reuse=False``, kept for comparison;
both give the same numbers). The critic's features depend on the prompt only and the backbone is
frozen, so they are computed once per distinct prompt and kept. A batch scores each distinct decision
once, and a rollout (``fixed_weights()``) each distinct decision once in all: random play visits 17 to
~300 distinct states of TWOSOME's tasks, so most decisions of a rollout and of an update window repeat
one already scored.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from torch import nn
from torch.distributions import Categorical
from torch.nn import functional as F

from agents.nn.backbone import LLM_DTYPES, ready_attention_mask, resolve_llm_dtype
from agents.nn.frozen_cache import FrozenOutputCache, row_keys
from agents.nn.llm import DEFAULT_MODEL, load_tokenizer, model_source
from agents.twosome.prefix_tree import pack_prefix_trees

NORMALISATIONS = ("word", "token", "none")
#: logit of an invalid action: finite, so entropies stay finite, as in MaskablePPO
MASKED_LOGIT = -1e8
_DTYPE_IDS = {"float32": 0, "bfloat16": 1, "float16": 2}
#: distinct decisions whose logits ``fixed_weights()`` keeps (a rollout of 4 envs x 32 has at most 128)
FIXED_SCORES = 4096
#: positions per packed sequence of the scoring pass (bounds its N x N attention)
PACKED_NODES = 512


class TwosomePolicy(BasePolicy):
    """TWOSOME's actor-critic on a causal LLM (paper §4; facts: shared/spec/twosome.md §5).

    Args (besides SB3's observation_space, action_space, lr_schedule):
        model: causal LM name or path (``load_causal_lm`` sources); ``model_config`` builds a random one.
        normalisation: "word" (default, the paper's best), "token" or "none" (the sum of log-probs).
        lora_r, lora_alpha, lora_targets: the LoRA adapters (8, 16, q/v projections).
        value_hidden: the value head's layers on the last hidden state (1024, 512; no biases).
        llm_dtype: "auto" (bf16 where it is fast, see ``resolve_llm_dtype``), "bfloat16" or "float32".
        prompt_reuse: score candidates from the prompts' keys/values (True) or as full sequences.
        value_lr: the critic's learning rate (Adam); ``lr_schedule`` gives the actor's (AdamW).
        feature_cache: distinct prompts whose critic features are kept (0: recompute every time).
    """

    def __init__(self, observation_space: spaces.Dict, action_space: spaces.Discrete, lr_schedule,
                 model: str = DEFAULT_MODEL, model_config: Any = None, normalisation: str = "word", lora_r: int = 8,
                 lora_alpha: int = 16, lora_targets: tuple[str, ...] = ("q_proj", "v_proj"),
                 value_hidden: tuple[int, ...] = (1024, 512), llm_dtype: str = "auto", prompt_reuse: bool = True,
                 value_lr: float = 1e-5, feature_cache: int = 4096, use_sde: bool = False) -> None:
        super().__init__(observation_space, action_space)
        if normalisation not in NORMALISATIONS:
            raise ValueError(f"normalisation must be one of {', '.join(NORMALISATIONS)}; got {normalisation!r}")
        if llm_dtype != "auto" and llm_dtype not in LLM_DTYPES:
            raise ValueError(f"llm_dtype must be auto or one of {', '.join(LLM_DTYPES)}; got {llm_dtype!r}")
        from peft import LoraConfig, get_peft_model
        from transformers import AutoModelForCausalLM

        self._dtype_was_auto = llm_dtype == "auto"
        self.llm_dtype_name = resolve_llm_dtype(llm_dtype)
        dtype = LLM_DTYPES[self.llm_dtype_name]
        self.model_name, self.model_config, self.normalisation = model, model_config, normalisation
        self.lora_r, self.lora_alpha, self.lora_targets = lora_r, lora_alpha, tuple(lora_targets)
        self.value_hidden, self.prompt_reuse, self.value_lr = tuple(value_hidden), prompt_reuse, value_lr
        if model_config is None:
            base = AutoModelForCausalLM.from_pretrained(model_source(model), dtype=dtype)
            self.tokenizer = load_tokenizer(model)
        else:
            base = AutoModelForCausalLM.from_config(model_config, dtype=dtype)
            self.tokenizer = load_tokenizer(DEFAULT_MODEL)
        base.requires_grad_(False)
        lora = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=0.0, target_modules=list(self.lora_targets),
                          bias="none", task_type="CAUSAL_LM")
        self.llm = get_peft_model(base, lora)
        self.register_buffer("llm_dtype_id", torch.tensor(_DTYPE_IDS[self.llm_dtype_name]))
        width, layers = int(base.config.hidden_size), []
        for h in self.value_hidden:
            layers += [nn.Linear(width, h, bias=False), nn.ReLU()]
            width = h
        self.value_net = nn.Sequential(*layers, nn.Linear(width, 1, bias=False))
        self._features: FrozenOutputCache[torch.Tensor] = FrozenOutputCache(feature_cache)
        self._fixed_scores: FrozenOutputCache[torch.Tensor] | None = None  # set by fixed_weights()
        self.optimizer = torch.optim.AdamW(self.lora_parameters(), lr=lr_schedule(1), eps=1e-5, weight_decay=0.0)
        self.value_optimizer = torch.optim.Adam(self.value_net.parameters(), lr=value_lr, eps=1e-5)

    # --- SB3 plumbing ----------------------------------------------------------------------

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(model=self.model_name, model_config=self.model_config, normalisation=self.normalisation,
                    lora_r=self.lora_r, lora_alpha=self.lora_alpha, lora_targets=self.lora_targets,
                    value_hidden=self.value_hidden, llm_dtype=self.llm_dtype_name, prompt_reuse=self.prompt_reuse,
                    value_lr=self.value_lr, feature_cache=self._features.capacity)
        return data

    def lora_parameters(self) -> list[nn.Parameter]:
        return [p for name, p in self.llm.named_parameters() if "lora_" in name]

    def state_dict(self, *args, **kwargs):
        """The adapters, the value head and the dtype; the frozen backbone too only when it is a random config."""
        state = super().state_dict(*args, **kwargs)
        if self.model_config is None:
            state = type(state)((k, v) for k, v in state.items() if not k.startswith("llm.") or "lora_" in k)
        return state

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        self._features.clear()
        code = state_dict.get("llm_dtype_id")
        if code is not None and self._dtype_was_auto:
            name = {v: k for k, v in _DTYPE_IDS.items()}[int(code)]
            if name != self.llm_dtype_name:
                print(f"LLM dtype {name}, as the checkpoint was trained", file=sys.stderr, flush=True)
                self.llm.to(LLM_DTYPES[name])
                self.llm_dtype_name = name
        frozen = tuple(k for k in super().state_dict() if k.startswith("llm.") and "lora_" not in k)
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if self.model_config is not None or k not in frozen]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"checkpoint does not fit the policy: missing {missing}, unexpected "
                               f"{result.unexpected_keys}")
        return result

    def _apply(self, fn, *args, **kwargs):
        self._features.clear()  # kept features would stay on the old device / dtype
        return super()._apply(fn, *args, **kwargs)

    # --- scoring ---------------------------------------------------------------------------

    def action_logits(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, A) policy logits: each valid action's normalised score, ``MASKED_LOGIT`` elsewhere.

        Rows that are the same decision (same prompt, same valid actions and texts) are scored once:
        the paper's tasks have a few dozen distinct states, so a rollout or an update window repeats
        them many times. Inside ``fixed_weights()`` scores are also kept across calls.
        """
        valid = obs["valid"].bool()  # (B, A)
        if not valid.any(dim=1).all():
            empty = int((~valid.any(dim=1)).nonzero()[0, 0])
            raise ValueError(f"row {empty} of the batch has no valid action (an empty valid-action set)")
        scores = self._fixed_scores if self._fixed_scores is not None else FrozenOutputCache(0)
        rows = scores.get(decision_keys(obs), lambda index: list(self._score_rows(select_rows(obs, index))))
        return torch.stack(rows)  # duplicates share one row: their gradients add up in it

    @contextmanager
    def fixed_weights(self) -> Iterator[None]:
        """Keep every decision's logits while the weights cannot change (a rollout): each is scored once."""
        self._fixed_scores = FrozenOutputCache(FIXED_SCORES)
        try:
            yield
        finally:
            self._fixed_scores = None

    def _score_rows(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, A) the logits of ``action_logits``, every row through the LLM."""
        prompt_ids, prompt_mask = obs["prompt_ids"].long(), obs["prompt_mask"].long()  # (B, Lp), left-padded
        valid = obs["valid"].bool()  # (B, A)
        rows, acts = valid.nonzero(as_tuple=True)  # (C,): every candidate, as (env row, action id)
        cand_ids = obs["action_ids"].long()[rows, acts]  # (C, La), right-padded
        cand_mask = obs["action_token_mask"].long()[rows, acts]  # (C, La)
        prompt_ids, prompt_mask = _trim_left(prompt_ids, prompt_mask)
        width = max(int(cand_mask.sum(1).max()), 1)
        cand_ids, cand_mask = cand_ids[:, :width], cand_mask[:, :width]
        if self.prompt_reuse:
            token_logp = self._candidate_log_probs_reusing(prompt_ids, prompt_mask, rows, cand_ids, cand_mask)
        else:
            token_logp = self._candidate_log_probs_full(prompt_ids, prompt_mask, rows, cand_ids, cand_mask)
        score = (token_logp * cand_mask).sum(1)  # (C,)
        if self.normalisation == "token":
            score = score / cand_mask.sum(1).clamp(min=1)
        elif self.normalisation == "word":
            score = score / obs["action_words"].float()[rows, acts].clamp(min=1)
        logits = torch.full(valid.shape, MASKED_LOGIT, dtype=torch.float32, device=score.device)
        return logits.index_put((rows, acts), score.float())

    def _decode(self, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """(N, L, D) last hidden states of the LLM's decoder stack (LoRA active unless disabled)."""
        out = self.llm.get_base_model().model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                              use_cache=False)
        return out.last_hidden_state

    def _token_log_probs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(targets) from hidden states (..., D): the LM head on a flat contiguous batch, softmax in fp32."""
        flat = hidden.reshape(-1, hidden.shape[-1])
        logits = self.llm.get_base_model().lm_head(flat).float()  # (N, V)
        return F.log_softmax(logits, dim=-1).gather(1, targets.reshape(-1, 1)).view(targets.shape)

    def _candidate_log_probs_reusing(self, prompt_ids, prompt_mask, rows, cand_ids, cand_mask) -> torch.Tensor:
        """(C, La) log p of each candidate token, from one pass over the batch packed as prefix trees.

        Each distinct prefix of the prompts and of prompt + candidate (all its tokens but the last, which
        is never an input) is one position of a packed sequence; a token attends to its ancestors only
        and its position is its depth, so it gets the hidden state it has alone (``prefix_tree``).
        """
        dev = prompt_ids.device
        p_len, c_len = prompt_mask.sum(1).tolist(), cand_mask.sum(1).tolist()
        prompts = [prompt_ids[b, prompt_ids.shape[1] - n:].tolist() for b, n in enumerate(p_len)]
        owner = rows.tolist()
        branches = [(b, cand_ids[c, :c_len[c] - 1].tolist()) for c, b in enumerate(owner)]
        forest = pack_prefix_trees(prompts, branches, PACKED_NODES, dev)
        mask = ready_attention_mask(forest.sees[:, None], self.llm.config, LLM_DTYPES[self.llm_dtype_name])
        hidden = self._decode(forest.ids, mask, forest.positions)  # (P, N, D)
        # the node whose output predicts candidate token t: token p_len - 1 + t of prompt + candidate
        la = cand_ids.shape[1]
        column = torch.tensor([[path[p_len[b] - 1 + t] if t < c_len[c] else 0 for t in range(la)]
                               for c, (b, path) in enumerate(zip(owner, forest.nodes))], device=dev)  # (C, La)
        pack = torch.tensor(forest.pack, device=dev)[:, None]  # (C, 1)
        return self._token_log_probs(hidden[pack, column], cand_ids)

    def _candidate_log_probs_full(self, prompt_ids, prompt_mask, rows, cand_ids, cand_mask) -> torch.Tensor:
        """(C, La) the same, one padded sequence prompt + action per candidate (the original's way)."""
        ids = torch.cat([prompt_ids[rows], cand_ids], dim=1)  # (C, Lp + La)
        mask = torch.cat([prompt_mask[rows], cand_mask], dim=1)
        lp, la = prompt_ids.shape[1], cand_ids.shape[1]
        hidden = self._decode(ids, mask, (mask.cumsum(1) - 1).clamp(min=0))
        return self._token_log_probs(hidden[:, lp - 1:lp + la - 1], cand_ids)  # after the last prompt token on

    def prompt_features(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, D) fp32: the frozen backbone's last hidden state at each prompt's last token (adapters off)."""
        ids, mask = _trim_left(obs["prompt_ids"].long(), obs["prompt_mask"].long())

        def compute(index: list[int]) -> list[torch.Tensor]:
            sub_ids, sub_mask = _trim_left(ids[index], mask[index])
            with torch.no_grad(), self.llm.disable_adapter():
                hidden = self._decode(sub_ids, sub_mask, (sub_mask.cumsum(1) - 1).clamp(min=0))
            return list(hidden[:, -1].float())

        return torch.stack(self._features.get(row_keys(ids, mask), compute))

    # --- SB3 API -------------------------------------------------------------------------------------

    def distribution(self, obs: dict[str, torch.Tensor]) -> Categorical:
        return Categorical(logits=self.action_logits(obs))

    def forward(self, obs: dict[str, torch.Tensor], deterministic: bool = False):
        dist = self.distribution(obs)
        actions = dist.probs.argmax(-1) if deterministic else dist.sample()
        return actions, self.predict_values(obs), dist.log_prob(actions)

    def predict_values(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.value_net(self.prompt_features(obs))  # (B, 1)

    def evaluate_actions(self, obs: dict[str, torch.Tensor], actions: torch.Tensor):
        dist = self.distribution(obs)
        actions = actions.long().reshape(-1)
        return self.predict_values(obs), dist.log_prob(actions), dist.entropy()

    def action_probabilities(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        """(B, A) the policy's probabilities for a batch of tokenized observations (0 on invalid actions)."""
        obs, _ = self.obs_to_tensor(observation)
        with torch.no_grad():
            return self.distribution(obs).probs.cpu().numpy()

    def _predict(self, observation: dict[str, torch.Tensor], deterministic: bool = False) -> torch.Tensor:
        dist = self.distribution(observation)
        return dist.probs.argmax(-1) if deterministic else dist.sample()


def decision_keys(obs: dict[str, torch.Tensor]) -> list[bytes]:
    """One key per row of a batch: everything its logits depend on (the prompt's real tokens; the valid
    actions' ids, tokens and word counts), whatever the padding and the invalid actions' slots hold."""
    prompt = row_keys(obs["prompt_ids"], obs["prompt_mask"])
    valid = obs["valid"].bool().cpu().numpy()  # (B, A)
    tokens = (obs["action_ids"].long() * obs["action_token_mask"].long()).cpu().numpy()  # (B, A, La), padding 0
    words = obs["action_words"].float().cpu().numpy()  # (B, A)
    return [np.int64(len(p)).tobytes() + p + np.flatnonzero(v).tobytes() + t[v].tobytes() + w[v].tobytes()
            for p, v, t, w in zip(prompt, valid, tokens, words)]


def select_rows(obs: dict[str, torch.Tensor], index: list[int]) -> dict[str, torch.Tensor]:
    """The rows ``index`` of every tensor of a batch of observations."""
    rows = torch.as_tensor(index, device=obs["valid"].device)
    return {k: v[rows] for k, v in obs.items()}


def _trim_left(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop leading columns that are padding in every row (prompts are left-padded)."""
    width = max(int(mask.sum(1).max().item()), 1)
    return ids[:, -width:], mask[:, -width:]
