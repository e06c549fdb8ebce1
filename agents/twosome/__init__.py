"""TWOSOME (Tan et al. 2024): an LLM policy that scores the texts of the valid actions, trained by PPO with LoRA."""
from agents.twosome.algorithm import TWOSOME, MacroRolloutBuffer
from agents.twosome.policy import NORMALISATIONS, TwosomePolicy
from agents.twosome.prompts import TokenizedActions, read_text_task

__all__ = ["TWOSOME", "MacroRolloutBuffer", "TwosomePolicy", "NORMALISATIONS", "TokenizedActions", "read_text_task"]
