"""Agents by name or checkpoint path, so one CLI (`python -m agents.evaluate --agent X`) runs them all."""
from __future__ import annotations

import importlib
import json
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import Any, Callable

from agents.core.agent import Agent, OracleAgent, RandomAgent, SB3Agent
from gym_langrearrange.files import CorruptFileError, read_json

#: name -> factory (a callable, or "module:attribute" imported on first use)
AGENTS: dict[str, Callable[..., Agent] | str] = {
    "random": lambda seed=0, **_: RandomAgent(masked=False, seed=int(seed)),
    "random-masked": lambda seed=0, **_: RandomAgent(masked=True, seed=int(seed)),
    "oracle": lambda **_: OracleAgent(),
    "expert": "agents.expert:ExpertAgent",
    "expert-instruction": lambda **options: _resolve("agents.expert:ExpertAgent")(search="instruction", **options),
    "zs-llama": "agents.zero_shot:ZSLLaMA",
    "zs-chatgpt": "agents.zero_shot:ZSChatGPT",
    "zs-flamingo": "agents.zero_shot:ZSFlamingo",
    "twosome-zero-shot": "agents.twosome.agent:zero_shot_agent",
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
    scripts write it. A broken ``agent.json`` or model zip raises ``CorruptFileError`` naming
    the file (and the key of ``agent.json`` at fault).
    """
    if spec in AGENTS:
        return _resolve(AGENTS[spec])(**options)
    path, meta_path, meta = check_agent_spec(spec)
    folder = meta_path.parent
    algorithm = _resolve_algorithm(meta["algorithm"], meta_path)
    model_file = path if path.is_file() else folder / meta.get("model", "model.zip")
    model = load_model(algorithm, model_file, meta_path, device=options.get("device", "auto"))
    if meta.get("agent"):  # a checkpoint with an Agent class of its own (e.g. TWOSOME's, which reads text)
        return _resolve(meta["agent"]).from_checkpoint(model, meta, options)
    transform = None
    if meta.get("tokenizer"):
        from agents.nn.llm import load_tokenizer
        from gym_langrearrange.wrappers import InstructionTokenizer

        transform = InstructionTokenizer(load_tokenizer(meta["tokenizer"]), int(meta.get("max_tokens", 64))).transform
    return SB3Agent(model, name=meta.get("name", folder.name), obs_transform=transform,
                    deterministic=bool(options.get("deterministic", True)))


def check_agent_spec(spec: str) -> tuple[Path, Path, dict[str, Any] | None]:
    """(path, agent.json path, its contents) of a checkpoint spec, or (.., .., None) for a registered
    name; raises the error ``load_agent`` would, without loading anything (cheap: check before starting)."""
    if spec in AGENTS:
        return Path(spec), Path(spec), None
    path = Path(spec)
    if path.name == CHECKPOINT_SPEC:
        path = path.parent
    folder = path if path.is_dir() else path.parent
    meta_path = folder / CHECKPOINT_SPEC
    if not path.exists():
        raise ValueError(f"unknown agent {spec!r}: not one of {', '.join(AGENTS)} and not an existing path")
    if not meta_path.exists():
        raise ValueError(f"checkpoint {spec!r} has no {CHECKPOINT_SPEC} beside it, so its algorithm is unknown; "
                         f"expected e.g. {_EXAMPLE_SPEC}")
    return path, meta_path, read_checkpoint_spec(meta_path)


_EXAMPLE_SPEC = '{"algorithm": "sb3_contrib:RecurrentPPO", "model": "model.zip"}'
#: optional keys of agent.json and the JSON types they must have when present
_OPTIONAL_KEYS: dict[str, tuple[type, ...]] = {"model": (str,), "tokenizer": (str, type(None)), "max_tokens": (int,),
                                               "name": (str,)}


def read_checkpoint_spec(meta_path: str | Path) -> dict[str, Any]:
    """A checkpoint's ``agent.json``, checked: valid JSON, an object, an ``algorithm`` of the form
    ``"module:attribute"``, and the optional keys of the right types. Errors name the file and the key."""
    meta_path = Path(meta_path)
    meta = read_json(meta_path, what="checkpoint spec")
    if not isinstance(meta, dict):
        raise CorruptFileError(f"checkpoint spec {meta_path} must hold a JSON object such as {_EXAMPLE_SPEC}, "
                               f"got a {type(meta).__name__}")
    if "algorithm" not in meta:
        raise CorruptFileError(f"checkpoint spec {meta_path} has no 'algorithm' key, so the model cannot be loaded; "
                               f"expected e.g. {_EXAMPLE_SPEC}")
    algorithm = meta["algorithm"]
    module, _, attr = algorithm.partition(":") if isinstance(algorithm, str) else ("", "", "")
    if not (module and attr):
        raise CorruptFileError(f"checkpoint spec {meta_path}: key 'algorithm' must be a \"module:attribute\" string "
                               f"such as \"sb3_contrib:RecurrentPPO\", got {algorithm!r}")
    for key, types in _OPTIONAL_KEYS.items():
        value = meta.get(key)
        if key in meta and (not isinstance(value, types) or isinstance(value, bool)):
            allowed = " or ".join("null" if t is type(None) else {str: "a string", int: "an integer"}[t] for t in types)
            raise CorruptFileError(f"checkpoint spec {meta_path}: key {key!r} must be {allowed}, got {value!r}")
    return meta


def _resolve_algorithm(target: str, meta_path: Path) -> Any:
    """The class named by agent.json's ``algorithm`` (it must have SB3's ``load``)."""
    module, _, attr = target.partition(":")
    try:
        algorithm = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise CorruptFileError(f"checkpoint spec {meta_path}: key 'algorithm' is {target!r}, which cannot be "
                               f"imported ({type(e).__name__}: {e})") from e
    if not callable(getattr(algorithm, "load", None)):
        raise CorruptFileError(f"checkpoint spec {meta_path}: key 'algorithm' is {target!r}, which has no load(); "
                               f"expected a Stable-Baselines3 algorithm class")
    return algorithm


#: what SB3 raises when a zip's entries hold garbage (a torch.load or JSON parse of damaged bytes)
_CORRUPT_CONTENT = (zipfile.BadZipFile, EOFError, AssertionError, pickle.UnpicklingError, json.JSONDecodeError,
                    UnicodeDecodeError, zlib.error)


def load_model(algorithm: Any, model_file: Path, meta_path: Path, **load_kwargs: Any) -> Any:
    """``algorithm.load(model_file, **load_kwargs)``, a damaged file reported as ``CorruptFileError`` naming it."""
    if not model_file.is_file():
        raise CorruptFileError(f"checkpoint {model_file} does not exist (named by {meta_path})")
    problem = _zip_problem(model_file)
    if problem:
        raise CorruptFileError(f"checkpoint {model_file} cannot be loaded (truncated or not a model zip: {problem})")
    try:
        return algorithm.load(str(model_file), **load_kwargs)
    except _CORRUPT_CONTENT as e:
        raise CorruptFileError(f"checkpoint {model_file} cannot be loaded (truncated or not a model zip: "
                               f"{type(e).__name__}: {e})") from e
    except Exception as e:
        # anything else (a missing backbone, memory, a device) is not the file's fault: keep the error, name the file
        if hasattr(e, "add_note"):  # Python 3.11+
            e.add_note(f"while loading checkpoint {model_file} with the algorithm its {meta_path.name} names")
        raise


def _zip_problem(model_file: Path) -> str | None:
    """What makes ``model_file`` unreadable as a Stable-Baselines3 model zip, or None.

    Checks the structure without building anything: every entry's CRC, the ``data`` entry (JSON
    holding the spaces), and each ``.pth`` entry being an intact torch archive (itself a zip).
    SB3 stores entries uncompressed, so this costs about one read of the file.
    """
    try:
        with zipfile.ZipFile(model_file) as archive:
            names = archive.namelist()
            if "data" not in names:
                return f"it holds no 'data' entry, only {names}"
            bad = archive.testzip()
            if bad is not None:
                return f"entry {bad!r} fails its CRC check"
            try:
                data = json.loads(archive.read("data"))
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                return f"its 'data' entry is not JSON ({e})"
            missing = [k for k in ("observation_space", "action_space") if not isinstance(data, dict) or k not in data]
            if missing:
                return f"its 'data' entry lacks {', '.join(missing)}"
            for name in names:
                if name.endswith(".pth"):
                    with archive.open(name) as entry:
                        try:
                            with zipfile.ZipFile(entry) as tensors:
                                inner = tensors.testzip()
                        except zipfile.BadZipFile as e:
                            return f"entry {name!r} is not a torch archive ({e})"
                    if inner is not None:
                        return f"entry {name!r} is damaged (its part {inner!r} fails its CRC check)"
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as e:
        return f"{type(e).__name__}: {e}"
    return None
