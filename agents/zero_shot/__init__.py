"""Zero-shot LLM planners (LLaRP paper baselines): ZS-LLaMA, ZS-ChatGPT, ZS-Flamingo.

* ``ZSLLaMA``: a local causal LM plans once from the instruction (blind).
* ``ZSChatGPT``: a chat model behind any OpenAI-compatible endpoint plans, and re-plans
  from the environment's feedback after a failed skill or when its plan runs out.
* ``ZSFlamingo``: a local vision-language model plans once from the instruction and the
  first camera image.

Shared pieces: ``prompt`` (our planner prompt), ``parsing`` (lenient plan parsing),
``base`` (plan following), ``local_lm`` (fast local decoding), ``server`` (a local
OpenAI-compatible server for tests and demos).
"""
from agents.zero_shot.parsing import ParsedStep, parse_plan


def __getattr__(name):  # the agents import torch/transformers/openai: load them on first use
    if name == "ZSLLaMA":
        from agents.zero_shot.llama import ZSLLaMA
        return ZSLLaMA
    if name == "ZSChatGPT":
        from agents.zero_shot.chatgpt import ZSChatGPT
        return ZSChatGPT
    if name == "ZSFlamingo":
        from agents.zero_shot.flamingo import ZSFlamingo
        return ZSFlamingo
    raise AttributeError(f"module 'agents.zero_shot' has no attribute {name!r}")


__all__ = ["ZSLLaMA", "ZSChatGPT", "ZSFlamingo", "parse_plan", "ParsedStep"]
