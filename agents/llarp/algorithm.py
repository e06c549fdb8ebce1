"""LLaRP: PPO for a frozen-LLM policy, as a Stable-Baselines3 on-policy algorithm.

Modelled on sb3-contrib's RecurrentPPO, with an LLM's episode context instead of an LSTM
state: rollouts decode one step per env with the key/value cache; the update recomputes
whole episode chunks in one masked pass (``LLaRPPolicy.evaluate_sequences``). Defaults
are the paper's Table 3. Under ``torchrun`` (``torch.distributed`` initialised), every
rank collects its own rollouts and gradients are averaged across ranks (DD-PPO).
"""
from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import numpy as np
import torch
import torch.distributed as dist
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.type_aliases import GymEnv, Schedule
from stable_baselines3.common.utils import FloatSchedule, explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv
from torch.distributions import Categorical
from torch.nn import functional as F

from agents.llarp.buffer import EpisodeContextBuffer
from agents.llarp.policy import LLaRPPolicy, StepContext


#: the value-loss choices: squared error, or Huber with delta 1 (less sway from large return errors)
VALUE_LOSSES = {"mse": F.mse_loss, "huber": F.huber_loss}
#: how a rollout's context of earlier steps is made: re-encoded with the current parameters (gradients
#: flow through it in the update), or kept from the last rollout, as Transformer-XL keeps its memory
PREFIX_CONTEXTS = ("recompute", "cached")


