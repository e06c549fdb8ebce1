"""Stable-Baselines3 callbacks of a training run: each does one thing, and they compose in a ``CallbackList``.

* :class:`EpisodeCurve` follows a metric of finished episodes (success, or an Atari game's raw score)
  into ``curve.json`` and TensorBoard;
* :class:`TimeBudget` stops training once a budget of training seconds is spent (on every DD-PPO
  rank at once);
* :class:`Checkpointing` saves an atomic checkpoint every N steps (rank 0);
* :class:`HeldOutEvaluation` evaluates on held-out episodes every N steps (rank 0);
* :class:`ProgressBar` shows steps/s and the metric, and says so when the run slows down.

They share a :class:`TrainingClock`: training seconds across resumes, without the evaluations.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from stable_baselines3.common.callbacks import BaseCallback

from agents.checkpoints import save_checkpoint
from gym_langrearrange.files import atomic_write_json


@dataclass(frozen=True)
class EpisodeMetric:
    """What the progress bar and ``curve.json`` follow: a number read from the ``info`` of an episode's
    last step (None: the info holds none)."""

    name: str
    read: Callable[[dict[str, Any]], float | None]
    log_key: str  # the TensorBoard tag
    percent: bool = False

    def format(self, value: float) -> str:
        return f"{value:.1%}" if self.percent else f"{value:.1f}"


#: Language Rearrangement: the share of recent episodes that succeeded
SUCCESS = EpisodeMetric("success", lambda info: float(info.get("success", False)), "rollout/success_rate",
                        percent=True)


class TrainingClock:
    """Training seconds: ``offset`` from earlier runs plus this one's, less the time spent evaluating."""

    def __init__(self, offset: float = 0.0) -> None:
        self.offset = offset
        self._t0 = time.perf_counter()
        self._paused = 0.0

    def start(self) -> None:
        self._t0, self._paused = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return self.offset + time.perf_counter() - self._t0 - self._paused

    def pause(self, seconds: float) -> None:
        self._paused += seconds


def steps_of(model: Any, world: int) -> int:
    """Environment steps of all ranks together."""
    return model.num_timesteps * world


class EpisodeCurve(BaseCallback):
    """The metric of recent finished episodes (the last 200): logged and appended to ``curve`` at every
    rollout end, as ``[steps, value]``; ``curve`` starts from an earlier run's."""

    def __init__(self, metric: EpisodeMetric = SUCCESS, curve: list | None = None, world: int = 1) -> None:
        super().__init__()
        self.metric, self.world = metric, world
        self.curve: list[tuple[int, float]] = [tuple(c) for c in curve or []]
        self.recent: list[float] = []

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            value = self.metric.read(info) if done else None
            if value is not None:
                self.recent.append(value)
        self.recent = self.recent[-200:]
        return True

    @property
    def value(self) -> float:
        return float(np.mean(self.recent)) if self.recent else float("nan")

    def _on_rollout_end(self) -> None:
        if self.recent:
            self.logger.record(self.metric.log_key, self.value)
            self.curve.append((steps_of(self.model, self.world), self.value))


class TimeBudget(BaseCallback):
    """Stop after ``budget`` training seconds (None: never), checked as each rollout starts.

    The decision is rank 0's, broadcast to every rank, so DD-PPO ranks stop after the same update:
    a rank that stopped alone would leave the others waiting in the gradient all-reduce. Rank 0's
    clock because only rank 0 runs (and discounts) the held-out evaluations.
    """

    def __init__(self, budget: float | None, clock: TrainingClock, world: int = 1) -> None:
        super().__init__()
        self.budget, self.clock, self.world = budget, clock, world
        self.spent = False

    def _on_rollout_start(self) -> None:
        self.spent = self.budget_spent()

    def budget_spent(self) -> bool:
        if self.budget is None:
            return False
        spent = torch.tensor([float(self.clock.elapsed() > self.budget)])
        if self.world > 1:
            if dist.get_backend() == "nccl":
                spent = spent.cuda()
            dist.broadcast(spent, src=0)
        return bool(spent.item())

    def _on_step(self) -> bool:
        return not self.spent


