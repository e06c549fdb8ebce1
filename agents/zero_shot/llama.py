"""ZS-LLaMA: a local language model plans once from the instruction, then the plan runs.

Blind (never sees the camera), no re-planning: at ``reset`` the model gets the planner
prompt (``prompt.py``) and the instruction and writes a plan; ``act`` follows it; after
its last step the agent says ``stop`` until the episode ends. The paper used an
instruction-tuned LLaMA-65B; offline we default to SmolLM2-135M-Instruct, and any local
causal LM is accepted (``model=`` a local Hugging Face folder, a ``.gguf`` file, or a hub
id where a hub is reachable).
"""
from __future__ import annotations

import logging
from typing import Any

from agents.zero_shot.base import PlanFollower
from agents.zero_shot.local_lm import LocalGenerator, as_bool
from agents.zero_shot.parsing import parse_plan, plan_complete
from agents.zero_shot.prompt import build_messages

logger = logging.getLogger("agents.zero_shot")


class ZSLLaMA(PlanFollower):
    """Zero-shot planner with a local causal LM (one plan per episode).

    Keyword options (strings from the CLI are converted):
        model: ``"smollm2-135m"`` (default), ``"gemma3-270m"``, a local HF folder, a ``.gguf`` file.
        dtype: ``"float32"`` (default; fastest on CPUs without native bf16) or ``"bfloat16"``.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``.
        max_new_tokens: length limit of the plan (default 96; generation also stops at ``stop``,
            at the end of a list, or when the model repeats one line three times).
        prompt_cache: reuse the KV cache of the fixed prompt prefix across episodes (default True).
        max_plan_steps: steps kept from the plan (default 32, the episode length).
        name: the agent's name in reports (default ``"zs-llama"``).
    """

    name = "zs-llama"
    needs_rgb = False

    def __init__(self, model: str = "smollm2-135m", dtype: str = "float32", device: str = "cpu",
                 max_new_tokens: int | str = 96, prompt_cache: bool | str = True, max_plan_steps: int | str = 32,
                 name: str | None = None, generator: LocalGenerator | None = None, **_: Any) -> None:
        super().__init__()
        if name:
            self.name = str(name)
        self.max_new_tokens = int(max_new_tokens)
        self.max_plan_steps = int(max_plan_steps)
        self.generator = generator or LocalGenerator(str(model), dtype=dtype, device=str(device),
                                                     prompt_cache=as_bool(prompt_cache))

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        super().reset(obs, info)
        instruction = str(obs["instruction"])
        messages = build_messages(instruction)
        try:
            gen = self.generator.chat(messages, max_new_tokens=self.max_new_tokens, stop=plan_complete)
        except Exception as exc:  # a broken model must not end the evaluation: log it, spend one invalid step
            logger.warning("%s: generation failed: %s", self.name, exc)
            self.set_plan([], "<generation failed>")
            self.log_call(messages[-1]["content"], None, 0.0, error=f"{type(exc).__name__}: {exc}")
            return
        self.set_plan(parse_plan(gen.text, max_steps=self.max_plan_steps), gen.text)
        self.log_call(messages[-1]["content"], gen.text, gen.seconds, prompt_tokens=gen.prompt_tokens,
                      cached_tokens=gen.cached_tokens, new_tokens=gen.new_tokens)

    def close(self) -> None:
        self.generator = None
