"""A small local OpenAI-compatible chat server, for tests and demos of ZS-ChatGPT.

Serves one causal LM loaded with ``agents.nn.llm.load_causal_lm`` (default SmolLM2-135M,
fully offline) with the standard library only::

    python -m agents.zero_shot.server --model smollm2-135m --host 127.0.0.1 --port 0
    # prints: listening on http://127.0.0.1:PORT/v1

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /health``.
Requests are answered one at a time; the server keeps the KV cache of the previous
request, so a conversation that grows turn by turn (as ZS-ChatGPT's does) only computes
its new tokens. ``--plan-stop`` also ends an answer once it holds a complete plan (small
models tend to loop until ``max_tokens``). It binds loopback addresses only: it has no
authentication.

**The request schema** (``agents.zero_shot.requests``) is checked before anything is
generated; a bad request gets HTTP 400 with an OpenAI-style error whose ``message`` names
the field, the value given and what is allowed. The body itself: ``Content-Length`` is
required (411 without it, or with ``Transfer-Encoding``), must be a plain number of bytes
(400 otherwise) of at most ``MAX_BODY_BYTES`` (413), and the body must arrive within
``BODY_TIMEOUT_S`` seconds (408). These errors close the connection. A 500 is a bug of
the server.

From Python, ``local_server()`` starts it in a subprocess on a free loopback port and
stops it afterwards::

    with local_server("smollm2-135m") as server:
        agent = ZSChatGPT(base_url=server.base_url, model=server.model)

Why not ``transformers serve``: it was tried (transformers 5.23, offline, our converted
SmolLM2 folder). Chat completions worked once FastAPI and Uvicorn were installed, but
``GET /v1/models`` failed with a server error offline (it scans the hub cache folder,
which does not exist), and it needs those extra packages; this module needs neither.

**Using a real hosted model instead.** ZS-ChatGPT talks to any OpenAI-compatible
endpoint through the ``openai`` client:

* OpenAI: ``export OPENAI_API_KEY=sk-...`` and run the evaluation with
  ``--agent zs-chatgpt`` and the option ``model=gpt-4o-mini`` (or ``gpt-3.5-turbo``, the
  paper's model, while it is served); no ``base_url`` needed.
* Another provider or a self-hosted server (vLLM, llama.cpp ``llama-server``, TGI,
  ``transformers serve`` with network access...): options ``base_url=https://host/v1``
  and ``model=<served name>``, key in ``OPENAI_API_KEY`` (any dummy for servers without
  authentication). Options ``timeout=`` and ``max_retries=`` tune the client.
"""
from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import queue
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from agents.zero_shot.parsing import plan_complete
from agents.zero_shot.requests import ChatRequest, RequestError, parse_body, parse_request

logger = logging.getLogger("agents.zero_shot.server")

MAX_BODY_BYTES = 4 * 1024 * 1024  # a long ZS-ChatGPT conversation is ~50 kB
BODY_TIMEOUT_S = 30.0  # to receive the whole body once the headers are in


# --- the model -------------------------------------------------------------------------------

