"""Aggregate statistics of a two-method comparison over many games (Agarwal et al. 2021), via ``rliable``.

Scores are human-normalised and form one (runs x games) matrix per method, the runs being
seeds. Per method: mean and median of the per-game means, interquartile mean (the mean of the
middle 50% of all run-game scores), optimality gap (mean shortfall below 1, scores clipped at
1), each with a 95% stratified bootstrap interval (runs resampled within each game). Between
the two: the probability that the first improves on the second (per game the Mann-Whitney
statistic of their runs, averaged over games) with its interval, and the number of games where
the first's mean is higher.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

METRICS = ("median", "iqm", "mean", "optimality_gap")


@dataclass(frozen=True)
class Estimate:
    """A point estimate and its 95% interval."""

    value: float
    low: float
    high: float


@dataclass(frozen=True)
class MethodAggregates:
    """One method's aggregates over games and runs."""

    median: Estimate
    iqm: Estimate
    mean: Estimate
    optimality_gap: Estimate


@dataclass(frozen=True)
class Comparison:
    """Method ``a`` against method ``b`` on the same games."""

    a: str
    b: str
    games: tuple[str, ...]
    aggregates: dict[str, MethodAggregates]
    probability_of_improvement: Estimate  # P(a > b)
    games_a_higher: int  # games where a's mean over runs is above b's (ties, to float rounding, not)


def _aggregate_functions():
    from rliable import metrics

    return {"median": metrics.aggregate_median, "iqm": metrics.aggregate_iqm, "mean": metrics.aggregate_mean,
            "optimality_gap": metrics.aggregate_optimality_gap}


def _check_matrix(name: str, scores: np.ndarray, games: int) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != games or scores.shape[0] < 1:
        raise ValueError(f"scores of {name!r} must be a (runs x {games} games) matrix, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"scores of {name!r} must be finite numbers")
    return scores


def compare(scores: dict[str, np.ndarray], games: tuple[str, ...] | list[str], reps: int = 50_000,
            seed: int = 0) -> Comparison:
    """Aggregates of both methods in ``scores`` (name -> normalised (runs x games) matrix; the first
    name is ``a``), from ``reps`` bootstrap resamples drawn with ``seed``."""
    from rliable import library as rly
    from rliable import metrics

    if len(scores) != 2:
        raise ValueError(f"compare takes exactly two methods, got {len(scores)}: {', '.join(scores)}")
    games = tuple(games)
    (a, x), (b, y) = ((name, _check_matrix(name, m, len(games))) for name, m in scores.items())
    def estimate(scores: np.ndarray | list[np.ndarray], func) -> Estimate:
        # rliable's StratifiedBootstrap draws its resample indices from numpy's global generator,
        # not from the RandomState it is given: seed that too (and put it back) to be reproducible
        global_state = np.random.get_state()
        np.random.seed(seed)
        try:
            with warnings.catch_warnings():  # rliable hands arch a RandomState, which arch deprecates
                warnings.simplefilter("ignore", FutureWarning)
                points, intervals = rly.get_interval_estimates({"x": scores}, func, reps=reps,
                                                               random_state=np.random.RandomState(seed))
        finally:
            np.random.set_state(global_state)
        low, high = np.ravel(intervals["x"])
        return Estimate(float(np.ravel(points["x"])[0]), float(low), float(high))

    aggregates = {name: MethodAggregates(**{metric: estimate(matrix, func)
                                            for metric, func in _aggregate_functions().items()})
                  for name, matrix in ((a, x), (b, y))}
    improvement = estimate([x, y], metrics.probability_of_improvement)
    mean_x, mean_y = x.mean(axis=0), y.mean(axis=0)
    higher = int(np.sum((mean_x > mean_y) & ~np.isclose(mean_x, mean_y)))  # a tie in rounding is a tie
    return Comparison(a, b, games, aggregates, improvement, higher)


__all__ = ["METRICS", "Estimate", "MethodAggregates", "Comparison", "compare"]
