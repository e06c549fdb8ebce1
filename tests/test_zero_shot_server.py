"""The local OpenAI-compatible server (a real subprocess on a loopback port) and ZS-ChatGPT through it."""
import json
import socket
import urllib.error
import urllib.request

import gymnasium as gym
import pytest

import gym_langrearrange  # noqa: F401  (registers the env)
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


def test_zs_chatgpt_with_an_unreachable_endpoint(env):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    agent = ZSChatGPT(base_url=f"http://127.0.0.1:{port}/v1", model="nobody", timeout="0.5", max_retries="0",
                      max_calls="3")
    trace = run_episode(agent, env, seed=1)
    assert len(trace) == env.unwrapped.max_steps  # the episode runs to its end, no exception
    log = agent.episode_log()
    assert log["errors"] == 3 and len(log["calls"]) == 3
    assert all(c["answer"] is None and "Connection" in c["error"] for c in log["calls"])
    errors = [s for s in log["steps"] if s["source"] == "error"]
    assert len(errors) == 3 and all(s["invalid"] for s in errors)
    assert [info["invalid"] for _, info in trace[:3]] == [True] * 3  # each failed request cost one invalid step
