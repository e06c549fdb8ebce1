"""The local OpenAI-compatible server's request checks, through a real HTTP server on 127.0.0.1.

The server runs in a thread of the test process and serves a fake generator (no model
is loaded), so every bad input is tried in milliseconds; ``test_zero_shot_server.py``
repeats a few against the real SmolLM2 server subprocess.
"""
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from agents.zero_shot.local_lm import Generation
from agents.zero_shot.requests import MAX_TOKENS_DEFAULT
from agents.zero_shot.server import ChatModel, make_server

CONTEXT = 200  # the fake model's context, in tokens (one token per character of the chat)
BODY_LIMIT = 64 * 1024
BODY_TIMEOUT = 1.0
USER = {"role": "user", "content": "Bring the apple to the sofa."}


class FakeGenerator:
    """Stands in for ``LocalGenerator``: one token per character, a fixed answer."""

    def __init__(self):
        self.model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=CONTEXT))
        self.chats, self.calls = [], []

    def chat_ids(self, messages):
        self.chats.append([dict(m) for m in messages])
        return [ord(c) % 997 for m in messages for c in m["role"][0] + m["content"]]

    def generate(self, ids, max_new_tokens=96, stop=None, stop_strings=(), temperature=0.0, seed=None, top_p=1.0):
        self.calls.append({"max_new_tokens": max_new_tokens, "stop_strings": list(stop_strings),
                           "temperature": temperature, "seed": seed, "top_p": top_p})
        new = min(max_new_tokens, 3)
        return Generation("navigate(sofa)\nstop", len(ids), new, 0, "stop", 0.001)


@pytest.fixture(scope="module")
def fake():
    generator = FakeGenerator()
    server = make_server(ChatModel(name="fake", generator=generator), "127.0.0.1", 0, max_body_bytes=BODY_LIMIT,
                         body_timeout=BODY_TIMEOUT)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield SimpleNamespace(port=port, url=f"http://127.0.0.1:{port}/v1/chat/completions", generator=generator)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def post(url, body, raw=None):
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def raw_exchange(port, head, body=b"", shut_write=False, timeout=10.0):
    """Send bytes as they are; read the answer until the server closes the connection.

    Returns (status, headers, JSON payload, seconds until the connection closed).
    """
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        if shut_write:
            s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)  # a hang here is the bug: the socket timeout fails the test
            if not chunk:
                break
            data += chunk
    seconds = time.monotonic() - t0
    header_text, _, payload = data.partition(b"\r\n\r\n")
    lines = header_text.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), headers, json.loads(payload), seconds


def head(length_headers, path="/v1/chat/completions"):
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json", *length_headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


GOOD = json.dumps({"messages": [USER], "max_tokens": 4}).encode()


def assert_openai_error(payload, status, param=None):
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert status in (400, 408, 411, 413)


# --- every field the server reads ----------------------------------------------------------

BAD_FIELDS = [
    ({"n": "abc"}, "n", 'n must be the integer 1 (this server returns one choice), got "abc"'),
    ({"n": 2}, "n", "n must be the integer 1 (this server returns one choice), got 2"),
    ({"n": True}, "n", "got true"),
    ({"seed": 2 ** 70}, "seed",
     "seed must be an integer from -9223372036854775808 to 9223372036854775807, got 1180591620717411303424"),
    ({"seed": "7"}, "seed", 'got "7"'),
    ({"seed": 1.5}, "seed", "got 1.5"),
    ({"max_tokens": 0}, "max_tokens", "max_tokens must be an integer from 1 to 4096, got 0"),
    ({"max_tokens": 4097}, "max_tokens", "from 1 to 4096, got 4097"),
    ({"max_tokens": "12"}, "max_tokens", 'got "12"'),
    ({"max_tokens": False}, "max_tokens", "got false"),
    ({"max_completion_tokens": -3}, "max_completion_tokens", "max_completion_tokens must be an integer from 1 to"),
    ({"temperature": "hot"}, "temperature", 'temperature must be a number from 0 to 2, got "hot"'),
    ({"temperature": -0.1}, "temperature", "got -0.1"),
    ({"temperature": 2.5}, "temperature", "got 2.5"),
    ({"temperature": float("nan")}, "temperature", "got NaN"),
    ({"temperature": float("inf")}, "temperature", "got Infinity"),
    ({"top_p": 1.5}, "top_p", "top_p must be a number from 0 to 1, got 1.5"),
    ({"top_p": [1]}, "top_p", "got [1]"),
    ({"stop": 5}, "stop", "stop must be a non-empty string or an array of at most 4 of them, got 5"),
    ({"stop": ""}, "stop", 'got ""'),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
    ({"stop": ["a", 3]}, "stop[1]", "stop[1] must be a non-empty string, got 3"),
    ({"stream": True}, "stream", "stream=true is not supported"),
    ({"stream": "no"}, "stream", 'stream must be a boolean (and this server supports only false), got "no"'),
    ({"logprobs": True}, "logprobs", "logprobs=true is not supported"),
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "does not call tools"),
    ({"functions": "f"}, "functions", 'got "f"'),
    ({"response_format": {"type": "json_object"}}, "response_format", '{"type": "json_object"}'),
    ({"model": 5}, "model", "model must be a non-empty string, got 5"),
    ({"model": ""}, "model", 'got ""'),
    ({"messages": "hi"}, "messages", 'messages must be a non-empty array of message objects, got "hi"'),
    ({"messages": []}, "messages", "got []"),
    ({"messages": None}, "messages", "got null"),
    ({"messages": [5]}, "messages[0]", 'messages[0] must be an object with "role" and "content", got 5'),
    ({"messages": [USER, {"role": "tool", "content": "x"}]}, "messages[1].role",
     'messages[1].role must be one of "system", "developer", "user", "assistant", got "tool"'),
    ({"messages": [{"content": "x"}]}, "messages[0].role", "got null"),
    ({"messages": [{"role": ["user"], "content": "x"}]}, "messages[0].role", 'got ["user"]'),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content",
     "messages[0].content must be a string or an array of text parts, got 5"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "null only for assistant"),
    ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0].type", '"text" (this server reads text only), got "image_url"'),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text",
     "must be a string, got 5"),
    ({"messages": [{"role": "user", "content": [7]}]}, "messages[0].content[0]", "got 7"),
]


