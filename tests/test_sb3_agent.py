import json
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401
from agents.core import load_agent
from agents.nn.llm import load_tokenizer
from agents.evaluate import main as evaluate_main
from gym_langrearrange.files import CorruptFileError
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


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, tokenizer):
    """An untrained PPO checkpoint (model.zip + agent.json), as the training scripts write it."""
    from stable_baselines3 import PPO

    env = TokenizeInstruction(gym.make("LangRearrange-v0", image_size=48), tokenizer, max_tokens=8)
    folder = tmp_path_factory.mktemp("good") / "checkpoint"
    folder.mkdir()
    PPO("MultiInputPolicy", env, n_steps=32, batch_size=32, seed=0, device="cpu").save(folder / "model.zip")
    (folder / "agent.json").write_text(json.dumps({"algorithm": "stable_baselines3:PPO", "model": "model.zip",
                                                   "tokenizer": "smollm2-135m", "max_tokens": 8, "name": "tiny"}))
    return folder


@pytest.fixture
def checkpoint(tiny_checkpoint, tmp_path):
    import shutil

    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint"))


def _rezip(path, **replace):
    """Rewrite the zip at ``path`` with some entries' bytes replaced (intact CRCs: only SB3 would notice)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            if replace.get(name, data) is not None:
                z.writestr(name, replace.get(name, data)(data) if callable(replace.get(name)) else data)


def test_intact_checkpoint_loads(checkpoint):
    agent = load_agent(str(checkpoint), device="cpu")
    assert agent.name == "tiny" and agent.image_size == 48
    assert load_agent(str(checkpoint / "model.zip"), device="cpu").name == "tiny"
    assert load_agent(str(checkpoint / "agent.json"), device="cpu").name == "tiny"


@pytest.mark.parametrize("damage, why", [
    (lambda p: p.write_bytes(p.read_bytes()[:p.stat().st_size // 2]), "BadZipFile"),
    (lambda p: p.write_bytes(b""), "BadZipFile"),
    (lambda p: p.write_bytes(b"PK" + bytes(range(256)) * 50), "BadZipFile"),
    (lambda p: p.write_bytes(p.read_bytes()[:1000] + bytes(200) + p.read_bytes()[1200:]), "fails its CRC check"),
    (lambda p: _rezip(p, data=None), "it holds no 'data' entry"),
    (lambda p: _rezip(p, data=lambda b: b"{not json"), "its 'data' entry is not JSON"),
    (lambda p: _rezip(p, data=lambda b: b"{}"), "its 'data' entry lacks observation_space, action_space"),
    (lambda p: _rezip(p, **{"policy.pth": lambda b: b[:len(b) // 2]}), "entry 'policy.pth' is not a torch archive"),
    (lambda p: _rezip(p, **{"pytorch_variables.pth": lambda b: b"\x80\x04garbage"}), "'pytorch_variables.pth'"),
], ids=["half", "empty", "garbage", "flipped-bytes", "no-data", "data-not-json", "data-no-spaces",
        "policy-truncated", "variables-garbage"])
def test_damaged_model_zip_names_the_file(checkpoint, damage, why):
    damage(checkpoint / "model.zip")
    expected = f"checkpoint {checkpoint / 'model.zip'} cannot be loaded (truncated or not a model zip: "
    with pytest.raises(CorruptFileError, match=re.escape(expected) + ".*" + re.escape(why)):
        load_agent(str(checkpoint), device="cpu")


@pytest.mark.parametrize("spec, message", [
    ('{"algorithm": "stable_baselines3:PPO", "model": ', "checkpoint spec {path} is not valid JSON"),
    ("\xff\xfe garbage", "checkpoint spec {path} is not valid JSON"),
    ("[1, 2]", "checkpoint spec {path} must hold a JSON object such as"),
    ('{"model": "model.zip"}', "checkpoint spec {path} has no 'algorithm' key"),
    ('{"algorithm": "PPO"}', "checkpoint spec {path}: key 'algorithm' must be a \"module:attribute\" string"),
    ('{"algorithm": 3}', "checkpoint spec {path}: key 'algorithm' must be a \"module:attribute\" string"),
    ('{"algorithm": "stable_baselines3:NoSuchAlgo"}', "checkpoint spec {path}: key 'algorithm' is "
                                                      "'stable_baselines3:NoSuchAlgo', which cannot be imported"),
    ('{"algorithm": "no_such_module:PPO"}', "key 'algorithm' is 'no_such_module:PPO', which cannot be imported"),
    ('{"algorithm": "json:JSONDecoder"}', "key 'algorithm' is 'json:JSONDecoder', which has no load()"),
    ('{"algorithm": "stable_baselines3:PPO", "max_tokens": "64"}', "key 'max_tokens' must be an integer, got '64'"),
    ('{"algorithm": "stable_baselines3:PPO", "model": 7}', "key 'model' must be a string, got 7"),
    ('{"algorithm": "stable_baselines3:PPO", "tokenizer": 1}', "key 'tokenizer' must be a string or null, got 1"),
])
def test_broken_agent_json_names_the_file_and_key(checkpoint, spec, message):
    path = checkpoint / "agent.json"
    path.write_bytes(spec.encode("latin-1"))
    with pytest.raises(CorruptFileError, match=re.escape(message.format(path=path))):
        load_agent(str(checkpoint), device="cpu")


def test_agent_json_naming_a_missing_model_file(checkpoint):
    (checkpoint / "agent.json").write_text(json.dumps({"algorithm": "stable_baselines3:PPO", "model": "gone.zip"}))
    with pytest.raises(CorruptFileError, match=re.escape(f"checkpoint {checkpoint / 'gone.zip'} does not exist "
                                                         f"(named by {checkpoint / 'agent.json'})")):
        load_agent(str(checkpoint), device="cpu")
