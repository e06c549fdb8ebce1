"""ZS-Flamingo: a vision-language model plans once from the instruction and the first image.

As ZS-LLaMA, with the robot's first camera frame given to an image-text-to-text model
(``AutoModelForImageTextToText`` + ``AutoProcessor``) beside the planner prompt. The paper
used IDEFICS-80B (an open Flamingo). No pretrained VLM can be downloaded on our offline
machines, so ``model=`` is required: a local folder of any transformers image-text-to-text
model (Idefics2/3, SmolVLM, LLaVA, Qwen2-VL, Gemma 3, ...), or a hub id where a hub is
reachable. ``agents.zero_shot.tiny_vlm.make_tiny_vlm`` builds a tiny random one to test
the plumbing.
"""
from __future__ import annotations

import logging
from typing import Any

from agents.zero_shot.base import PlanFollower
from agents.zero_shot.local_lm import resolve_device, torch_dtype
from agents.zero_shot.parsing import parse_plan, plan_complete
from agents.zero_shot.prompt import EXAMPLES, SYSTEM_PROMPT, instruction_message, render_plain

logger = logging.getLogger("agents.zero_shot")

IMAGE_NOTE = "The picture shows what the robot sees now."


def _stopping(tokenizer, prompt_len: int):
    import torch
    from transformers import StoppingCriteria

    class PlanStop(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            text = tokenizer.decode(input_ids[0, prompt_len:], skip_special_tokens=True)
            return torch.full((input_ids.shape[0],), plan_complete(text), dtype=torch.bool, device=input_ids.device)

    return PlanStop()


class ZSFlamingo(PlanFollower):
    """Zero-shot planner with a local vision-language model (one plan per episode, from the first frame).

    Keyword options (strings from the CLI are converted):
        model: required; a local folder (or hub id) of an image-text-to-text model.
        dtype: ``"float32"`` (default) or ``"bfloat16"``; device: ``"cpu"`` (default) or ``"cuda"``.
        max_new_tokens: default 96 (generation also stops once the plan is complete).
        max_plan_steps: steps kept from the plan (default 32).
        name: the agent's name in reports (default ``"zs-flamingo"``).
    """

    name = "zs-flamingo"
    needs_rgb = True

    def __init__(self, model: str | None = None, dtype: str = "float32", device: str = "cpu",
                 max_new_tokens: int | str = 96, max_plan_steps: int | str = 32, name: str | None = None,
                 **_: Any) -> None:
        super().__init__()
        if not model:
            raise ValueError("zs-flamingo needs model=<folder>: a local image-text-to-text model (e.g. a downloaded "
                             "SmolVLM, Idefics3 or LLaVA folder). No pretrained vision-language model is available "
                             "offline; agents.zero_shot.tiny_vlm.make_tiny_vlm(folder) builds a tiny random one "
                             "for testing.")
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if name:
            self.name = str(name)
        self.model_name = str(model)
        self.device = resolve_device(device)
        self.max_new_tokens = int(max_new_tokens)
        self.max_plan_steps = int(max_plan_steps)
        self.processor = AutoProcessor.from_pretrained(self.model_name)
        self.model = AutoModelForImageTextToText.from_pretrained(self.model_name, dtype=torch_dtype(dtype))
        self.model = self.model.to(self.device).eval()
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)

    # --- prompt -------------------------------------------------------------------------------

    def messages(self, instruction: str, with_system: bool = True) -> list[dict[str, Any]]:
        """The planner prompt as multimodal chat messages; the instruction turn carries the image."""
        def text(t: str) -> list[dict[str, str]]:
            return [{"type": "text", "text": t}]

        turns = [{"role": role, "content": text(t)} for role, t in EXAMPLES]
        task = f"{instruction_message(instruction)}\n{IMAGE_NOTE}"
        last = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": task}]}
        if with_system:
            return [{"role": "system", "content": text(SYSTEM_PROMPT)}, *turns, last]
        # templates without a system role: put it in front of the first user turn
        turns[0] = {"role": "user", "content": text(SYSTEM_PROMPT + "\n\n" + EXAMPLES[0][1])}
        return [*turns, last]

    def prompt_text(self, instruction: str) -> str:
        if getattr(self.processor, "chat_template", None):
            for with_system in (True, False):
                try:
                    return self.processor.apply_chat_template(self.messages(instruction, with_system),
                                                              add_generation_prompt=True, tokenize=False)
                except Exception as exc:  # e.g. "system role not supported"
                    logger.debug("chat template failed (system=%s): %s", with_system, exc)
        image_token = getattr(self.processor, "image_token", None) or "<image>"
        chat = [{"role": "system", "content": SYSTEM_PROMPT}]
        chat += [{"role": role, "content": t} for role, t in EXAMPLES]
        chat.append({"role": "user", "content": f"{image_token}{instruction_message(instruction)}\n{IMAGE_NOTE}"})
        return render_plain(chat)

    # --- episode ------------------------------------------------------------------------------

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        import time

        import torch
        from PIL import Image

        super().reset(obs, info)
        if obs.get("rgb") is None:
            raise ValueError("zs-flamingo needs the camera image: make the environment with render=True")
        instruction = str(obs["instruction"])
        request = instruction_message(instruction) + " [+ first camera image]"
        t0 = time.perf_counter()
        try:
            text = self.prompt_text(instruction)
            inputs = self.processor(text=text, images=[Image.fromarray(obs["rgb"])], return_tensors="pt")
            inputs = inputs.to(self.device)
            if "pixel_values" in inputs and inputs["pixel_values"].is_floating_point():
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            prompt_len = inputs["input_ids"].shape[1]
            with torch.inference_mode():
                out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                          stopping_criteria=[_stopping(self.tokenizer, prompt_len)])
            answer = self.tokenizer.decode(out[0, prompt_len:], skip_special_tokens=True)
        except Exception as exc:  # a broken model must not end the evaluation: log it, spend one invalid step
            logger.warning("%s: generation failed: %s", self.name, exc)
            self.set_plan([], "<generation failed>")
            self.log_call(request, None, time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
            return
        self.set_plan(parse_plan(answer, max_steps=self.max_plan_steps), answer)
        self.log_call(request, answer, time.perf_counter() - t0, prompt_tokens=int(prompt_len),
                      new_tokens=int(out.shape[1] - prompt_len))

    def close(self) -> None:
        self.model = None
