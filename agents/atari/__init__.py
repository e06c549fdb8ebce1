"""The Atari variant (LLaRP paper §5.2, appendix C.6): LLaRP against LLaRP-Scratch on the ALE games.

So far: the games by the Machado et al. (2018) protocol as LLaRP observes them (``envs``),
their published random and human scores, human-normalised scores and the aggregate
statistics of the comparison (``scores``, ``aggregates``, ``report``). Training and the
sweep follow (issue 20).
"""
from agents.atari.aggregates import Comparison, MethodAggregates, compare
from agents.atari.scores import ATARI_55, ATARI_57, GameScores, human_normalised, reference_scores

__all__ = ["ATARI_55", "ATARI_57", "GameScores", "human_normalised", "reference_scores", "Comparison",
           "MethodAggregates", "compare"]
