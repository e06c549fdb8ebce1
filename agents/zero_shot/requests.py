"""The chat-completions request schema of the local server: every field it reads, checked.

The schema is checked before anything is generated (``parse_request``); a bad request
gets HTTP 400 with an OpenAI-style error whose ``message`` names the field, the value
given and what is allowed (``param`` names the field too), e.g.
``max_tokens must be an integer from 1 to 4096, got 0``. The fields read:

* ``messages``: a non-empty array of ``{"role", "content"}``; role ``system``,
  ``developer`` (read as ``system``), ``user`` or ``assistant``; content a string or an
  array of text parts (``{"type": "text", "text": ...}``), ``null`` only for ``assistant``.
* ``model``: a string when given; the answer comes from the served model whatever it names.
* ``max_completion_tokens`` / ``max_tokens``: an integer from 1 to 4096 (the first wins
  when both are given); default 256, cut to what the context has left. Prompt plus
  ``max_tokens`` beyond the model's context: 400 ``context_length_exceeded``.
* ``temperature``: a number from 0 to 2 (0 is greedy; default 1); ``top_p``: from 0 to 1
  (default 1); ``seed``: an integer in the signed 64-bit range (used when sampling).
* ``stop``: a non-empty string or an array of at most 4 of them.
* ``n``: only 1; ``stream``, ``logprobs``: only ``false``; ``tools`` / ``functions``: only
  empty; ``response_format``: only ``{"type": "text"}``. Anything else is a 400.

Other fields (``user``, ``presence_penalty``, ``frequency_penalty``, ``logit_bias``,
``stream_options``, ...) are ignored, as OpenAI clients send extras. The body must be
UTF-8 JSON holding an object (``parse_body``; 400 otherwise).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

MAX_TOKENS_DEFAULT = 256
MAX_TOKENS_LIMIT = 4096
TEMPERATURE_MAX = 2.0
MAX_STOP_STRINGS = 4
SEED_MIN, SEED_MAX = -(2 ** 63), 2 ** 63 - 1  # OpenAI's seed is a signed 64-bit integer
ROLES = ("system", "developer", "user", "assistant")


class RequestError(ValueError):
    """A client error, answered with an OpenAI-style error JSON (HTTP ``status``, 400 by default).

    ``param`` is the offending field (``"max_tokens"``, ``"messages[2].role"``) or None;
    ``code`` OpenAI's error code, e.g. ``"invalid_type"``, ``"invalid_value"``.
    """

    def __init__(self, message: str, param: str | None = None, code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.param, self.code, self.status = param, code, status


# --- the request schema ----------------------------------------------------------------------

def _shown(value: Any, limit: int = 80) -> str:
    """A request value as the client wrote it (JSON), shortened for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # an int beyond the str() digit limit cannot come out of json.loads anyway
        text = f"<a {type(value).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null",
            int: "an integer", float: "a number"}.get(type(value), type(value).__name__)


def _invalid(name: str, allowed: str, value: Any, code: str = "invalid_value") -> RequestError:
    return RequestError(f"{name} must be {allowed}, got {_shown(value)}", param=name, code=code)


def _as_int(value: Any) -> int | None:
    """The integer in a JSON value (``5`` or ``5.0``), or None for anything else (``true``, ``"5"``, ``5.5``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _as_number(value: Any) -> float | None:
    """A finite JSON number as a float, or None (``true``, ``"1"``, ``NaN``, ``Infinity``, an int past float range)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _integer(body: dict[str, Any], name: str, lo: int, hi: int, allowed: str | None = None) -> int | None:
    """``body[name]`` as an integer in lo..hi; None when absent or null."""
    value = body.get(name)
    if value is None:
        return None
    number = _as_int(value)
    if number is None or not lo <= number <= hi:
        raise _invalid(name, allowed or f"an integer from {lo} to {hi}", value,
                       "invalid_type" if number is None else "invalid_value")
    return number


