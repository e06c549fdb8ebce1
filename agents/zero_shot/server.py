"""A small local OpenAI-compatible chat server, for tests and demos of ZS-ChatGPT.

Serves one causal LM loaded with ``agents.core.llm.load_causal_lm`` (default SmolLM2-135M,
fully offline) with the standard library only::

    python -m agents.zero_shot.server --model smollm2-135m --host 127.0.0.1 --port 0
    # prints: listening on http://127.0.0.1:PORT/v1

Endpoints: ``POST /v1/chat/completions`` (``messages``, ``max_tokens`` /
``max_completion_tokens``, ``temperature``: 0 is greedy, ``stop``, ``seed``; no streaming,
``n`` = 1) answering in the OpenAI response schema, ``GET /v1/models`` and ``GET /health``.
Requests are answered one at a time; the server keeps the KV cache of the previous
request, so a conversation that grows turn by turn (as ZS-ChatGPT's does) only computes
its new tokens. ``--plan-stop`` also ends an answer once it holds a complete plan (small
models tend to loop until ``max_tokens``). It binds loopback addresses only: it has no
authentication.

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

logger = logging.getLogger("agents.zero_shot.server")

MAX_TOKENS_DEFAULT = 256
MAX_TOKENS_LIMIT = 4096


class RequestError(ValueError):
    """A client error, answered with HTTP 400."""


def _text_content(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text"):
                parts.append(str(part.get("text", "")))
            elif isinstance(part, str):
                parts.append(part)
            else:
                raise RequestError("only text content is supported by this server")
        return "".join(parts)
    raise RequestError("message content must be a string or a list of text parts")


class ChatModel:
    """The served model: a ``LocalGenerator`` answering one request at a time."""

    def __init__(self, model: str = "smollm2-135m", dtype: str = "float32", device: str = "cpu",
                 name: str | None = None, plan_stop: bool = False) -> None:
        from agents.zero_shot.local_lm import LocalGenerator

        self.generator = LocalGenerator(model, dtype=dtype, device=device)
        self.plan_stop = plan_stop
        self.name = name or (Path(model).name if os.sep in model else model)
        self.created = int(time.time())
        self._lock = threading.Lock()

    def complete(self, body: dict[str, Any], cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Answer one chat-completions request body; ``cancelled()`` true ends generation early."""
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list")
        chat = []
        for m in messages:
            if not isinstance(m, dict) or "role" not in m:
                raise RequestError("every message needs a 'role'")
            role = str(m["role"])
            chat.append({"role": "system" if role == "developer" else role, "content": _text_content(m.get("content"))})
        if body.get("stream"):
            raise RequestError("streaming is not supported by this server")
        if int(body.get("n", 1) or 1) != 1:
            raise RequestError("only n=1 is supported")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens")) or MAX_TOKENS_DEFAULT
        try:
            max_tokens = int(max_tokens)
            temperature = float(body.get("temperature", 1.0) if body.get("temperature") is not None else 1.0)
            seed = None if body.get("seed") is None else int(body["seed"])
        except (TypeError, ValueError) as exc:
            raise RequestError(f"bad parameter: {exc}") from None
        if not 1 <= max_tokens <= MAX_TOKENS_LIMIT:
            raise RequestError(f"max_tokens must be in 1..{MAX_TOKENS_LIMIT}")
        if temperature < 0:
            raise RequestError("temperature must be >= 0")
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else [str(s) for s in stop]
        tests = [t for t in (plan_complete if self.plan_stop else None, cancelled) if t is not None]

        def should_stop(text: str) -> bool:
            return any(t(text) if t is plan_complete else t() for t in tests)

        with self._lock:
            ids = self.generator.chat_ids(chat)
            gen = self.generator.generate(ids, max_new_tokens=max_tokens, stop_strings=stop,
                                          stop=should_stop if tests else None, temperature=temperature, seed=seed)
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

    def models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.name, "object": "model", "created": self.created,
                                            "owned_by": "local"}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "glr-chat/1"
    chat_model: ChatModel  # set on the subclass made by make_server

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        self._send(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def _client_gone(self) -> bool:
        """Whether the client closed the connection (e.g. it timed out): then stop generating for it."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

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
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        except (ValueError, OSError):
            return self._error(400, "could not read the request body")
        if path not in ("/v1/chat/completions", "/chat/completions"):
            return self._error(404, f"no route POST {path}", "not_found_error")
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise RequestError("the body must be a JSON object")
            reply = self.chat_model.complete(body, cancelled=self._client_gone)
            if not self._client_gone():
                self._send(200, reply)
        except (RequestError, json.JSONDecodeError) as exc:
            self._error(400, str(exc))
        except Exception as exc:  # keep serving
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


def make_server(chat_model: ChatModel, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A bound (not yet serving) HTTP server for ``chat_model``; ``port=0`` picks a free port."""
    _check_loopback(host)
    handler = type("ChatHandler", (_Handler,), {"chat_model": chat_model})
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
    server = make_server(chat_model, args.host, args.port)
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
