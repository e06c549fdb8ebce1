"""Behaviour cloning of LLaRP on expert demonstrations (LLaRP-IL; LLaRP-Scratch-IL with a random LLM).

The loss goes through the policy's masked parallel pass over whole episodes, the one PPO's update
uses (``LLaRPPolicy.evaluate_sequences``; ``tests/test_llarp.py`` shows it equals step-by-step
rollout decoding), so a cloned policy acts in rollouts exactly as it was trained:

    logits (B, T, A) = policy.evaluate_sequences(instruction, steps of B whole episodes)
    loss = mean over real steps of cross-entropy(logits, expert action)

Episodes are re-played from the demonstrations into observations (frames at the learner's image
size, its tokenizer's instruction), a batch of ``batch_episodes`` at a time, in a new random order
every pass over the demonstrations. The result is an ordinary LLaRP checkpoint.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from agents.imitation.demos import Demo, replay


@dataclass
class EpisodeBatch:
    instruction: torch.Tensor  # (B, K)
    instruction_mask: torch.Tensor  # (B, K)
    steps: dict[str, torch.Tensor]  # key -> (B, T, ...), left-aligned
    step_mask: torch.Tensor  # (B, T)
    actions: torch.Tensor  # (B, T) the expert's skills, the targets (0 where there is no step)


def episode_batch(env, demos: Sequence[Demo], device: torch.device | str = "cpu",
                  observation_space=None) -> EpisodeBatch:
    """Re-play ``demos`` in ``env`` (a TokenizeInstruction-wrapped LangRearrange env) into one batch.

    ``observation_space``: the model's; images are put channel-first where it has them so (SB3's vector
    env transposes them for training, ``VecTransposeImage``)."""
    episodes = [list(replay(env, demo)) for demo in demos]
    b, t = len(episodes), max(len(e) for e in episodes)
    first = episodes[0][0][0]
    keys = [k for k in first if k not in ("instruction", "instruction_mask")]
    steps = {k: np.zeros((b, t, *np.shape(first[k])), dtype=np.asarray(first[k]).dtype) for k in keys}
    mask, actions = np.zeros((b, t), dtype=bool), np.zeros((b, t), dtype=np.int64)
    instruction = np.stack([e[0][0]["instruction"] for e in episodes])
    instruction_mask = np.stack([e[0][0]["instruction_mask"] for e in episodes])
    for i, (demo, episode) in enumerate(zip(demos, episodes)):
        for j, (obs, _, _) in enumerate(episode):
            for k in keys:
                steps[k][i, j] = obs[k]
            mask[i, j], actions[i, j] = True, demo.targets[j]  # the expert's skill (a learner's episode: its label)

    if observation_space is not None:
        for k, v in steps.items():
            wanted = tuple(observation_space[k].shape)
            if v.shape[2:] != wanted and v.ndim == 5 and (v.shape[4], *v.shape[2:4]) == wanted:
                steps[k] = np.ascontiguousarray(np.moveaxis(v, 4, 2))  # (B, T, H, W, C) -> (B, T, C, H, W)

    def tensor(x):
        return torch.as_tensor(x, device=device)

    return EpisodeBatch(tensor(instruction), tensor(instruction_mask), {k: tensor(v) for k, v in steps.items()},
                        tensor(mask), tensor(actions))


def bc_loss(policy, batch: EpisodeBatch) -> tuple[torch.Tensor, float]:
    """(cross-entropy over the real steps, the share of them where the policy's argmax is the expert's)."""
    logits, _ = policy.evaluate_sequences(batch.instruction, batch.instruction_mask, batch.steps, batch.step_mask)
    logits, target = logits[batch.step_mask].float(), batch.actions[batch.step_mask]  # (n, A), (n,)
    return F.cross_entropy(logits, target), float((logits.argmax(-1) == target).float().mean())


def recurrent_bc_loss(policy, batch: EpisodeBatch) -> tuple[torch.Tensor, float]:
    """The same loss for an sb3-contrib recurrent policy (the LSTM baselines), through its PPO forward pass.

    ``evaluate_actions`` takes sequences flattened sequence-major, (B, T) -> B*T, each starting from a
    zero LSTM state, exactly how RecurrentPPO's update reads a rollout's sequences. The second number
    is the share of steps where the expert's skill has probability above 1/2 (so it is the argmax).
    """
    obs, states, starts = _recurrent_sequences(policy, batch)
    _, log_prob, _ = policy.evaluate_actions(obs, batch.actions.reshape(-1), states, starts)
    log_prob = log_prob.reshape(batch.step_mask.shape)[batch.step_mask]  # (n,)
    return -log_prob.mean(), float((log_prob > np.log(0.5)).float().mean())


def recurrent_logits(policy, batch: EpisodeBatch) -> torch.Tensor:
    """(B, T, A) action logits of a recurrent policy at every step, by the actor half of the pass above."""
    obs, states, starts = _recurrent_sequences(policy, batch)
    features = policy.extract_features(obs)
    features = features if policy.share_features_extractor else features[0]
    latent, _ = policy._process_sequence(features, states.pi, starts, policy.lstm_actor)
    logits = policy.action_net(policy.mlp_extractor.forward_actor(latent))  # (B*T, A)
    return logits.reshape(*batch.step_mask.shape, -1)


def _recurrent_sequences(policy, batch: EpisodeBatch):
    """``batch`` as sb3-contrib's sequence pass reads it: observations (B*T, ...), zero states, start flags."""
    from sb3_contrib.common.recurrent.type_aliases import RNNStates

    b, t = batch.step_mask.shape
    obs = {k: v.reshape(b * t, *v.shape[2:]) for k, v in batch.steps.items()}
    for key, value in (("instruction", batch.instruction), ("instruction_mask", batch.instruction_mask)):
        obs[key] = value[:, None].expand(b, t, *value.shape[1:]).reshape(b * t, *value.shape[1:])
    device = batch.actions.device
    states = RNNStates(*(tuple(torch.zeros(lstm.num_layers, b, lstm.hidden_size, device=device) for _ in range(2))
                         for lstm in (policy.lstm_actor, policy.lstm_critic or policy.lstm_actor)))
    # (B, T): each sequence is a whole episode from a zero state. No start flag at t = 0: it would reset a
    # state that is already zero (the same outputs) and send sb3-contrib down its step-by-step loop, where
    # with no flag anywhere it runs the whole sequence in one LSTM call (BC ~3x faster, backward included).
    return obs, states, torch.zeros(b * t, device=device)