class ChatModel:
    """The served model: a ``LocalGenerator`` answering one request at a time.

    ``generator``: an object with ``LocalGenerator``'s ``chat_ids`` and ``generate`` to serve
    instead of loading ``model`` (tests use a fake one).
    """

    def __init__(self, model: str = "smollm2-135m", dtype: str = "float32", device: str = "cpu",
                 name: str | None = None, plan_stop: bool = False, generator: Any = None) -> None:
        if generator is None:
            from agents.zero_shot.local_lm import LocalGenerator

            generator = LocalGenerator(model, dtype=dtype, device=device)
        self.generator = generator
        self.plan_stop = plan_stop
        self.name = name or (Path(model).name if os.sep in model else model)
        self.created = int(time.time())
        self._lock = threading.Lock()

    @property
    def context_limit(self) -> int | None:
        """Tokens the model takes (prompt and answer together), when its config says so."""
        config = getattr(getattr(self.generator, "model", None), "config", None)
        if config is not None and hasattr(config, "get_text_config"):
            config = config.get_text_config()
        limit = getattr(config, "max_position_embeddings", None)
        return limit if isinstance(limit, int) and limit > 0 else None

    def complete(self, body: dict[str, Any] | ChatRequest,
                 cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Answer one chat-completions request; ``cancelled()`` true ends generation early.

        Raises ``RequestError`` for a bad request (see ``parse_request``), or one whose prompt
        does not fit the model's context.
        """
        request = body if isinstance(body, ChatRequest) else parse_request(body)
        tests = [t for t in (plan_complete if self.plan_stop else None, cancelled) if t is not None]

        def should_stop(text: str) -> bool:
            return any(t(text) if t is plan_complete else t() for t in tests)

        with self._lock:
            ids = self._prompt_ids(request.messages)
            max_tokens = self._fit(len(ids), request)
            gen = self.generator.generate(ids, max_new_tokens=max_tokens, stop_strings=request.stop,
                                          stop=should_stop if tests else None, temperature=request.temperature,
                                          top_p=request.top_p, seed=request.seed)
        logger.info("chat: %d prompt tokens (%d cached), %d new, %.2f s", gen.prompt_tokens, gen.cached_tokens,
                    gen.new_tokens, gen.seconds)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": gen.text},
                         "finish_reason": gen.finish_reason, "logprobs": None}],
            "usage": {"prompt_tokens": gen.prompt_tokens, "completion_tokens": gen.new_tokens,
                      "total_tokens": gen.prompt_tokens + gen.new_tokens,
                      "prompt_tokens_details": {"cached_tokens": gen.cached_tokens}},
        }

    def _prompt_ids(self, messages: list[dict[str, str]]) -> list[int]:
        try:
            ids = self.generator.chat_ids(messages)
        except Exception as exc:
            if type(exc).__module__.split(".")[0] == "jinja2":  # the template refused this conversation
                raise RequestError(f"messages could not be formatted with the model's chat template: {exc}",
                                   param="messages", code="invalid_value") from None
            raise
        if not ids:
            raise RequestError("messages make an empty prompt", param="messages", code="invalid_value")
        return ids

    def _fit(self, prompt_tokens: int, request: ChatRequest) -> int:
        """``max_tokens`` for this prompt: the default is cut to the context left; a given one must fit."""
        limit = self.context_limit
        if limit is None:
            return request.max_tokens
        left = limit - prompt_tokens
        if request.max_tokens_given and request.max_tokens > left or left < 1:
            raise RequestError(f"messages and max_tokens must fit the model's context of {limit} tokens, got "
                               f"{prompt_tokens} prompt tokens + max_tokens {request.max_tokens}", param="messages",
                               code="context_length_exceeded")
        return min(request.max_tokens, left)

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.name, "object": "model", "created": self.created,
                                            "owned_by": "local"}]}


# --- HTTP ------------------------------------------------------------------------------------

_DIGITS = re.compile(r"[0-9]+")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "glr-chat/1"
    chat_model: ChatModel  # set on the subclass made by make_server
    max_body_bytes = MAX_BODY_BYTES
    body_timeout = BODY_TIMEOUT_S

    def _send(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client has gone
            self.close_connection = True
        if close:
            self.close_connection = True

    def _error(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None, close: bool = False) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": param, "code": code}}, close)

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (e.g. it timed out): then stop generating for it."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _read_body(self) -> bytes:
        """The request body, read by its Content-Length; raises ``RequestError`` (the connection is then closed)."""
        if self.headers.get("Transfer-Encoding"):
            raise RequestError("Transfer-Encoding is not supported by this server: send the body with a "
                               "Content-Length header", code="length_required", status=411)
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if not values:
            raise RequestError("Content-Length is required: send the JSON body with its length in bytes",
                               code="length_required", status=411)
        if len(values) > 1:
            raise RequestError(f"Content-Length must be given once, got {', '.join(sorted(values))}",
                               code="invalid_content_length")
        text = values.pop()
        if not _DIGITS.fullmatch(text):
            raise RequestError(f"Content-Length must be a non-negative integer number of bytes, got {text!r}",
                               code="invalid_content_length")
        if len(text) > 18 or int(text) > self.max_body_bytes:  # (int() of thousands of digits would fail)
            shown = text if len(text) <= 40 else text[:20] + "..."
            raise RequestError(f"the request body must be at most {self.max_body_bytes} bytes, got Content-Length "
                               f"{shown}", code="request_too_large", status=413)
        length = int(text)
        if length == 0:
            return b""
        try:
            self.connection.settimeout(self.body_timeout)
            raw = self.rfile.read(length)
        except TimeoutError:
            raise RequestError(f"the request body did not arrive within {self.body_timeout:g} s (Content-Length "
                               f"{length})", code="request_timeout", status=408) from None
        finally:
            with contextlib.suppress(OSError):
                self.connection.settimeout(None)
        if len(raw) < length:
            raise RequestError(f"the request body ended after {len(raw)} of its {length} bytes (Content-Length)",
                               code="invalid_content_length")
        return raw

    def _linger(self, seconds: float = 1.0, limit: int = 1 << 20) -> None:
        """After an answer sent without reading the body: end our side, then read and drop what
        the client still sends (briefly, boundedly). Closing a socket with unread data resets
        the connection, and a client still sending its body could then miss the answer."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(seconds)
            deadline, dropped = time.monotonic() + seconds, 0
            while dropped < limit and time.monotonic() < deadline:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                dropped += len(chunk)
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?")[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send(200, self.chat_model.models())
        elif path.startswith(("/v1/models/", "/models/")):
            wanted = path.split("/models/", 1)[1]
            data = [m for m in self.chat_model.models()["data"] if m["id"] == wanted]
            self._send(200, data[0]) if data else self._error(404, f"model {wanted!r} not found", "not_found_error")
        elif path in ("/health", "/v1/health", ""):
            self._send(200, {"status": "ok", "model": self.chat_model.name})
        else:
            self._error(404, f"no route GET {path}", "not_found_error")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0].rstrip("/")
        try:
            raw = self._read_body()
        except RequestError as exc:  # the body was not read: the connection cannot carry another request
            self._error(exc.status, str(exc), param=exc.param, code=exc.code, close=True)
            return self._linger()
        except OSError as exc:
            self.close_connection = True
            return logger.info("could not read a request body: %s", exc)
        if path not in ("/v1/chat/completions", "/chat/completions"):
            return self._error(404, f"no route POST {path}", "not_found_error")
        try:
            request = parse_request(parse_body(raw))
            reply = self.chat_model.complete(request, cancelled=self._client_gone)
            if not self._client_gone():
                self._send(200, reply)
        except RequestError as exc:
            self._error(exc.status, str(exc), param=exc.param, code=exc.code)
        except Exception as exc:  # a bug of the server: say so, and keep serving
            logger.exception("request failed")
            self._error(500, f"{type(exc).__name__}: {exc}", "server_error")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        logger.info("%s %s", self.address_string(), format % args)