def _number(body: dict[str, Any], name: str, lo: float, hi: float, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    number = _as_number(value)
    if number is None or not lo <= number <= hi:
        raise _invalid(name, f"a number from {lo:g} to {hi:g}", value,
                       "invalid_type" if number is None else "invalid_value")
    return number


def _flag(body: dict[str, Any], name: str, supported_note: str) -> None:
    """A boolean option this server only supports as false."""
    value = body.get(name)
    if value is None or value is False:
        return
    if value is True:
        raise RequestError(f"{name}=true is not supported by this server ({supported_note}); send false or leave "
                           f"it out", param=name, code="unsupported_value")
    raise _invalid(name, "a boolean (and this server supports only false)", value, "invalid_type")


def _text(content: Any, where: str) -> str:
    """A message's content as text: a string, or an array of text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for j, part in enumerate(content):
            here = f"{where}[{j}]"
            if isinstance(part, str):
                parts.append(part)
                continue
            if not isinstance(part, dict):
                raise _invalid(here, 'a content part object {"type": "text", "text": ...}', part, "invalid_type")
            kind = part.get("type")
            if kind not in ("text", "input_text"):
                raise _invalid(f"{here}.type", '"text" (this server reads text only)', kind)
            text = part.get("text")
            if not isinstance(text, str):
                raise _invalid(f"{here}.text", "a string", text, "invalid_type")
            parts.append(text)
        return "".join(parts)
    raise _invalid(where, "a string or an array of text parts", content, "invalid_type")


def _messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise _invalid("messages", "a non-empty array of message objects", value,
                       "invalid_type" if not isinstance(value, list) else "invalid_value")
    chat = []
    for i, m in enumerate(value):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            raise _invalid(where, 'an object with "role" and "content"', m, "invalid_type")
        role = m.get("role")
        if role not in ROLES:
            raise _invalid(f"{where}.role", "one of " + ", ".join(f'"{r}"' for r in ROLES), role,
                           "invalid_type" if not isinstance(role, str) else "invalid_value")
        content = m.get("content")
        if content is None and role != "assistant":
            raise _invalid(f"{where}.content", "a string or an array of text parts (null only for assistant)",
                           content, "invalid_type")
        chat.append({"role": "system" if role == "developer" else role,
                     "content": "" if content is None else _text(content, f"{where}.content")})
    return chat


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    allowed = f"a non-empty string or an array of at most {MAX_STOP_STRINGS} of them"
    if isinstance(value, str):
        if not value:
            raise _invalid("stop", allowed, value)
        return [value]
    if not isinstance(value, list):
        raise _invalid("stop", allowed, value, "invalid_type")
    if len(value) > MAX_STOP_STRINGS:
        raise _invalid("stop", allowed, value)
    for i, s in enumerate(value):
        if not isinstance(s, str) or not s:
            raise _invalid(f"stop[{i}]", "a non-empty string", s, "invalid_type" if not isinstance(s, str) else
                           "invalid_value")
    return list(value)


@dataclass
class ChatRequest:
    """A chat-completions request, checked (see ``parse_request``)."""

    messages: list[dict[str, str]]
    max_tokens: int = MAX_TOKENS_DEFAULT
    max_tokens_given: bool = False  # False: the default, cut to the context left
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    model: str | None = None


def parse_request(body: Any) -> ChatRequest:
    """Check every field this server reads; raises ``RequestError`` naming the first bad one."""
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object, got {_type_name(body)}", code="invalid_type")
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model.strip()):
        raise _invalid("model", "a non-empty string", model, "invalid_type" if not isinstance(model, str) else
                       "invalid_value")
    messages = _messages(body.get("messages"))
    _flag(body, "stream", "answers come whole")
    _flag(body, "logprobs", "no log probabilities are returned")
    _integer(body, "n", 1, 1, "the integer 1 (this server returns one choice)")
    for name in ("tools", "functions"):
        value = body.get(name)
        if value is not None and value != []:
            raise _invalid(name, "empty or absent (this server does not call tools)", value,
                           "invalid_type" if not isinstance(value, list) else "unsupported_value")
    response_format = body.get("response_format")
    if response_format is not None and response_format != {"type": "text"}:
        raise _invalid("response_format", '{"type": "text"} (this server writes plain text only)', response_format,
                       "unsupported_value")
    limits = [_integer(body, name, 1, MAX_TOKENS_LIMIT) for name in ("max_completion_tokens", "max_tokens")]
    given = next((n for n in limits if n is not None), None)
    return ChatRequest(
        messages=messages,
        max_tokens=MAX_TOKENS_DEFAULT if given is None else given,
        max_tokens_given=given is not None,
        temperature=_number(body, "temperature", 0.0, TEMPERATURE_MAX, 1.0),
        top_p=_number(body, "top_p", 0.0, 1.0, 1.0),
        seed=_integer(body, "seed", SEED_MIN, SEED_MAX),
        stop=_stop(body.get("stop")),
        model=model,
    )


def parse_body(raw: bytes) -> Any:
    """The JSON value in a request body; raises ``RequestError`` when it is not UTF-8 JSON."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(f"the request body must be UTF-8 JSON: {exc}", code="invalid_json") from None
    if not text.strip():
        raise RequestError("the request body is empty; expected a JSON object", code="invalid_json")
    try:
        return json.loads(text)
    except RecursionError:
        raise RequestError("the request body is not valid JSON: it is nested too deeply", code="invalid_json") from None
    except ValueError as exc:  # JSONDecodeError, or an integer literal past Python's digit limit
        raise RequestError(f"the request body is not valid JSON: {exc}", code="invalid_json") from None
