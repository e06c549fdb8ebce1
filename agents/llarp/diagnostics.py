"""Checks a user can run on any LLaRP model, e.g. after changing the backbone or the dtype."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from stable_baselines3.common.callbacks import CallbackList
from torch.distributions import Categorical


@dataclass
class RolloutUpdateGap:
    log_prob: float  # max |log-prob at rollout time - log-prob recomputed by the update pass|
    value: float  # the same for values
    continued: int  # rollout chunks that began inside an episode (the KV-cache prefix path was used)


def rollout_update_gap(model, rollouts: int = 3, minibatches: int = 2) -> RolloutUpdateGap:
    """Collect ``rollouts`` rollouts without updating, and compare what the cached step-by-step
    decoding computed with the parallel update pass over the same transitions.

    In fp32 the two agree to ~1e-6; in bf16 they differ by rounding (~1e-2), which PPO sees
    as slightly off-policy ratios.
    """
    model._setup_learn(10**9, callback=None)
    callback = CallbackList([])
    callback.init_callback(model)
    worst_logp = worst_value = 0.0
    continued = 0
    for _ in range(rollouts):  # no update in between: the parameters stay the same
        model.collect_rollouts(model.env, callback, model.rollout_buffer, model.n_steps)
        continued += int(model.rollout_buffer.continuing.sum())
        with torch.no_grad():
            for batch in model.rollout_buffer.sequence_batches(minibatches):
                logits, values = model.policy.evaluate_sequences(batch.instruction, batch.instruction_mask,
                                                                 batch.steps, batch.step_mask, batch.first_step,
                                                                 batch.context, batch.context_rows)
                logp = Categorical(logits=logits[batch.score_mask]).log_prob(batch.actions)
                worst_logp = max(worst_logp, (logp - batch.old_log_prob).abs().max().item())
                worst_value = max(worst_value, (values[batch.score_mask] - batch.old_values).abs().max().item())
    return RolloutUpdateGap(worst_logp, worst_value, continued)
