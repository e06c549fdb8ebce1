"""TWOSOME: PPO on an LLM that scores action texts, as a Stable-Baselines3 on-policy algorithm.

The update follows TWOSOME's trainer (shared/spec/twosome.md §6): per rollout, the critic first
(Adam, minibatches of 32, clipped value loss), then the actor (AdamW on the LoRA weights, minibatches
of 4 with advantages normalised within each, gradients accumulated over 8 minibatches per optimiser
step, the 8 computed in one pass; the step dropped and the actor's updates stopped for this rollout when the window's mean
approximate KL exceeds ``target_kl``). Both learning rates fall linearly to 0. A transition whose
action lasted k primitive steps (``info["macro_action_steps"]``, the salad tasks) is discounted by
gamma^k in GAE; an episode's end, success or time-out, is terminal (no bootstrapping), as in the
original.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import DictRolloutBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.type_aliases import GymEnv
from stable_baselines3.common.utils import explained_variance, obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from agents.twosome.policy import TwosomePolicy


class MacroDiscounts:
    """Rollout-buffer mixin: each transition discounted by its own factor (gamma^k for a k-step macro)."""

    def reset(self) -> None:
        super().reset()
        self.discounts = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)

    def compute_returns_and_advantage(self, last_values: torch.Tensor, dones: np.ndarray) -> None:
        last_values = last_values.clone().cpu().numpy().flatten()
        last_gae = 0.0
        for t in reversed(range(self.buffer_size)):
            if t == self.buffer_size - 1:
                not_done, next_values = 1.0 - dones.astype(np.float32), last_values
            else:
                not_done, next_values = 1.0 - self.episode_starts[t + 1], self.values[t + 1]
            g = self.discounts[t]  # (n_envs,): gamma^k_t
            delta = self.rewards[t] + g * next_values * not_done - self.values[t]
            last_gae = delta + g * self.gae_lambda * not_done * last_gae
            self.advantages[t] = last_gae
        self.returns = self.advantages + self.values


class MacroRolloutBuffer(MacroDiscounts, DictRolloutBuffer):
    """Dict observations (TWOSOME's tokenized prompts), per-transition discounts."""


class MacroBoxRolloutBuffer(MacroDiscounts, RolloutBuffer):
    """Vector observations (the plain-PPO baseline), per-transition discounts."""


class MacroDiscountRollouts(OnPolicyAlgorithm):
    """SB3's rollout loop, recording each transition's discount gamma^k (k = ``info["macro_action_steps"]``,
    1 when absent) and treating every episode end as terminal (no bootstrapping at time-outs), as TWOSOME's
    trainer and its PPO baseline do. Use with a :class:`MacroDiscounts` buffer."""

    def collect_rollouts(self, env: VecEnv, callback: BaseCallback, rollout_buffer: MacroDiscounts,
                         n_rollout_steps: int) -> bool:
        assert self._last_obs is not None, "no previous observation was provided"
        self.policy.set_training_mode(False)
        rollout_buffer.reset()
        callback.on_rollout_start()
        n_steps = 0
        while n_steps < n_rollout_steps:
            with torch.no_grad():
                actions, values, log_probs = self.policy(obs_as_tensor(self._last_obs, self.device))
            actions = actions.cpu().numpy()
            new_obs, rewards, dones, infos = env.step(actions)
            self.num_timesteps += env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                return False
            self._update_info_buffer(infos, dones)
            rollout_buffer.discounts[rollout_buffer.pos] = [self.gamma ** info.get("macro_action_steps", 1)
                                                            for info in infos]
            rollout_buffer.add(self._last_obs, actions.reshape(-1, 1), rewards, self._last_episode_starts, values,
                               log_probs)
            n_steps += 1
            self._last_obs, self._last_episode_starts = new_obs, dones
        with torch.no_grad():
            last_values = self.policy.predict_values(obs_as_tensor(new_obs, self.device))
        rollout_buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
        callback.update_locals(locals())
        callback.on_rollout_end()
        return True


class TWOSOME(MacroDiscountRollouts):
    """PPO for :class:`TwosomePolicy` (TWOSOME, Tan et al. 2024). Defaults: the Tomato Salad script's.

    Args:
        learning_rate: the actor's (LoRA) learning rate, 5e-7; ``value_learning_rate`` the critic's, 1e-5.
        n_steps: 32 decisions per env per rollout (4 envs: batches of 128).
        policy_minibatch_size: 4; gradient_accumulation_steps: 8 (an actor step every 32 samples).
        value_minibatch_size: 32. n_epochs: 1.
        gamma: 0.99 (0.95 on the household tasks); gae_lambda 0.95; clip_range 0.2; clip_range_vf 0.2.
        ent_coef: 0.01; vf_coef: 0.5 (value loss = vf_coef * 0.5 * mean(max(squared errors))).
        max_grad_norm: 0.5; target_kl: 0.02 (None: no early stop); anneal_lr: True.
    """

    policy_aliases: ClassVar[dict[str, type[TwosomePolicy]]] = {"TwosomePolicy": TwosomePolicy}

    def __init__(self, policy: str | type[TwosomePolicy], env: GymEnv | str, learning_rate: float = 5e-7,
                 value_learning_rate: float = 1e-5, n_steps: int = 32, policy_minibatch_size: int = 4,
                 gradient_accumulation_steps: int = 8, value_minibatch_size: int = 32, n_epochs: int = 1,
                 gamma: float = 0.99, gae_lambda: float = 0.95, clip_range: float = 0.2, clip_range_vf: float = 0.2,
                 ent_coef: float = 0.01, vf_coef: float = 0.5, max_grad_norm: float = 0.5,
                 target_kl: float | None = 0.02, anneal_lr: bool = True, normalize_advantage: bool = True,
                 stats_window_size: int = 100, tensorboard_log: str | None = None,
                 policy_kwargs: dict[str, Any] | None = None, verbose: int = 0, seed: int | None = None,
                 device: torch.device | str = "auto", _init_setup_model: bool = True) -> None:
        for name, value in (("policy_minibatch_size", policy_minibatch_size), ("value_minibatch_size", value_minibatch_size),
                            ("gradient_accumulation_steps", gradient_accumulation_steps), ("n_epochs", n_epochs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.learning_rate_start, self.anneal_lr = learning_rate, anneal_lr
        schedule = (lambda progress: learning_rate * progress) if anneal_lr else learning_rate
        policy_kwargs = {"value_lr": value_learning_rate, **(policy_kwargs or {})}
        super().__init__(policy, env, learning_rate=schedule, n_steps=n_steps, gamma=gamma, gae_lambda=gae_lambda,
                         ent_coef=ent_coef, vf_coef=vf_coef, max_grad_norm=max_grad_norm, use_sde=False,
                         sde_sample_freq=-1, rollout_buffer_class=MacroRolloutBuffer,
                         stats_window_size=stats_window_size, tensorboard_log=tensorboard_log,
                         policy_kwargs=policy_kwargs, verbose=verbose, seed=seed, device=device,
                         _init_setup_model=False, supported_action_spaces=(spaces.Discrete,))
        self.value_learning_rate = value_learning_rate
        self.policy_minibatch_size, self.value_minibatch_size = policy_minibatch_size, value_minibatch_size
        self.gradient_accumulation_steps, self.n_epochs = gradient_accumulation_steps, n_epochs
        self.clip_range, self.clip_range_vf, self.target_kl = clip_range, clip_range_vf, target_kl
        self.normalize_advantage = normalize_advantage
        if _init_setup_model:
            self._setup_model()

    def collect_rollouts(self, *args, **kwargs) -> bool:
        with self.policy.fixed_weights():  # weights change only in train(): a decision is scored once a rollout
            return super().collect_rollouts(*args, **kwargs)

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", "policy.optimizer", "policy.value_optimizer"], []

    # --- the update --------------------------------------------------------------------------------

    def train(self) -> None:
        self.policy.set_training_mode(True)
        # the fraction left when this update's rollout began (CleanRL's annealing: the first update at the full rate)
        progress = min(1.0, self._current_progress_remaining + self.n_steps * self.n_envs / self._total_timesteps)
        actor_lr = self.learning_rate_start * (progress if self.anneal_lr else 1.0)
        critic_lr = self.value_learning_rate * (progress if self.anneal_lr else 1.0)
        for group in self.policy.optimizer.param_groups:
            group["lr"] = actor_lr
        for group in self.policy.value_optimizer.param_groups:
            group["lr"] = critic_lr
        lora = self.policy.lora_parameters()
        critic = list(self.policy.value_net.parameters())
        value_losses, pg_losses, entropies, kls, clip_fractions, actor_steps, stopped = [], [], [], [], [], 0, False
        for _ in range(self.n_epochs):
            for batch in self.rollout_buffer.get(self.value_minibatch_size):  # the critic first
                values = self.policy.predict_values(batch.observations).flatten()  # (b,)
                clipped = batch.old_values + torch.clamp(values - batch.old_values, -self.clip_range_vf,
                                                         self.clip_range_vf)
                loss = self.vf_coef * 0.5 * torch.max((values - batch.returns) ** 2,
                                                      (clipped - batch.returns) ** 2).mean()
                self.policy.value_optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(critic, self.max_grad_norm)
                self.policy.value_optimizer.step()
                value_losses.append(loss.item())
            if stopped:
                continue
            # the actor: each accumulation window of 8 minibatches of 4 in one forward/backward pass (the same
            # gradient as accumulating them one by one: advantages are still normalised per minibatch)
            window, mb = self.policy_minibatch_size * self.gradient_accumulation_steps, self.policy_minibatch_size
            for batch in self.rollout_buffer.get(window):
                dist = self.policy.distribution(batch.observations)
                log_prob = dist.log_prob(batch.actions.long().flatten())  # (w,)
                advantages = batch.advantages.clone()  # (w,)
                groups = [slice(i, min(i + mb, len(advantages))) for i in range(0, len(advantages), mb)]
                if self.normalize_advantage:
                    for g in groups:
                        if g.stop - g.start > 1:
                            a = advantages[g]
                            advantages[g] = (a - a.mean()) / (a.std() + 1e-8)
                log_ratio = log_prob - batch.old_log_prob
                ratio = log_ratio.exp()
                per_sample = -torch.min(advantages * ratio,
                                        advantages * torch.clamp(ratio, 1 - self.clip_range, 1 + self.clip_range))
                entropy = dist.entropy()  # (w,)
                losses = [per_sample[g].mean() - self.ent_coef * entropy[g].mean() for g in groups]
                with torch.no_grad():
                    kls.append(((ratio - 1) - log_ratio).mean().item())  # approx KL (k3) over the window
                    clip_fractions.append((torch.abs(ratio - 1) > self.clip_range).float().mean().item())
                pg_losses.append(float(np.mean([per_sample[g].mean().item() for g in groups])))
                entropies.append(entropy.mean().item())
                if self.target_kl is not None and kls[-1] > self.target_kl:
                    stopped = True  # this window is dropped and the actor stops for this rollout
                    break
                self.policy.optimizer.zero_grad()
                (torch.stack(losses).sum() / self.gradient_accumulation_steps).backward()
                self._actor_step(lora)
                actor_steps += 1
        self._n_updates += self.n_epochs
        explained = explained_variance(self.rollout_buffer.values.flatten(), self.rollout_buffer.returns.flatten())
        self.logger.record("train/value_loss", float(np.mean(value_losses)))
        self.logger.record("train/policy_gradient_loss", float(np.mean(pg_losses)) if pg_losses else 0.0)
        self.logger.record("train/entropy", float(np.mean(entropies)) if entropies else 0.0)
        self.logger.record("train/approx_kl", float(np.mean(kls)) if kls else 0.0)
        self.logger.record("train/clip_fraction", float(np.mean(clip_fractions)) if clip_fractions else 0.0)
        self.logger.record("train/actor_steps", actor_steps)
        self.logger.record("train/kl_stopped", int(stopped))
        self.logger.record("train/explained_variance", float(explained))
        self.logger.record("train/learning_rate", actor_lr)
        self.logger.record("train/value_learning_rate", critic_lr)
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")

    def _actor_step(self, lora: list[torch.nn.Parameter]) -> None:
        torch.nn.utils.clip_grad_norm_(lora, self.max_grad_norm)
        self.policy.optimizer.step()
        self.policy.optimizer.zero_grad()

    def learn(self, total_timesteps: int, callback=None, log_interval: int = 1, tb_log_name: str = "TWOSOME",
              reset_num_timesteps: bool = True, progress_bar: bool = False):
        return super().learn(total_timesteps=total_timesteps, callback=callback, log_interval=log_interval,
                             tb_log_name=tb_log_name, reset_num_timesteps=reset_num_timesteps,
                             progress_bar=progress_bar)
