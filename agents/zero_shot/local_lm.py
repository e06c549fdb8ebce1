"""Text generation from a local causal LM, fast enough for many short plans on a CPU.

``LocalGenerator`` wraps a model from ``agents.nn.llm.load_causal_lm`` with its own
decoding loop: greedy (or sampled when ``temperature > 0``), a stop test run on the text
after every token, and a *prompt cache*: the KV cache of the last call is kept and the
next prompt only computes the tokens after the longest common prefix. Every plan of
ZS-LLaMA starts with the same system message and worked examples (~600 tokens), and every
re-planning request of a conversation extends the previous one, so most of the prompt is
never computed twice.

Measured on this project's 2-core CPU with SmolLM2-135M (other jobs sharing the machine
make single timings noisy; best of several): prefilling the ~620-token prompt 1.3 s in
fp32 and 4.7 s in bf16 (the CPU has no native bf16), one decoding step 60 ms in fp32 and
90+ ms in bf16. So fp32 is the default, and the prompt cache saves ~1.2 s per plan.
"""
from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from agents.zero_shot.prompt import Message, render_plain

DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
          "float16": "float16", "fp16": "float16"}


def torch_dtype(name: Any):
    """A torch dtype from ``"float32"``/``"bf16"``/... (or a dtype, returned as is)."""
    import torch

    if name is None:
        return torch.float32
    if isinstance(name, torch.dtype):
        return name
    key = DTYPES.get(str(name).lower().replace("torch.", ""))
    if key is None:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")
    return getattr(torch, key)


