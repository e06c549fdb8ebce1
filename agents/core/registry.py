"""Agents by name or checkpoint path, so one CLI (`python -m agents.evaluate --agent X`) runs them all."""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, Callable

from agents.core.agent import Agent, OracleAgent, RandomAgent, SB3Agent

#: name -> factory (a callable, or "module:attribute" imported on first use)
AGENTS: dict[str, Callable[..., Agent] | str] = {
    "random": lambda seed=0, **_: RandomAgent(masked=False, seed=int(seed)),
    "random-masked": lambda seed=0, **_: RandomAgent(masked=True, seed=int(seed)),
    "oracle": lambda **_: OracleAgent(),
    "zs-llama": "agents.zero_shot:ZSLLaMA",
    "zs-chatgpt": "agents.zero_shot:ZSChatGPT",
    "zs-flamingo": "agents.zero_shot:ZSFlamingo",
}
#: agents whose own draws take a ``seed`` option; ``agents.evaluate --seed`` passes it on to them
SEEDED_AGENTS = frozenset({"random", "random-masked"})
CHECKPOINT_SPEC = "agent.json"


def register_agent(name: str, factory: Callable[..., Agent] | str) -> None:
    AGENTS[name] = factory


def _resolve(target: Callable[..., Agent] | str) -> Callable[..., Agent]:
    if callable(target):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_agent(spec: str, **options: Any) -> Agent:
    """An agent from a registered name (``"oracle"``, ``"zs-llama"``) or a checkpoint path.

    A checkpoint is a folder (or a ``.zip`` inside one) with an ``agent.json`` saying how to
    load it: ``{"algorithm": "sb3_contrib:RecurrentPPO", "model": "model.zip",
    "tokenizer": "smollm2-135m", "max_tokens": 64, "name": "lstm-flan"}``; the training
    scripts write it.
    """
    if spec in AGENTS:
        return _resolve(AGENTS[spec])(**options)
    path = Path(spec)
    folder = path if path.is_dir() else path.parent
    meta_path = folder / CHECKPOINT_SPEC
    if not path.exists():
        raise ValueError(f"unknown agent {spec!r}: not one of {', '.join(AGENTS)} and not an existing path")
    if not meta_path.exists():
        raise ValueError(f"checkpoint {spec!r} has no {CHECKPOINT_SPEC} beside it, so its algorithm is unknown; "
                         f"expected e.g. {{\"algorithm\": \"sb3_contrib:RecurrentPPO\", \"model\": \"model.zip\"}}")
    meta = json.loads(meta_path.read_text())
    algorithm = _resolve(meta["algorithm"])
    model_file = path if path.is_file() else folder / meta.get("model", "model.zip")
    model = algorithm.load(str(model_file), device=options.get("device", "auto"))
    transform = None
    if meta.get("tokenizer"):
        from agents.core.llm import load_tokenizer
        from gym_langrearrange.wrappers import InstructionTokenizer

        transform = InstructionTokenizer(load_tokenizer(meta["tokenizer"]), int(meta.get("max_tokens", 64))).transform
    return SB3Agent(model, name=meta.get("name", folder.name), obs_transform=transform,
                    deterministic=bool(options.get("deterministic", True)))
