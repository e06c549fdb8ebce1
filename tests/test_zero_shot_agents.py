"""ZS-LLaMA with SmolLM2 end to end, and the plan-following rules of the zero-shot planners."""
import json
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401  (registers the env)
from agents.core.registry import load_agent
from agents.zero_shot import ZSChatGPT, ZSLLaMA
from agents.zero_shot.base import invalid_action
from agents.zero_shot.local_lm import Generation, LocalGenerator
from gym_langrearrange.catalog import RECEPTACLES
from gym_langrearrange.skills import NUM_SKILLS, SKILL_CATALOG, STOP_ID
from episode_helpers import run_episode


@pytest.fixture(scope="module")
def env():
    e = gym.make("LangRearrange-v0", split="train", render=False)
    yield e
    e.close()


class FakeGenerator:
    """Stands in for the local LM: answers with fixed texts."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.messages = []

    def chat(self, messages, **kwargs):
        self.messages.append(messages)
        text = self.answers.pop(0) if self.answers else ""
        return Generation(text, 600, 10, 0, "stop", 0.01)


def present_receptacle(env, seed=0):
    _, info = env.reset(seed=seed)
    return next(r for i, r in enumerate(RECEPTACLES) if info["action_mask"][i])


# --- plan following -------------------------------------------------------------------------

def test_invalid_action_is_the_first_invalid_skill():
    mask = np.ones(NUM_SKILLS, dtype=bool)
    mask[[3, 20]] = False
    assert invalid_action({"action_mask": mask}) == 3
    assert invalid_action({"action_mask": np.ones(NUM_SKILLS, dtype=bool)}) == STOP_ID


def test_unparseable_step_costs_one_invalid_action_then_stop(env):
    place = present_receptacle(env)
    agent = ZSLLaMA(generator=FakeGenerator(f"navigate({place})\npick(unicorn)\nstop"))
    trace = run_episode(agent, env, seed=0)
    assert len(trace) == env.unwrapped.max_steps  # stop never ends the default task: truncated at 32
    assert SKILL_CATALOG.text(trace[0][0]) == f"navigate({place})" and not trace[0][1]["invalid"]
    assert trace[1][1]["invalid"]  # the unparseable step
    assert not trace[1 - 1][1]["action_mask"][trace[1][0]]  # it was invalid by the mask before it
    assert all(a == STOP_ID and not i["invalid"] for a, i in trace[2:])
    log = agent.episode_log()
    assert log["unparseable_steps"] == 1
    assert log["calls"][0]["plan"] == [f"navigate({place})", "<unparseable: pick(unicorn)>", "stop"]
    assert [s["source"] for s in log["steps"]] == ["plan", "unparseable", "plan", "plan ended"]


def test_answer_without_skills_is_one_invalid_step(env):
    agent = ZSLLaMA(generator=FakeGenerator("I'm sorry, I cannot help with that."))
    trace = run_episode(agent, env, seed=1)
    assert trace[0][1]["invalid"] and all(a == STOP_ID for a, _ in trace[1:])
    assert agent.episode_log()["unparseable_steps"] == 1


# --- ZS-LLaMA with SmolLM2 ------------------------------------------------------------------

@pytest.fixture(scope="module")
def llama():
    # as the evaluation CLI builds it: by name, with string options
    return load_agent("zs-llama", model="smollm2-135m", max_new_tokens="12", seed="0", device="cpu")


def test_zs_llama_episode(llama, env):
    assert isinstance(llama, ZSLLaMA) and llama.needs_rgb is False and llama.name == "zs-llama"
    trace = run_episode(llama, env, seed=3)
    assert 1 <= len(trace) <= env.unwrapped.max_steps
    log = llama.episode_log()
    call = log["calls"][0]
    assert isinstance(call["answer"], str) and call["answer"].strip()
    assert call["plan"] and "error" not in call
    assert call["new_tokens"] <= 12 and call["prompt_tokens"] > 400
    assert log["instruction"] and isinstance(log["steps"], list)
    assert json.loads(json.dumps(log)) == log


def test_zs_llama_reuses_the_prompt_prefix(llama, env):
    obs, info = env.reset(seed=4)
    llama.reset(obs, info)
    call = llama.episode_log()["calls"][0]
    assert call["cached_tokens"] > 500  # the system message and examples were not computed again
    # and the cache changes nothing: a fresh generator writes the same answer
    fresh = LocalGenerator("smollm2-135m", prompt_cache=False)
    from agents.zero_shot.parsing import plan_complete
    from agents.zero_shot.prompt import build_messages

    again = fresh.chat(build_messages(obs["instruction"]), max_new_tokens=12, stop=plan_complete)
    assert again.cached_tokens == 0 and again.text == call["answer"]


# --- ZS-ChatGPT's re-planning, with a scripted client ---------------------------------------

class ScriptedClient:
    """An OpenAI client stand-in: answers from a script, or raises."""

    def __init__(self, answers=(), error=None):
        self.answers, self.error, self.requests = list(answers), error, []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))
        self.models = SimpleNamespace(list=lambda: [SimpleNamespace(id="scripted")])

    def _create(self, **kwargs):
        self.requests.append([dict(m) for m in kwargs["messages"]])
        if self.error is not None:
            raise self.error
        text = self.answers.pop(0) if self.answers else "stop"
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text), finish_reason="stop")],
                               usage=None)


def test_zs_chatgpt_replans_from_feedback(env):
    place = present_receptacle(env, seed=5)
    client = ScriptedClient([f"pick(apple)\nnavigate({place})", f"navigate({place})\nstop", "mumble"])
    agent = ZSChatGPT(client=client, model="scripted", max_calls="3")
    trace = run_episode(agent, env, seed=5)
    assert len(client.requests) == 3
    assert client.requests[0][-1]["content"].startswith("Instruction: ")
    # the failed pick (nothing held, not at a receptacle) is reported back, with the unvisited receptacles
    second = client.requests[1][-1]["content"]
    assert "Could not pick apple" in second and "Not visited yet:" in second and second.endswith("Write a new plan.")
    assert client.requests[1][-2] == {"role": "assistant", "content": f"pick(apple)\nnavigate({place})"}
    # after "stop", the episode went on: the model is told so
    third = client.requests[2][-1]["content"]
    assert "You said stop" in third and f"You are at the {place}" in third
    assert place not in third.split("Not visited")[-1]
    log = agent.episode_log()
    assert log["errors"] == 0 and len(log["calls"]) == 3 and log["call_limit_reached"]
    assert log["calls"][2]["plan"] == ["<unparseable: mumble>"]
    assert json.loads(json.dumps(log)) == log
    assert trace[0][1]["invalid"]
    assert all(a == STOP_ID for a, _ in trace[-5:])  # out of calls: stop


@pytest.mark.parametrize("stop_on_repeat", ["true", "false"])
def test_zs_chatgpt_stops_asking_when_a_replan_repeats_the_failed_plan(env, stop_on_repeat):
    looping = "pick(apple)\npick(apple)"  # fails at once, wherever the robot starts: it holds nothing
    client = ScriptedClient([looping] * 8)
    agent = ZSChatGPT(client=client, model="scripted", max_calls=5, stop_on_repeat=stop_on_repeat)
    trace = run_episode(agent, env, seed=7)
    log = agent.episode_log()
    if stop_on_repeat == "true":
        assert len(client.requests) == 2 and log["repeated_plan"] and "call_limit_reached" not in log
        # the repeated plan is still carried out, then the agent stops
        assert [SKILL_CATALOG.text(a) for a, _ in trace[1:3]] == ["pick(apple)", "pick(apple)"]
        assert all(a == STOP_ID for a, _ in trace[3:])
    else:
        assert len(client.requests) == 5 and log["call_limit_reached"] and "repeated_plan" not in log


def test_zs_chatgpt_survives_client_errors(env):
    agent = ZSChatGPT(client=ScriptedClient(error=RuntimeError("boom")), model="scripted", max_calls=4)
    trace = run_episode(agent, env, seed=6)
    log = agent.episode_log()
    assert log["errors"] == 4 and all("boom" in c["error"] for c in log["calls"])
    assert [i["invalid"] for _, i in trace[:4]] == [True] * 4
    assert all(a == STOP_ID for a, _ in trace[4:])


def test_zs_chatgpt_needs_a_key_or_a_server(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        ZSChatGPT()


def test_zs_chatgpt_takes_the_served_model_or_asks_for_one():
    assert ZSChatGPT(client=ScriptedClient(), base_url="http://127.0.0.1:9/v1").model == "scripted"
    client = ScriptedClient()
    client.models = SimpleNamespace(list=lambda: [SimpleNamespace(id="a"), SimpleNamespace(id="b")])
    with pytest.raises(ValueError, match="pass model="):
        ZSChatGPT(client=client, base_url="http://127.0.0.1:9/v1")