@pytest.mark.parametrize("patch,param,message", BAD_FIELDS, ids=[f"{i}-{p}" for i, (_, p, _) in enumerate(BAD_FIELDS)])
def test_a_bad_field_is_a_400_naming_it(fake, patch, param, message):
    body = {"model": "fake", "messages": [USER], "max_tokens": 4, **patch}
    generated = len(fake.generator.calls)
    status, payload = post(fake.url, body)
    assert status == 400, payload
    assert_openai_error(payload, status, param)
    assert message in payload["error"]["message"]
    assert payload["error"]["code"] in ("invalid_type", "invalid_value", "unsupported_value")
    assert len(fake.generator.calls) == generated  # refused before the model was asked


def test_a_good_request_with_every_field_and_extras(fake):
    status, reply = post(fake.url, {
        "model": "whatever-the-client-calls-it", "n": 1, "stream": False, "logprobs": False, "tools": [],
        "response_format": {"type": "text"}, "seed": -(2 ** 63), "temperature": 0.7, "top_p": 0.9,
        "stop": ["\n\n"], "max_completion_tokens": 3, "max_tokens": 100,  # max_completion_tokens wins
        "user": "someone", "presence_penalty": 0, "stream_options": None, "metadata": {"a": 1},  # ignored
        "messages": [{"role": "developer", "content": "Plan."},
                     {"role": "user", "content": [{"type": "text", "text": "Bring "}, "it."], "name": "u"},
                     {"role": "assistant", "content": None},
                     {"role": "user", "content": "Again."}]})
    assert status == 200 and reply["object"] == "chat.completion" and reply["model"] == "fake"
    assert reply["choices"][0]["message"]["content"] == "navigate(sofa)\nstop"
    assert fake.generator.calls[-1] == {"max_new_tokens": 3, "stop_strings": ["\n\n"], "temperature": 0.7,
                                        "seed": -(2 ** 63), "top_p": 0.9}
    assert fake.generator.chats[-1] == [{"role": "system", "content": "Plan."},
                                        {"role": "user", "content": "Bring it."},
                                        {"role": "assistant", "content": ""},
                                        {"role": "user", "content": "Again."}]


def test_defaults_and_integral_numbers(fake):
    status, _ = post(fake.url, {"messages": [USER], "max_tokens": 4.0, "n": 1.0, "seed": None, "temperature": None})
    assert status == 200
    assert fake.generator.calls[-1] == {"max_new_tokens": 4, "stop_strings": [], "temperature": 1.0, "seed": None,
                                        "top_p": 1.0}
    status, _ = post(fake.url, {"messages": [{"role": "user", "content": "x" * 20}]})  # no max_tokens
    assert status == 200 and fake.generator.calls[-1]["max_new_tokens"] == CONTEXT - 21 < MAX_TOKENS_DEFAULT


def test_a_prompt_beyond_the_context_is_a_400(fake):
    status, payload = post(fake.url, {"messages": [{"role": "user", "content": "x" * 150}], "max_tokens": 100})
    assert status == 400 and payload["error"]["code"] == "context_length_exceeded"
    assert "context of 200 tokens, got 151 prompt tokens + max_tokens 100" in payload["error"]["message"]
    status, payload = post(fake.url, {"messages": [{"role": "user", "content": "x" * 300}]})  # default max_tokens
    assert status == 400 and payload["error"]["param"] == "messages"


