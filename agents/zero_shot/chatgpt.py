"""ZS-ChatGPT: a chat model plans, and re-plans from the environment's feedback.

The conversation starts with the planner prompt (``prompt.py``) and the instruction. The
plan in the answer is followed step by step. When a skill fails (``info["invalid"]``), or
the plan has run out while the episode goes on, the environment's feedback lines since
the last plan, where the robot is, what it holds and which receptacles it has not
visited yet are sent back as a user message, and the answer is the new plan. Blind: the
model never sees the camera.

Any OpenAI-compatible chat-completions endpoint works (the ``openai`` client): OpenAI
itself, a hosted open model, vLLM, llama.cpp's server, or ``agents.zero_shot.server``
(our local one). At most ``max_calls`` requests are made per episode; after that the
agent finishes its plan and then says ``stop``.

Failures, two kinds:

* **The endpoint's** (``infrastructure_cause``): a request that still fails after the
  client's own retries because the endpoint cannot be reached, times out, answers HTTP
  5xx, 429 (rate limit, quota), 401/403 (authentication) or 404 (no such model) makes
  ``act`` raise ``agents.core.agent.InfrastructureError``, naming the endpoint, the model
  and the error. The episode was not played: ``agents.evaluate`` records it as an error,
  leaves it out of success rates and retries it when the run is resumed.
* **The model's**: an unparseable answer or step costs one invalid step, as does any
  other failed request (e.g. a 400 for a conversation too long for the model) or a
  surprise from the client library (logged; the next step asks again). These never
  escape ``act``.

A re-plan identical to the plan before it also ends the requests (``stop_on_repeat``,
on by default). At temperature 0 a model that answers new feedback with the plan that
just failed is in a loop: small models such as SmolLM2-135M repeat the same answer to
every later request too, so asking again only costs time (or money) and changes nothing.
"""
from __future__ import annotations

import logging
import os
import time
from typing import Any

from agents.core.agent import InfrastructureError
from agents.zero_shot.base import PlanFollower
from agents.zero_shot.local_lm import as_bool
from agents.zero_shot.parsing import ParsedStep, parse_plan
from agents.zero_shot.prompt import Message, build_messages, feedback_message
from gym_langrearrange.skills import STOP_ID

logger = logging.getLogger("agents.zero_shot")

DEFAULT_MODEL = "gpt-4o-mini"
OPENAI_URL = "https://api.openai.com/v1"

#: HTTP statuses below 500 that are the endpoint's fault, not the model's (5xx all are)
INFRASTRUCTURE_STATUS = {401: "authentication failed (check OPENAI_API_KEY)", 402: "payment required",
                         403: "permission denied", 404: "not found (is the model name or base_url right?)",
                         408: "request timeout", 409: "conflict", 429: "rate limit or quota exceeded"}


def infrastructure_cause(exc: BaseException) -> str | None:
    """Why a failed chat request is the endpoint's fault (a short phrase), or None when it is not.

    Connection errors and timeouts (the ``openai`` client's, or the built-in ones), and
    HTTP errors 5xx, 401, 402, 403, 404, 408, 409 and 429 (any exception with an integer
    ``status_code``, as ``openai.APIStatusError`` has) are; anything else (a 400 or 422,
    a malformed answer, a bug) is not.
    """
    try:
        import openai
    except ImportError:  # a stand-in client without the package
        openai = None
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):
            return "the request timed out"
        if isinstance(exc, openai.APIConnectionError):
            return "could not connect"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and not isinstance(status, bool):
        if status >= 500:
            return f"HTTP {status}: server error"
        if status in INFRASTRUCTURE_STATUS:
            return f"HTTP {status}: {INFRASTRUCTURE_STATUS[status]}"
        return None
    if isinstance(exc, TimeoutError):
        return "the request timed out"
    if isinstance(exc, ConnectionError):
        return "could not connect"
    return None


def _describe(exc: BaseException) -> str:
    """``Type: message``, with the innermost cause when there is one (the openai client's
    ``Connection error.`` hides ``ConnectError: [Errno 111] Connection refused``)."""
    text = f"{type(exc).__name__}: {exc}"
    root, seen = exc, {id(exc)}
    while (root.__cause__ or root.__context__) is not None and id(root.__cause__ or root.__context__) not in seen:
        root = root.__cause__ or root.__context__
        seen.add(id(root))
    if root is not exc and str(root) and str(root) not in text:
        text += f" (caused by {type(root).__name__}: {root})"
    return text


