"""ZS-ChatGPT's two kinds of failure: the endpoint's (InfrastructureError) and the model's (an invalid step).

The endpoints are real HTTP servers on 127.0.0.1 (a stub answering what each test asks,
or a port nobody listens on) reached through the real ``openai`` client; nothing goes
beyond loopback.
"""
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import gymnasium as gym
import pytest

import gym_langrearrange  # noqa: F401  (registers the env)
from agents.core.agent import InfrastructureError
from agents.zero_shot import ZSChatGPT
from agents.zero_shot.chatgpt import infrastructure_cause
from episode_helpers import run_episode
from gym_langrearrange.skills import STOP_ID


@pytest.fixture(scope="module")
def env():
    e = gym.make("LangRearrange-v0", split="train", render=False)
    yield e
    e.close()


def completion(text):
    return {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}}


class Stub:
    """A loopback chat endpoint answering from a script: (status, payload) or ("sleep", seconds)."""

    def __init__(self, *script):
        self.script, self.requests = list(script), []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                status, payload = stub.script.pop(0) if len(stub.script) > 1 else stub.script[0]
                if status == "sleep":
                    time.sleep(payload)
                    status, payload = 200, completion("stop")
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("retry-after-ms", "10")  # the openai client's retries then wait 10 ms
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client timed out and left
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def error(status, message, kind):
    return status, {"error": {"message": message, "type": kind, "param": None, "code": None}}


def first_act(agent, env, seed=0):
    obs, info = env.reset(seed=seed)
    agent.reset(obs, info)
    return agent.act(obs, info)


def free_port():
    with socket.socket() as s:  # a loopback port nobody listens on once this closes
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the endpoint's failures: InfrastructureError -------------------------------------------

def test_a_dead_endpoint_raises_on_the_first_request(env):
    url = f"http://127.0.0.1:{free_port()}/v1"
    agent = ZSChatGPT(base_url=url, model="nobody", timeout="2", max_retries="0")
    t0 = time.monotonic()
    with pytest.raises(InfrastructureError) as caught:
        first_act(agent, env)
    assert time.monotonic() - t0 < 10
    message = str(caught.value)
    assert url in message and "'nobody'" in message and "could not connect" in message
    assert "Connection refused" in message  # the underlying error, not only the client's "Connection error."
    log = agent.episode_log()
    assert len(log["calls"]) == 1 and log["errors"] == 1 and log["calls"][0]["infrastructure"] == "could not connect"
    assert json.loads(json.dumps(log)) == log
    agent.close()


def test_a_dead_endpoint_without_a_model_name_says_the_listing_failed(env):
    url = f"http://127.0.0.1:{free_port()}/v1"
    agent = ZSChatGPT(base_url=url, timeout="2", max_retries="0")  # asks the server for its model, fails
    with pytest.raises(InfrastructureError, match="listing the served models failed") as caught:
        first_act(agent, env)
    assert url in str(caught.value)


@pytest.mark.parametrize("status,kind,cause", [
    (500, "server_error", "HTTP 500: server error"),
    (503, "server_error", "HTTP 503: server error"),
    (429, "insufficient_quota", "HTTP 429: rate limit or quota exceeded"),
    (401, "invalid_api_key", "HTTP 401: authentication failed"),
    (403, "permission_denied", "HTTP 403: permission denied"),
    (404, "model_not_found", "HTTP 404: not found"),
])
def test_an_http_error_of_the_endpoint_raises(env, status, kind, cause):
    with Stub(error(status, f"stub says {status}", kind)) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="0", timeout="5")
        with pytest.raises(InfrastructureError) as caught:
            first_act(agent, env)
    message = str(caught.value)
    assert stub.base_url in message and "'stub-model'" in message and cause in message
    assert f"stub says {status}" in message  # the server's own message
    assert len(stub.requests) == 1


def test_the_clients_retries_come_first(env):
    with Stub(error(503, "overloaded", "server_error")) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="2", timeout="5")
        with pytest.raises(InfrastructureError, match="max_retries=2"):
            first_act(agent, env)
    assert len(stub.requests) == 3  # the first try and the openai client's two retries


def test_a_timeout_raises(env):
    with Stub(("sleep", 3.0)) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="0", timeout="0.5")
        t0 = time.monotonic()
        with pytest.raises(InfrastructureError, match="the request timed out"):
            first_act(agent, env)
        assert time.monotonic() - t0 < 2.5


def test_an_endpoint_that_dies_mid_episode(env):
    # the first plan fails at once (nothing is held), so the agent re-plans: that request gets a 502
    script = [(200, completion("pick(apple)")), error(502, "bad gateway", "server_error"), (200, completion("stop"))]
    with Stub(*script) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="0", timeout="5")
        obs, info = env.reset(seed=7)
        agent.reset(obs, info)
        obs, _, _, _, info = env.step(agent.act(obs, info))
        assert info["invalid"]
        with pytest.raises(InfrastructureError, match="HTTP 502"):
            agent.act(obs, info)
        log = agent.episode_log()
        assert [("error" in c) for c in log["calls"]] == [False, True]
        # the next episode starts afresh, and plays once the endpoint is back
        assert first_act(agent, env) == STOP_ID
        assert len(stub.requests) == 3 and len(stub.requests[2]["messages"]) == len(stub.requests[0]["messages"])


# --- the model's failures: an invalid step, as before ---------------------------------------

def test_an_unparseable_answer_does_not_raise(env):
    with Stub((200, completion("I would rather not.")), (200, completion("Still no."))) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="0", timeout="5", max_calls="2")
        trace = run_episode(agent, env, seed=2)
    assert trace[0][1]["invalid"]  # the unparseable answer cost one invalid step
    log = agent.episode_log()
    assert log["errors"] == 0 and log["unparseable_steps"] >= 1 and len(log["calls"]) == 2
    assert all(a == STOP_ID for a, _ in trace[-3:])


def test_a_bad_request_answer_is_the_models_failure(env):
    # e.g. a conversation too long for the model: the endpoint is fine, this request is not
    with Stub(error(400, "context length exceeded", "invalid_request_error")) as stub:
        agent = ZSChatGPT(base_url=stub.base_url, model="stub-model", max_retries="0", timeout="5", max_calls="2")
        trace = run_episode(agent, env, seed=3)
    log = agent.episode_log()
    assert log["errors"] == 2 and all("context length exceeded" in c["error"] for c in log["calls"])
    assert all("infrastructure" not in c for c in log["calls"])
    assert [i["invalid"] for _, i in trace[:2]] == [True, True]


def test_infrastructure_cause_of_other_clients_errors():
    assert infrastructure_cause(ConnectionRefusedError(111, "refused")) == "could not connect"
    assert infrastructure_cause(TimeoutError("slow")) == "the request timed out"
    assert infrastructure_cause(SimpleNamespace(status_code=504)) == "HTTP 504: server error"
    assert infrastructure_cause(SimpleNamespace(status_code=400)) is None
    assert infrastructure_cause(SimpleNamespace(status_code=True)) is None
    assert infrastructure_cause(RuntimeError("the response has no choices")) is None
    assert infrastructure_cause(ValueError("bad")) is None


def test_a_stand_in_client_raising_connection_error(env):
    def create(**_):
        raise ConnectionResetError(104, "Connection reset by peer")

    dead = SimpleNamespace(base_url="http://127.0.0.1:9/v1", chat=SimpleNamespace(
        completions=SimpleNamespace(create=create)))
    agent = ZSChatGPT(client=dead, model="m")
    with pytest.raises(InfrastructureError, match=r"http://127\.0\.0\.1:9/v1 failed for model 'm'"):
        first_act(agent, env)
