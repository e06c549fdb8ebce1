"""ZS-Flamingo's plumbing with a tiny random vision-language model built offline."""
import json

import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401  (registers the env)
from agents.core.registry import load_agent
from agents.zero_shot import ZSFlamingo
from agents.zero_shot.tiny_vlm import make_tiny_vlm
from gym_langrearrange.skills import NUM_SKILLS


def test_model_is_required():
    with pytest.raises(ValueError, match="needs model="):
        ZSFlamingo()


def test_tiny_vlm_episode(tmp_path):
    folder = make_tiny_vlm(tmp_path / "tiny-vlm")
    agent = load_agent("zs-flamingo", model=str(folder), max_new_tokens="16", device="cpu")
    assert isinstance(agent, ZSFlamingo) and agent.needs_rgb is True
    text = agent.prompt_text("Bring the apple to the sofa.")
    assert "<image>Instruction: Bring the apple to the sofa." in text and "cabinet drawer 4" in text

    env = gym.make("LangRearrange-v0", split="train", render=True, image_size=64)
    obs, info = env.reset(seed=0)
    assert obs["rgb"].shape == (64, 64, 3) and obs["rgb"].dtype == np.uint8
    agent.reset(obs, info)
    steps, done = 0, False
    while not done:
        action = agent.act(obs, info)
        assert isinstance(action, int) and 0 <= action < NUM_SKILLS
        obs, _, terminated, truncated, info = env.step(action)
        steps += 1
        done = terminated or truncated
    env.close()
    assert steps == env.unwrapped.max_steps  # a random model does not solve the task
    log = agent.episode_log()
    call = log["calls"][0]
    assert "error" not in call and isinstance(call["answer"], str) and call["answer"]  # the model's (gibberish) answer
    assert 1 <= call["new_tokens"] <= 16 and call["plan"]
    assert json.loads(json.dumps(log)) == log
    assert log["unparseable_steps"] >= 1 or any(s["source"] == "plan" for s in log["steps"])


def test_blind_env_is_refused(tmp_path):
    agent = ZSFlamingo(model=str(make_tiny_vlm(tmp_path / "tiny")))
    env = gym.make("LangRearrange-v0", split="train", render=False)
    obs, info = env.reset(seed=0)
    with pytest.raises(ValueError, match="render=True"):
        agent.reset(obs, info)