def resolve_device(device: Any) -> str:
    """``"auto"`` (or None) becomes ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    if device in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


def as_bool(value: Any) -> bool:
    """CLI options arrive as strings: "0", "false", "no", "off" are False."""
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def _nucleus(probs, top_p: float):
    """``probs`` with only the most likely tokens kept, fewest whose sum reaches ``top_p`` (at least one)."""
    import torch

    ordered, order = torch.sort(probs, descending=True)
    keep = (torch.cumsum(ordered, dim=-1) - ordered) < top_p
    keep[0] = True
    kept = torch.zeros_like(probs)
    kept[order[keep]] = ordered[keep]
    return kept


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int
    cached_tokens: int  # prompt tokens whose keys/values came from the prompt cache
    finish_reason: str  # "stop" (end of turn, a stop string or the stop test) or "length"
    seconds: float


class LocalGenerator:
    """A local causal LM that answers chats.

    Args:
        model: a name known to ``load_causal_lm`` (``"smollm2-135m"``, ``"gemma3-270m"``),
            a ``.gguf`` file, a local Hugging Face folder or a hub id.
        dtype: ``"float32"`` (default: fastest on CPUs without native bf16) or ``"bfloat16"``.
        device: ``"cpu"`` or e.g. ``"cuda"``.
        prompt_cache: reuse the KV cache of the previous call's common prefix.
    """

    def __init__(self, model: str = "smollm2-135m", dtype: Any = "float32", device: str = "cpu",
                 prompt_cache: bool = True) -> None:
        from agents.nn.llm import load_causal_lm

        self.model_name = str(model)
        self.device = device = resolve_device(device)
        self.model, self.tokenizer = load_causal_lm(self.model_name, dtype=torch_dtype(dtype), device=device)
        self.prompt_cache = bool(prompt_cache) and self._cache_reusable()
        self._cache = None
        self._cache_ids: list[int] = []
        self._logits_to_keep = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self.eos_ids = self._eos_ids()

    # --- prompts -----------------------------------------------------------------------------

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def chat_ids(self, messages: Sequence[Message]) -> list[int]:
        """Token ids of a chat, ready for the assistant's answer."""
        if self.has_chat_template:
            ids = self.tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):
                ids = ids["input_ids"]
            return [int(i) for i in ids]
        return [int(i) for i in self.tokenizer(render_plain(messages))["input_ids"]]

    # --- decoding ----------------------------------------------------------------------------

    def generate(self, prompt_ids: Sequence[int], max_new_tokens: int = 96,
                 stop: Callable[[str], bool] | None = None, stop_strings: Sequence[str] = (),
                 temperature: float = 0.0, seed: int | None = None, top_p: float = 1.0) -> Generation:
        """Continue ``prompt_ids``; greedy when ``temperature`` is 0, else sampled (from the
        smallest set of tokens whose probability reaches ``top_p``, when it is below 1).

        Stops at an end-of-turn token, at the first of ``stop_strings`` (cut from the text),
        when ``stop(text_so_far)`` is true, or after ``max_new_tokens``.
        """
        import torch

        t0 = time.perf_counter()
        ids = [int(i) for i in prompt_ids]
        if not ids:
            raise ValueError("empty prompt")
        cache, reused = self._prefix_cache(ids)
        rng = None
        if temperature > 0 and seed is not None:
            rng = torch.Generator(device=self.device).manual_seed(int(seed))
        new: list[int] = []
        fed = len(ids)  # tokens whose keys/values are in the cache
        text, finish = "", "length"
        with torch.inference_mode():
            logits = self._forward(ids[reused:], cache)
            while len(new) < max_new_tokens:
                if temperature > 0:
                    logits = logits.float()
                    # less the maximum first: a tiny temperature then gives 0 and -inf, never inf - inf
                    probs = torch.softmax((logits - logits.max()) / temperature, dim=-1)
                    if top_p < 1.0:
                        probs = _nucleus(probs, top_p)
                    token = int(torch.multinomial(probs, 1, generator=rng))
                else:
                    token = int(torch.argmax(logits))
                if token in self.eos_ids:
                    finish = "stop"
                    break
                new.append(token)
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                cut = min((text.find(s) for s in stop_strings if s and s in text), default=-1)
                if cut >= 0:
                    text, finish = text[:cut], "stop"
                    break
                if stop is not None and stop(text):
                    finish = "stop"
                    break
                if len(new) >= max_new_tokens:
                    break
                logits = self._forward([token], cache)
                fed += 1
        if self.prompt_cache:
            self._cache, self._cache_ids = cache, (ids + new)[:fed]
        return Generation(text, len(ids), len(new), reused, finish, time.perf_counter() - t0)

    def chat(self, messages: Sequence[Message], **kwargs: Any) -> Generation:
        return self.generate(self.chat_ids(messages), **kwargs)

    # --- internals ---------------------------------------------------------------------------

    def _forward(self, ids: list[int], cache):
        import torch

        x = torch.tensor([ids], dtype=torch.long, device=self.device)
        kwargs = {"logits_to_keep": 1} if self._logits_to_keep else {}
        out = self.model(input_ids=x, cache=cache, use_cache=True, **kwargs)
        return out.logits[0, -1]

    def _new_cache(self):
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # older transformers
            return DynamicCache()

    def _prefix_cache(self, ids: list[int]):
        """(a cache holding ids[:n], n) with n as large as the previous call allows (< len(ids))."""
        if not self.prompt_cache or self._cache is None:
            return self._new_cache(), 0
        n = 0
        limit = min(len(ids) - 1, len(self._cache_ids))  # keep >= 1 token to feed, for the logits
        while n < limit and ids[n] == self._cache_ids[n]:
            n += 1
        cache, self._cache = self._cache, None
        if n == 0:
            return self._new_cache(), 0
        try:
            held = cache.get_seq_length()
            if held != len(self._cache_ids):
                return self._new_cache(), 0
            if n < held:
                cache.crop(-(held - n))  # a negative count removes that many tokens, in old and new transformers
            if cache.get_seq_length() != n:
                return self._new_cache(), 0
        except Exception:  # a cache kind that cannot be cut back: start over and stop trying
            self.prompt_cache = False
            return self._new_cache(), 0
        return cache, n

    def _cache_reusable(self) -> bool:
        config = getattr(self.model.config, "get_text_config", lambda: self.model.config)()
        layer_types = getattr(config, "layer_types", None) or []
        if getattr(config, "sliding_window", None) or any("sliding" in str(t) for t in layer_types):
            return False  # a sliding-window layer forgets old tokens: its cache cannot be cut back safely
        return True

    def _eos_ids(self) -> set[int]:
        ids: set[int] = set()
        for source in (getattr(self.tokenizer, "eos_token_id", None),
                       getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, (list, tuple)):
                ids.update(int(i) for i in source)
        for token in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|endoftext|>"):
            tid = self.tokenizer.convert_tokens_to_ids(token) if token in self.tokenizer.get_vocab() else None
            if isinstance(tid, int):
                ids.add(tid)
        return ids