class LLaRP(OnPolicyAlgorithm):
    """PPO with an LLM policy over whole-episode contexts (paper §3.2).

    Args (paper Table 3 defaults):
        learning_rate: 3e-4 (AdamW, set in the policy).
        n_steps: 32 rollout steps per env.
        n_minibatches: 6 minibatches per epoch (of episode segments, about equal in steps).
        n_epochs: 1 PPO epoch.
        ent_coef: 0.01; vf_coef: 0.5; clip_range: 0.2; max_grad_norm: 0.5 (gradient clipping).
        gamma, gae_lambda: 0.99, 0.95.
        value_loss: "mse" (default) or "huber" (delta 1; the paper's fix on Atari, C.6, where value
            errors on large returns destabilised the actor).
        prefix_context: how a rollout sees the steps its episodes took before it. "recompute" (default):
            the last ``context_steps - 1`` steps are re-encoded with the current parameters at the rollout
            start and again in the update, gradients flowing through them. "cached": the keys/values the
            previous rollout left are kept (computed with the previous parameters) and the update attends
            to them detached, as Transformer-XL's memory; it saves a visual-encoder and LLM pass over
            those steps in the rollout and a forward + backward in the update (~2x on Atari).
        value_warmup_updates: the first N updates train the value head alone (the rest of the policy keeps
            its weights): PPO started from a behaviour-cloned policy (IL->RL) first learns its values.
    Episode ends (success or the 32-step horizon) are terminal: the horizon is part of the task.
    """

    policy_aliases: ClassVar[dict[str, type[LLaRPPolicy]]] = {"LLaRPPolicy": LLaRPPolicy}

    def __init__(self, policy: str | type[LLaRPPolicy], env: GymEnv | str, learning_rate: float | Schedule = 3e-4,
                 n_steps: int = 32, n_minibatches: int = 6, n_epochs: int = 1, gamma: float = 0.99,
                 gae_lambda: float = 0.95, clip_range: float | Schedule = 0.2, normalize_advantage: bool = True,
                 ent_coef: float = 0.01, vf_coef: float = 0.5, max_grad_norm: float = 0.5,
                 value_loss: str = "mse", prefix_context: str = "recompute", value_warmup_updates: int = 0,
                 stats_window_size: int = 100, tensorboard_log: str | None = None,
                 policy_kwargs: dict[str, Any] | None = None, verbose: int = 0, seed: int | None = None,
                 device: torch.device | str = "auto", _init_setup_model: bool = True) -> None:
        super().__init__(policy, env, learning_rate=learning_rate, n_steps=n_steps, gamma=gamma,
                         gae_lambda=gae_lambda, ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm,
                         use_sde=False, sde_sample_freq=-1, rollout_buffer_class=EpisodeContextBuffer,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log,
                         policy_kwargs=policy_kwargs, verbose=verbose, seed=seed, device=device,
                         _init_setup_model=False, supported_action_spaces=(spaces.Discrete,))
        if n_minibatches < 1:
            raise ValueError(f"n_minibatches must be >= 1, got {n_minibatches}")
        if value_loss not in VALUE_LOSSES:
            raise ValueError(f"value_loss must be one of {', '.join(VALUE_LOSSES)}, got {value_loss!r}")
        if prefix_context not in PREFIX_CONTEXTS:
            raise ValueError(f"prefix_context must be one of {', '.join(PREFIX_CONTEXTS)}, got {prefix_context!r}")
        if not isinstance(value_warmup_updates, int) or value_warmup_updates < 0:
            raise ValueError(f"value_warmup_updates must be an int >= 0, got {value_warmup_updates!r}")
        self.value_warmup_updates = value_warmup_updates
        self.prefix_context = prefix_context
        self.value_loss = value_loss
        self.n_minibatches = n_minibatches
        self.n_epochs = n_epochs
        self.clip_range = clip_range
        self.normalize_advantage = normalize_advantage
        if _init_setup_model:
            self._setup_model()

    def _setup_model(self) -> None:
        super()._setup_model()
        self.clip_range = FloatSchedule(self.clip_range)
        # each env's current episode: its last steps' observations (the context a new rollout starts from;
        # with a context window, the window minus the step about to come) and how many steps it has taken
        window = self.policy.context_steps
        self._history = [deque(maxlen=None if window is None else window - 1) for _ in range(self.n_envs)]
        self._episode_steps = np.zeros(self.n_envs, dtype=np.int64)
        self._carried: StepContext | None = None  # prefix_context="cached": the context the last rollout left
        self._shuffle_rng = np.random.default_rng(self.seed)

    def _excluded_save_params(self) -> list[str]:
        return super()._excluded_save_params() + ["_history", "_episode_steps", "_carried", "_shuffle_rng"]

    # --- rollouts ----------------------------------------------------------------------------------

    def _history_prefix(self) -> tuple[list[list[dict[str, np.ndarray]]], np.ndarray]:
        """Per env: the kept steps of its unfinished episode, and the episode step of the first of them."""
        starts = np.asarray(self._last_episode_starts, dtype=bool)
        prefix = [[] if starts[e] else list(h) for e, h in enumerate(self._history)]
        first = np.where(starts, 0, self._episode_steps - np.array([len(p) for p in prefix]))
        return prefix, first

    def _context_from_history(self, prefix: list[list[dict[str, np.ndarray]]], first: np.ndarray) -> StepContext:
        """Re-encode every env's unfinished episode with the current parameters (caches go stale after updates)."""
        lengths = [len(p) for p in prefix]
        n, t = self.n_envs, max(lengths)
        space = self.observation_space
        if t == 0:
            return StepContext.empty(n, self.device)
        keys = [k for k in space.spaces if k not in ("instruction", "instruction_mask")]
        steps = {k: np.zeros((n, t, *space[k].shape), dtype=space[k].dtype) for k in keys}
        instr = np.zeros((n, *space["instruction"].shape), dtype=np.int64)
        imask = np.zeros((n, *space["instruction_mask"].shape), dtype=np.int64)
        mask = np.zeros((n, t), dtype=bool)
        for e, h in enumerate(prefix):
            if lengths[e]:
                instr[e], imask[e] = h[0]["instruction"], h[0]["instruction_mask"]
                for j, o in enumerate(h):
                    for k in keys:
                        steps[k][e, j] = o[k]
                mask[e, :lengths[e]] = True
        tt = lambda x: torch.as_tensor(x, device=self.device)  # noqa: E731
        with torch.no_grad():
            return self.policy.prefill(tt(instr), tt(imask), {k: tt(v) for k, v in steps.items()}, tt(mask), tt(first))

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: EpisodeContextBuffer,
                         n_rollout_steps: int) -> bool:
        assert self._last_obs is not None, "no previous observation was provided"
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        cached = self.prefix_context == "cached"
        if cached:  # continue from the keys/values the last rollout left (computed with the old parameters)
            starts = np.asarray(self._last_episode_starts, dtype=bool)
            ctx = self._carried if self._carried is not None else StepContext.empty(self.n_envs, self.device)
            rollout_buffer.set_prefix([[]] * self.n_envs, np.where(starts, 0, self._episode_steps),
                                      context=None if starts.all() or ctx.kv is None else ctx.clone())
        else:
            prefix, first = self._history_prefix()
            rollout_buffer.set_prefix(prefix, first)
            ctx = self._context_from_history(prefix, first)
        callback.on_rollout_start()
        n_steps = 0
        while n_steps < n_rollout_steps:
            obs = self._last_obs
            with torch.no_grad():
                logits, values, ctx = self.policy.act(obs_as_tensor(obs, self.device), ctx,
                                                      torch.as_tensor(self._last_episode_starts, device=self.device),
                                                      in_place=True)
                distribution = Categorical(logits=logits)
                actions = distribution.sample()
                log_probs = distribution.log_prob(actions)
            new_obs, rewards, dones, infos = env.step(actions.cpu().numpy())
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            n_steps += 1
            rollout_buffer.add(obs, actions.cpu().numpy().reshape(-1, 1), rewards, self._last_episode_starts,
                               values, log_probs)
            for e in range(env.num_envs):
                if self._last_episode_starts[e]:
                    self._history[e].clear()
                    self._episode_steps[e] = 0
                if not cached:  # (cached: the carried keys/values stand for the earlier steps)
                    self._history[e].append({k: v[e] for k, v in obs.items()})
                self._episode_steps[e] += 1
            self._last_obs = new_obs
            self._last_episode_starts = dones
        with torch.no_grad():
            # (cached: the next rollout continues from ctx, so the bootstrap step must not write into it)
            _, last_values, _ = self.policy.act(obs_as_tensor(new_obs, self.device), ctx,
                                                torch.as_tensor(dones, device=self.device), in_place=not cached)
        if cached:
            self._carried = ctx
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True

    # --- the PPO update ------------------------------------------------------------------------------

    def train(self) -> None:
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.optimizer)
        clip_range = self.clip_range(self._current_progress_remaining)
        trainable = [p for p in self.policy.parameters() if p.requires_grad]
        warming_up = self._n_updates < self.value_warmup_updates  # IL->RL: the value head alone learns
        frozen = [p for n, p in self.policy.named_parameters() if p.requires_grad and not n.startswith("value_net.")]
        pg_losses, value_losses, entropy_losses, clip_fractions = [], [], [], []
        for _ in range(self.n_epochs):
            batches = list(self.rollout_buffer.sequence_batches(self.n_minibatches, self._shuffle_rng))
            for batch in batches[:_common_count(len(batches), self.device)]:
                logits, values = self.policy.evaluate_sequences(
                    batch.instruction, batch.instruction_mask, batch.steps, batch.step_mask, batch.first_step,
                    batch.context, batch.context_rows)  # (B, T, A), (B, T)
                logits, values = logits[batch.score_mask], values[batch.score_mask]  # (n,A), (n,)
                distribution = Categorical(logits=logits)
                log_prob = distribution.log_prob(batch.actions)
                advantages = batch.advantages
                if self.normalize_advantage and len(advantages) > 1:
                    advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
                ratio = torch.exp(log_prob - batch.old_log_prob)
                policy_loss = -torch.min(advantages * ratio,
                                         advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)).mean()
                value_loss = VALUE_LOSSES[self.value_loss](values, batch.returns)
                entropy_loss = -distribution.entropy().mean()
                loss = policy_loss + self.ent_coef * entropy_loss + self.vf_coef * value_loss
                self.policy.optimizer.zero_grad()
                (self.vf_coef * value_loss if warming_up else loss).backward()
                if warming_up:
                    for p in frozen:
                        p.grad = None
                _all_reduce_gradients(trainable)
                torch.nn.utils.clip_grad_norm_(trainable, self.max_grad_norm)
                self.policy.optimizer.step()
                pg_losses.append(policy_loss.item())
                value_losses.append(value_loss.item())
                entropy_losses.append(entropy_loss.item())
                clip_fractions.append(torch.mean((torch.abs(ratio - 1) > clip_range).float()).item())
        self._n_updates += self.n_epochs
        explained = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/policy_gradient_loss", float(np.mean(pg_losses)))
        self.logger.record("train/value_loss", float(np.mean(value_losses)))
        self.logger.record("train/entropy_loss", float(np.mean(entropy_losses)))
        self.logger.record("train/clip_fraction", float(np.mean(clip_fractions)))
        self.logger.record("train/explained_variance", float(explained))
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/clip_range", clip_range)

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 1, tb_log_name: str = "LLaRP",
              reset_num_timesteps: bool = True, progress_bar: bool = False):
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps,
                             progress_bar=progress_bar)


def _common_count(n: int, device: torch.device) -> int:
    """The number of minibatches every rank has (ranks must make the same number of all-reduce calls)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return n
    t = torch.tensor([n], device=device)  # nccl reduces CUDA tensors only
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


def _all_reduce_gradients(params: list[torch.nn.Parameter]) -> None:
    """DD-PPO: average gradients over ranks (a no-op without torch.distributed)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        p.grad = flat[offset:offset + n].view_as(p).to(p.dtype)
        offset += n