def _check_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"this server has no authentication and binds loopback addresses only (e.g. 127.0.0.1), "
                     f"not {host!r}")


def make_server(chat_model: ChatModel, host: str = "127.0.0.1", port: int = 0, max_body_bytes: int = MAX_BODY_BYTES,
                body_timeout: float = BODY_TIMEOUT_S) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``chat_model``; ``port=0`` picks a free port.

    ``max_body_bytes``: larger request bodies get 413; ``body_timeout``: seconds for a body to
    arrive once its headers have (else 408).
    """
    _check_loopback(host)
    handler = type("ChatHandler", (_Handler,), {"chat_model": chat_model, "max_body_bytes": int(max_body_bytes),
                                                "body_timeout": float(body_timeout)})
    server_cls = ThreadingHTTPServer
    if ":" in host:  # IPv6 loopback
        server_cls = type("ThreadingHTTPServerV6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
    server = server_cls((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local OpenAI-compatible chat server (loopback only).")
    parser.add_argument("--model", default="smollm2-135m", help="load_causal_lm name, local HF folder or .gguf file")
    parser.add_argument("--name", default=None, help="model id to report (default: from --model)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto")
    parser.add_argument("--plan-stop", action="store_true",
                        help="also end an answer once it holds a complete plan (a stop line, a closed list, or one "
                             "line repeated three times): saves a small model's loops, for planner demos")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES,
                        help="larger request bodies are refused with 413 (default %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s: %(message)s")
    try:
        _check_loopback(args.host)
    except ValueError as exc:
        parser.error(str(exc))
    chat_model = ChatModel(args.model, dtype=args.dtype, device=args.device, name=args.name,
                           plan_stop=args.plan_stop)
    server = make_server(chat_model, args.host, args.port, max_body_bytes=args.max_body_bytes)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"listening on http://{shown}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# --- running it as a subprocess ------------------------------------------------------------

@dataclass
class LocalServer:
    base_url: str  # e.g. http://127.0.0.1:40123/v1
    model: str  # the served model id
    process: subprocess.Popen
    log_path: str  # the server's stderr


def _repo_root() -> str:
    return str(Path(__file__).resolve().parents[2])


@contextlib.contextmanager
def local_server(model: str = "smollm2-135m", dtype: str = "float32", startup_timeout: float = 300.0,
                 plan_stop: bool = False, verbose: bool = False,
                 extra_args: tuple[str, ...] = ()) -> Iterator[LocalServer]:
    """Run ``python -m agents.zero_shot.server`` on a free loopback port while the block runs.

    ``plan_stop``: pass ``--plan-stop`` (answers end once they hold a complete plan).

    Waits until the server answers ``GET /v1/models``; raises RuntimeError (with the end of
    its log) if it exits or does not come up within ``startup_timeout`` seconds.
    """
    cmd = [sys.executable, "-m", "agents.zero_shot.server", "--model", str(model), "--dtype", str(dtype),
           "--host", "127.0.0.1", "--port", "0", *extra_args]
    if plan_stop:
        cmd.append("--plan-stop")
    if verbose:
        cmd.append("--verbose")
    env = dict(os.environ)
    env["PYTHONPATH"] = _repo_root() + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    log = tempfile.NamedTemporaryFile("w+", prefix="zs-server-", suffix=".log", delete=False)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # read stdout to the end, so the server never blocks on a full pipe
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()

    def fail(why: str) -> RuntimeError:
        log.flush()
        tail = Path(log.name).read_text(errors="replace")[-3000:]
        return RuntimeError(f"local server {why}: {' '.join(cmd)}\n--- its log ({log.name}) ---\n{tail}")

    failed = True  # keep the log for a look when something went wrong
    try:
        deadline = time.monotonic() + startup_timeout
        base_url = None
        while base_url is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise fail(f"did not start within {startup_timeout:.0f} s")
            try:
                line = lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                if proc.poll() is not None:
                    raise fail(f"exited with code {proc.returncode}") from None
                continue
            if line is None:
                proc.wait(timeout=10)
                raise fail(f"exited with code {proc.returncode}")
            if line.startswith("listening on "):
                base_url = line.split("listening on ", 1)[1].strip()
        served = None
        while served is None:
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=5) as resp:
                    served = json.load(resp)["data"][0]["id"]
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise fail("does not answer") from None
                time.sleep(0.2)
        yield LocalServer(base_url, served, proc, log.name)
        failed = False
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
        log.close()
        if not failed:
            with contextlib.suppress(OSError):
                os.unlink(log.name)


if __name__ == "__main__":
    main()