# --- the body -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,message", [
    (b"not json", "the request body is not valid JSON"),
    (b"[1, 2]", "the request body must be a JSON object, got an array"),
    (b'"text"', "must be a JSON object, got a string"),
    (b"null", "must be a JSON object, got null"),
    (b"\xff\xfe{", "the request body must be UTF-8 JSON"),
    (b'{"messages": [], "max_tokens": 1' + b"0" * 5000 + b"}", "the request body is not valid JSON"),
    (b"   ", "the request body is empty"),
    (b"", "the request body is empty"),
    (b"[" * 30000 + b"]" * 30000, "nested too deeply"),
], ids=["not-json", "array", "string", "null", "not-utf8", "long-int", "blank", "empty", "deep"])
def test_a_body_that_is_not_a_json_object_is_a_400(fake, raw, message):
    assert len(raw) <= BODY_LIMIT
    status, payload = post(fake.url, None, raw=raw)
    assert status == 400 and message in payload["error"]["message"], payload
    assert_openai_error(payload, status)


@pytest.mark.parametrize("length_headers,status,message", [
    (["Content-Length: -1"], 400, "Content-Length must be a non-negative integer number of bytes, got '-1'"),
    (["Content-Length: abc"], 400, "got 'abc'"),
    (["Content-Length: 1_0"], 400, "got '1_0'"),
    (["Content-Length: +10"], 400, "got '+10'"),
    (["Content-Length: 10", "Content-Length: 12"], 400, "Content-Length must be given once, got 10, 12"),
    ([], 411, "Content-Length is required"),
    (["Transfer-Encoding: chunked"], 411, "Transfer-Encoding is not supported"),
    (["Content-Length: 99999999999"], 413,
     f"the request body must be at most {BODY_LIMIT} bytes, got Content-Length 99999999999"),
    (["Content-Length: " + "9" * 5000], 413, "got Content-Length 99999999999999999999..."),
    ([f"Content-Length: {BODY_LIMIT + 1}"], 413, f"at most {BODY_LIMIT} bytes"),
], ids=["negative", "letters", "underscore", "plus", "twice", "missing", "chunked", "huge", "too-many-digits",
        "over-limit"])
def test_a_bad_content_length_is_answered_at_once(fake, length_headers, status, message):
    answered, headers, payload, seconds = raw_exchange(fake.port, head(length_headers), GOOD)
    assert answered == status and message in payload["error"]["message"], payload
    assert_openai_error(payload, status)
    assert headers["connection"] == "close"
    assert seconds < BODY_TIMEOUT + 0.9  # no hang: the answer comes, and the connection closes, within the linger


def test_a_body_shorter_than_its_content_length(fake):
    # the client stops sending but keeps the connection open: 408 after the body timeout
    status, _, payload, seconds = raw_exchange(fake.port, head([f"Content-Length: {len(GOOD) + 10}"]), GOOD)
    assert status == 408 and "did not arrive within 1 s" in payload["error"]["message"]
    assert BODY_TIMEOUT * 0.9 <= seconds < BODY_TIMEOUT + 3
    # the client closes its side: 400 at once
    status, _, payload, seconds = raw_exchange(fake.port, head([f"Content-Length: {len(GOOD) + 10}"]), GOOD,
                                               shut_write=True)
    assert status == 400 and f"ended after {len(GOOD)} of its {len(GOOD) + 10} bytes" in payload["error"]["message"]
    assert seconds < BODY_TIMEOUT


def test_unknown_routes_and_the_server_keeps_serving(fake):
    status, _, payload, _ = raw_exchange(fake.port, head(["Content-Length: -1"], path="/nowhere"), b"{}")
    assert status == 400  # the length is checked first, whatever the route
    status, payload = post(f"http://127.0.0.1:{fake.port}/v1/nowhere", {})
    assert status == 404 and payload["error"]["type"] == "not_found_error"
    # a connection kept alive after a 400 (its body was read) carries the next request
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps({"messages": [USER], "n": "abc"}))
        first = conn.getresponse()
        assert first.status == 400 and json.load(first)["error"]["param"] == "n"
        sock = conn.sock
        conn.request("POST", "/v1/chat/completions", GOOD)
        second = conn.getresponse()
        assert second.status == 200 and json.load(second)["object"] == "chat.completion"
        assert conn.sock is sock  # the same connection
    finally:
        conn.close()
    status, reply = post(fake.url, {"messages": [USER], "max_tokens": 2})
    assert status == 200 and reply["choices"][0]["finish_reason"] == "stop"


def test_top_p_keeps_the_fewest_likeliest_tokens():
    import torch

    from agents.zero_shot.local_lm import _nucleus

    probs = torch.tensor([0.1, 0.6, 0.3])
    assert torch.equal(_nucleus(probs, 0.7), torch.tensor([0.0, 0.6, 0.3]))
    assert torch.equal(_nucleus(probs, 0.6), torch.tensor([0.0, 0.6, 0.0]))
    assert torch.equal(_nucleus(probs, 0.0), torch.tensor([0.0, 0.6, 0.0]))  # at least the likeliest one
    assert torch.equal(_nucleus(probs, 1.0), probs)
