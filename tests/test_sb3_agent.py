import json

import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401
from agents.core import load_agent
from agents.core.llm import load_tokenizer
from agents.evaluate import main as evaluate_main
from gym_langrearrange.wrappers import TokenizeInstruction


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("smollm2-135m")


@pytest.mark.parametrize("algorithm", ["stable_baselines3:PPO", "sb3_contrib:RecurrentPPO"])
def test_sb3_checkpoint_plugs_into_the_evaluator(tmp_path, tokenizer, algorithm):
    import importlib

    module, _, cls = algorithm.partition(":")
    algo = getattr(importlib.import_module(module), cls)
    env = TokenizeInstruction(gym.make("LangRearrange-v0", image_size=48), tokenizer, max_tokens=24)
    policy = "MultiInputLstmPolicy" if cls == "RecurrentPPO" else "MultiInputPolicy"
    model = algo(policy, env, n_steps=32, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(64)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    model.save(folder / "model.zip")
    (folder / "agent.json").write_text(json.dumps({"algorithm": algorithm, "model": "model.zip",
                                                   "tokenizer": "smollm2-135m", "max_tokens": 24, "name": "tiny"}))
    agent = load_agent(str(folder), device="cpu")
    assert agent.needs_rgb and agent.image_size == 48
    # the adapter gives the same actions as the model on the same (tokenized) observations
    obs, info = env.reset(seed=3)
    raw_obs = env.unwrapped._observation()
    agent.reset(raw_obs, info)
    expected, _ = model.predict(obs, deterministic=True, episode_start=np.ones(1, bool))
    assert agent.act(raw_obs, info) == int(expected)
    out = tmp_path / "eval"
    evaluate_main(["--agent", str(folder), "--datasets", "train", "--episodes", "2", "--out", str(out),
                   "--no-progress"])
    records = [json.loads(line) for line in (out / "episodes.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(1 <= r["steps"] <= 32 for r in records)


def test_checkpoint_without_agent_json_is_explained(tmp_path):
    (tmp_path / "model.zip").write_bytes(b"")
    with pytest.raises(ValueError, match="no agent.json"):
        load_agent(str(tmp_path / "model.zip"))
