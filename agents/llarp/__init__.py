"""LLaRP: a frozen pretrained LLM as a vision-language RL policy, as a Stable-Baselines3 algorithm."""
from agents.llarp.algorithm import LLaRP
from agents.nn.backbone import Backbone, load_backbone, tiny_llama_config
from agents.llarp.policy import LLaRPPolicy, StepContext

__all__ = ["LLaRP", "LLaRPPolicy", "StepContext", "Backbone", "load_backbone", "tiny_llama_config"]
