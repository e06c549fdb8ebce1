"""The local OpenAI-compatible server (a real subprocess on a loopback port) and ZS-ChatGPT through it."""
import json
import socket
import urllib.error
import urllib.request

import gymnasium as gym
import pytest

import gym_langrearrange  # noqa: F401  (registers the env)
from agents.core.agent import InfrastructureError
from agents.zero_shot import ZSChatGPT
from agents.zero_shot.server import local_server
from episode_helpers import run_episode


@pytest.fixture(scope="module")
def server():
    with local_server("smollm2-135m") as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        yield srv
    assert srv.process.poll() is not None  # shut down


@pytest.fixture(scope="module")
def env():
    e = gym.make("LangRearrange-v0", split="train", render=False)
    yield e
    e.close()


def post(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_openai_schema(server):
    with urllib.request.urlopen(server.base_url + "/models", timeout=10) as resp:
        models = json.load(resp)
    assert models["object"] == "list" and models["data"][0]["id"] == server.model == "smollm2-135m"
    status, reply = post(server.base_url + "/chat/completions", {
        "model": server.model, "temperature": 0, "max_tokens": 4,
        "messages": [{"role": "system", "content": "Answer briefly."},
                     {"role": "user", "content": [{"type": "text", "text": "Say hi."}]}]})
    assert status == 200 and reply["object"] == "chat.completion"
    choice = reply["choices"][0]
    assert choice["message"]["role"] == "assistant" and isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in ("stop", "length")
    assert reply["usage"]["completion_tokens"] <= 4 and reply["usage"]["prompt_tokens"] > 0
    status, reply = post(server.base_url + "/chat/completions", {"model": server.model, "messages": []})
    assert status == 400 and "messages" in reply["error"]["message"]
    status, reply = post(server.base_url + "/nowhere", {})
    assert status == 404


def test_zs_chatgpt_through_the_local_server(server, env):
    agent = ZSChatGPT(base_url=server.base_url, max_calls="2", max_tokens="32", timeout="120", max_retries="0")
    assert agent.model == "smollm2-135m"  # asked the server
    trace = run_episode(agent, env, seed=0)
    assert 1 <= len(trace) <= env.unwrapped.max_steps
    log = agent.episode_log()
    assert log["errors"] == 0 and 1 <= len(log["calls"]) <= 2
    for call in log["calls"]:
        assert "error" not in call and isinstance(call["answer"], str) and call["answer"].strip()
        assert call["completion_tokens"] <= 32 and call["plan"]
    assert json.loads(json.dumps(log)) == log
    if len(log["calls"]) == 2:  # the re-planning request reused the server's cache of the conversation
        assert log["calls"][1]["request"].startswith("Feedback:") and log["calls"][1]["cached_tokens"] > 500
    agent.close()


def test_bad_requests_to_the_real_server(server):
    url = server.base_url + "/chat/completions"
    user = [{"role": "user", "content": "hi"}]
    for patch, message in [({"n": "abc"}, 'n must be the integer 1 (this server returns one choice), got "abc"'),
                           ({"seed": 2 ** 70}, "seed must be an integer from -9223372036854775808 to "
                                               "9223372036854775807, got 1180591620717411303424"),
                           ({"max_tokens": 0}, "max_tokens must be an integer from 1 to 4096, got 0")]:
        status, reply = post(url, {"model": server.model, "messages": user, **patch})
        assert status == 400 and reply["error"]["message"] == message
        assert reply["error"]["param"] == next(iter(patch))
    body = json.dumps({"messages": user}).encode()
    with socket.create_connection(("127.0.0.1", int(server.base_url.split(":")[2].split("/")[0])), timeout=10) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + body)
        answer = b""
        while chunk := s.recv(65536):  # the server answers and closes: no hang (the timeout fails the test)
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ") and b"Content-Length must be a non-negative integer" in answer
    # sampling with the largest seed and top_p: the real generator's path, twice the same
    request = {"messages": user, "temperature": 1.0, "top_p": 0.5, "seed": 2 ** 63 - 1, "max_tokens": 3}
    first, second = post(url, request), post(url, request)
    assert first[0] == second[0] == 200
    assert first[1]["choices"][0]["message"] == second[1]["choices"][0]["message"]


def test_zs_chatgpt_with_an_unreachable_endpoint(env):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    agent = ZSChatGPT(base_url=url, model="nobody", timeout="0.5", max_retries="0", max_calls="3")
    obs, info = env.reset(seed=1)
    agent.reset(obs, info)
    with pytest.raises(InfrastructureError, match=f"{url} failed for model 'nobody'"):
        agent.act(obs, info)  # the first request: the episode is not played, not scored as a failure
    log = agent.episode_log()
    assert log["errors"] == 1 and len(log["calls"]) == 1 and log["calls"][0]["answer"] is None
    assert "Connection" in log["calls"][0]["error"]
