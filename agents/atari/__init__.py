"""The Atari variant (LLaRP paper §5.2, appendix C.6): LLaRP against LLaRP-Scratch on the ALE games.

``envs``: the games by the Machado et al. (2018) protocol as LLaRP observes them; ``train``: one
training run (``python -m agents.atari.train``); ``evaluation``: the final policy's raw scores;
``sweep``: game x method x seed runs on one machine or a cluster (``python -m agents.atari.sweep``);
``scores``, ``aggregates``, ``report``: published random and human scores, human-normalised scores,
the aggregate statistics and the tables and figures of the comparison.
"""
from agents.atari.aggregates import Comparison, MethodAggregates, compare
from agents.atari.scores import ATARI_55, ATARI_57, GameScores, human_normalised, reference_scores

__all__ = ["ATARI_55", "ATARI_57", "GameScores", "human_normalised", "reference_scores", "Comparison",
           "MethodAggregates", "compare"]