class HeldOutEvaluation(BaseCallback):
    """Every ``every`` steps, ``evaluator(model) -> held-out success``, appended to ``evals`` with the
    steps and training seconds (its own time is not training time). A resumed run continues the
    schedule: no extra evaluation right after resuming."""

    def __init__(self, evaluator: Callable[[Any], float], every: int, clock: TrainingClock,
                 evals: list | None = None, world: int = 1, log_dir: Path | None = None) -> None:
        super().__init__()
        self.evaluator, self.every, self.clock, self.world = evaluator, every, clock, world
        self.evals: list[dict[str, float]] = list(evals or [])
        self.log_dir = Path(log_dir) if log_dir else None
        self._next = 0

    def _on_training_start(self) -> None:
        self._next = self.evals[-1]["steps"] + self.every if self.evals else 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        steps = steps_of(self.model, self.world)
        if self.every and steps >= self._next:
            self.run()
            self._next = steps + self.every

    def run(self) -> None:
        t0 = time.perf_counter()
        success = self.evaluator(self.model)
        self.clock.pause(time.perf_counter() - t0)
        self.evals.append({"steps": steps_of(self.model, self.world), "seconds": round(self.clock.elapsed(), 1),
                           "heldout_success": success})
        self.logger.record("eval/heldout_success", success)
        if self.log_dir is not None:
            atomic_write_json(self.log_dir / "evals.json", self.evals)

    @property
    def is_current(self) -> bool:
        """Whether the last evaluation is of the model as it is now."""
        return bool(self.evals) and self.evals[-1]["steps"] >= steps_of(self.model, self.world)


class Checkpointing(BaseCallback):
    """An atomic checkpoint (with the training seconds so far) every ``every`` steps, then the logs up
    to it (``logs()``: file name -> list), so a killed run keeps them up to its last checkpoint."""

    def __init__(self, folder: Path, meta: dict[str, Any], every: int, clock: TrainingClock,
                 logs: Callable[[], dict[str, list]] = dict, log_dir: Path | None = None, world: int = 1) -> None:
        super().__init__()
        self.folder, self.meta, self.every, self.clock = Path(folder), meta, every, clock
        self.logs, self.log_dir, self.world = logs, (Path(log_dir) if log_dir else None), world
        self._next = every

    def _on_training_start(self) -> None:
        self._next = (steps_of(self.model, self.world) // self.every + 1) * self.every

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        steps = steps_of(self.model, self.world)
        if steps >= self._next:
            self.save()
            self._next = (steps // self.every + 1) * self.every

    def save(self) -> None:
        save_checkpoint(self.model, self.folder, {**self.meta, "train_seconds": round(self.clock.elapsed(), 1)})
        if self.log_dir is not None:
            for name, items in self.logs().items():
                atomic_write_json(self.log_dir / name, list(items))


class ProgressBar(BaseCallback):
    """A tqdm bar over ``total`` steps with steps/s and the curve's metric. When a rollout + update runs
    at under a third of the run's best rate, the bar says so: the usual cause is another process on
    the same cores (see the README, 'CPU threads')."""

    def __init__(self, total: int, clock: TrainingClock, curve: EpisodeCurve, world: int = 1) -> None:
        super().__init__()
        self.total, self.clock, self.curve, self.world = total, clock, curve, world
        self._bar = None
        self._s0 = 0
        self._last: tuple[float, int] | None = None  # (training seconds, steps) at the last rollout end
        self._best = 0.0

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=self.total, initial=steps_of(self.model, self.world), unit="step",
                         dynamic_ncols=True, desc="training")
        self._s0 = self.model.num_timesteps
        self._t0 = self.clock.elapsed()

    def _on_step(self) -> bool:
        rate = (self.model.num_timesteps - self._s0) * self.world / max(self.clock.elapsed() - self._t0, 1e-9)
        self._bar.set_postfix_str(f"{rate:.0f} steps/s, {self.curve.metric.name} "
                                  f"{self.curve.metric.format(self.curve.value)}", refresh=False)
        self._bar.update(steps_of(self.model, self.world) - self._bar.n)  # redraws at most every 0.1 s
        return True

    def _on_rollout_end(self) -> None:
        now, steps = self.clock.elapsed(), steps_of(self.model, self.world)
        if self._last is not None and now > self._last[0]:
            rate = (steps - self._last[1]) / (now - self._last[0])
            self._best = max(self._best, rate)
            if rate < self._best / 3:
                self._bar.set_description_str(f"training (slow: {rate:.0f} steps/s, best {self._best:.0f}; "
                                              f"CPU contention? try --threads 1)", refresh=False)
            else:
                self._bar.set_description_str("training", refresh=False)
        self._last = (now, steps)

    def _on_training_end(self) -> None:
        self._bar.close()