class ZSChatGPT(PlanFollower):
    """Zero-shot planner that re-plans from feedback, through an OpenAI-compatible API.

    Keyword options (strings from the CLI are converted):
        model: the served model's name. Default: the model the server lists when ``base_url``
            is given and it serves exactly one, else ``"gpt-4o-mini"`` (the paper used gpt-3.5-turbo).
        base_url: e.g. ``"http://127.0.0.1:8000/v1"``; default: ``$OPENAI_BASE_URL`` or OpenAI.
        api_key: default ``$OPENAI_API_KEY``; a dummy key is used for loopback servers.
        timeout: seconds per request (default 60).
        max_retries: the client's own retries per request (default 2).
        max_calls: LLM requests per episode (default 8).
        stop_on_repeat: stop asking once a re-plan repeats the previous plan (default True).
        max_tokens: answer length limit (default 256).
        temperature: default 0 (greedy on our local server).
        seed: passed to the API when given (some servers honour it).
        name: the agent's name in reports (default ``"zs-chatgpt"``).

    ``act`` raises ``InfrastructureError`` when a request fails for the endpoint's reasons
    (unreachable, timed out, HTTP 5xx/429/401/403/404: see ``infrastructure_cause``) after
    the client's ``max_retries``; the model's failures (an unparseable answer or step, any
    other failed request) cost one invalid step each and never escape ``act``.
    """

    name = "zs-chatgpt"
    needs_rgb = False

    def __init__(self, model: str | None = None, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | str = 60.0, max_retries: int | str = 2, max_calls: int | str = 8,
                 max_tokens: int | str = 256, temperature: float | str = 0.0, seed: int | str | None = None,
                 max_plan_steps: int | str = 32, stop_on_repeat: bool | str = True, name: str | None = None,
                 client: Any = None, **_: Any) -> None:
        super().__init__()
        if name:
            self.name = str(name)
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.max_calls = int(max_calls)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.seed = None if seed in (None, "", "none", "None") else int(seed)
        self.max_plan_steps = int(max_plan_steps)
        self.stop_on_repeat = as_bool(stop_on_repeat)
        self._token_param = "max_tokens"
        if client is None:
            import openai

            key = api_key or os.environ.get("OPENAI_API_KEY")
            if not key:
                if self.base_url is None:
                    raise ValueError("zs-chatgpt needs an API key: set OPENAI_API_KEY, or pass base_url= for a "
                                     "local OpenAI-compatible server (e.g. python -m agents.zero_shot.server)")
                key = "sk-no-key-needed"  # local servers ignore it; the client insists on one
            client = openai.OpenAI(api_key=key, base_url=self.base_url, timeout=self.timeout,
                                   max_retries=self.max_retries)
        self.client = client
        self._model_note = ""  # why the model name was guessed, for error messages
        self.model = str(model) if model else self._default_model()
        self.messages: list[Message] = []
        self.calls = 0
        self._awaiting = False  # whether the conversation ends with a user turn that has no answer yet
        self._said_stop = False
        self._looping = False
        self._previous_plan: list[str] | None = None

    def _default_model(self) -> str:
        if self.base_url is None:
            return DEFAULT_MODEL
        try:
            listed = [m.id for m in self.client.models.list()]
        except Exception as exc:
            logger.warning("%s: could not list the models at %s (%s); using %r", self.name, self.base_url, exc,
                           DEFAULT_MODEL)
            self._model_note = f" (no model= given and listing the served models failed: {type(exc).__name__})"
            return DEFAULT_MODEL
        if len(listed) > 1:
            raise ValueError(f"the server at {self.base_url} serves {len(listed)} models "
                             f"({', '.join(listed[:5])}{', ...' if len(listed) > 5 else ''}): pass model=<one of them>")
        return listed[0] if listed else DEFAULT_MODEL

    # --- episode ------------------------------------------------------------------------------

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        super().reset(obs, info)
        self._log.update(model=self.model, base_url=self.base_url)
        self.messages = build_messages(str(obs["instruction"]))
        self.calls = 0
        self._awaiting = True
        self._said_stop = False
        self._looping = False
        self._previous_plan = None

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        try:
            return self._act(info)
        except InfrastructureError:  # the endpoint's failure: this episode cannot be played
            raise
        except Exception as exc:  # a bug or a surprise from a client library must not end the evaluation
            logger.exception("%s: unexpected error", self.name)
            self._log["errors"] += 1
            self._log.setdefault("exceptions", []).append(f"{type(exc).__name__}: {exc}")
            return self.spend_invalid(info, "error", f"{type(exc).__name__}: {exc}")

    def _act(self, info: dict[str, Any]) -> int:
        last = self.observe(info)
        failed = last is not None and last[0] in ("skill", "unparseable") and bool(info.get("invalid", False))
        exhausted = not self._awaiting and self.cursor >= len(self.plan)
        if (failed or exhausted) and not self._awaiting and (self.calls >= self.max_calls or self._looping):
            if not self._looping:
                self._log["call_limit_reached"] = True  # no more requests: finish the plan, then stop
        elif (failed or exhausted) and not self._awaiting:
            note = None
            if not failed:
                note = ("You said stop, but the task is not done yet." if self._said_stop
                        else "Your plan has ended, but the task is not done yet.")
            self.plan, self.cursor = [], 0
            self.messages.append({"role": "user", "content": feedback_message(
                self.memory.feedback, self.memory.location, self.memory.holding, self.memory.unvisited, note)})
            self._awaiting = True
        if self._awaiting:
            if self.calls >= self.max_calls:  # the last requests failed: give up
                self._awaiting = False
                self._log["call_limit_reached"] = True
            else:
                error = self._request()
                if error is not None:
                    return self.spend_invalid(info, "error", error)
        if self.cursor < len(self.plan):
            step = self.plan[self.cursor]
            self._said_stop = step.skill == STOP_ID
        return self.next_action(info)

    @property
    def endpoint(self) -> str:
        """The chat endpoint's base URL, for messages."""
        url = self.base_url or getattr(self.client, "base_url", None)
        return str(url).rstrip("/") if url else OPENAI_URL

    def _request(self) -> str | None:
        """Ask for a plan; adopts it and returns None, or returns the error text.

        Raises ``InfrastructureError`` when the request failed for the endpoint's reasons.
        """
        self.calls += 1
        request = self.messages[-1]["content"]
        t0 = time.perf_counter()
        try:
            answer, extra = self._complete()
        except Exception as exc:
            error = _describe(exc)
            cause = infrastructure_cause(exc)
            self.log_call(request, None, time.perf_counter() - t0, error=error,
                          **({"infrastructure": cause} if cause else {}))
            if cause is not None:
                raise InfrastructureError(
                    f"{self.name}: the chat endpoint {self.endpoint} failed for model {self.model!r}"
                    f"{self._model_note} ({cause}; client max_retries={self.max_retries}): {error}") from exc
            logger.warning("%s: request %d failed: %s", self.name, self.calls, error)
            return error
        seconds = time.perf_counter() - t0
        self.messages.append({"role": "assistant", "content": answer})
        self._awaiting = False
        steps: list[ParsedStep] = parse_plan(answer, max_steps=self.max_plan_steps)
        if not steps:
            logger.info("%s: no skill in the answer %r", self.name, answer[:200])
        self.set_plan(steps, answer)
        plan = [step.text for step in self.plan]
        if self.stop_on_repeat and plan == self._previous_plan:
            self._looping = True
            self._log["repeated_plan"] = True
        self._previous_plan = plan
        self.log_call(request, answer, seconds, **extra)
        return None

    def _complete(self) -> tuple[str, dict[str, Any]]:
        import openai

        kwargs: dict[str, Any] = {"model": self.model, "messages": self.messages, "temperature": self.temperature,
                                  self._token_param: self.max_tokens}
        if self.seed is not None:
            kwargs["seed"] = self.seed
        try:
            response = self.client.chat.completions.create(**kwargs)
        except openai.BadRequestError as exc:  # newer OpenAI models only take max_completion_tokens
            if self._token_param == "max_tokens" and "max_completion_tokens" in str(exc):
                self._token_param = "max_completion_tokens"
                kwargs["max_completion_tokens"] = kwargs.pop("max_tokens")
                response = self.client.chat.completions.create(**kwargs)
            else:
                raise
        if not response.choices:
            raise RuntimeError("the response has no choices")
        choice = response.choices[0]
        content = choice.message.content
        extra: dict[str, Any] = {"finish_reason": choice.finish_reason}
        usage = getattr(response, "usage", None)
        if usage is not None:
            extra["prompt_tokens"] = usage.prompt_tokens
            extra["completion_tokens"] = usage.completion_tokens
            details = getattr(usage, "prompt_tokens_details", None)
            if details is not None and getattr(details, "cached_tokens", None) is not None:
                extra["cached_tokens"] = details.cached_tokens
        return (content if isinstance(content, str) else ""), extra

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                pass
