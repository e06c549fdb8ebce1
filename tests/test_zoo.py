"""Zoo export: the policy's actions are unchanged, the optimizer statistics are gone, nothing is overwritten."""
from __future__ import annotations

import json
import zipfile

import gymnasium as gym
import pytest

import gym_langrearrange  # noqa: F401
from agents.core.registry import load_agent
from agents.imitation.demos import write_demos
from agents.imitation.train import main as bc_main
from agents.zoo import OPTIMIZER_ENTRY
from agents.zoo import main as zoo_main

TINY = ["--backbone", "tiny-llama", "--dtype", "float32", "--image-size", "32", "--threads", "1", "--no-progress"]


def _actions(checkpoint, episodes=2):
    agent = load_agent(str(checkpoint), deterministic=True)
    env = gym.make("LangRearrange-v0", split="train", image_size=32)
    out = []
    for i in range(episodes):
        obs, info = env.reset(seed=0, options={"episode_index": i})
        agent.reset(obs, info)
        for _ in range(6):
            action = agent.act(obs, info)
            out.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                break
    return out


def test_a_zoo_export_keeps_the_policy_and_drops_the_optimizer_statistics(tmp_path, capsys):
    write_demos(tmp_path / "demos", "train", episodes=2, shard_size=2, progress=False)
    run = tmp_path / "il"
    bc_main(["--demos", str(tmp_path / "demos"), "--batch-episodes", "2", "--episodes", "8", "--out", str(run), *TINY])
    results = tmp_path / "eval"
    results.mkdir()
    (results / "summary.json").write_text(json.dumps({
        "config": {"episodes": 100, "seed": 0},
        "summary": {"train": {"success": 0.25, "efficiency": 0.2, "invalid_rate": 0.1, "episodes": 100}}}))
    zoo = tmp_path / "zoo" / "llarp-il"
    assert zoo_main(["export", str(run / "checkpoint"), str(zoo), "--results", str(results)]) == 0
    assert "MiB" in capsys.readouterr().out
    original, exported = run / "checkpoint" / "model.zip", zoo / "model.zip"
    assert exported.stat().st_size < original.stat().st_size
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(exported) as b:
        assert a.read("policy.pth") == b.read("policy.pth")  # the weights, bit for bit
        assert len(b.read(OPTIMIZER_ENTRY)) < len(a.read(OPTIMIZER_ENTRY)) / 2
    meta = json.loads((zoo / "agent.json").read_text())
    assert meta["name"] == "llarp-il" and meta["zoo"]["table5"]["success"] == {"train": 0.25}
    assert _actions(zoo) == _actions(run / "checkpoint")
    with pytest.raises(ValueError, match="already holds a zoo agent; pass --force"):
        zoo_main(["export", str(run / "checkpoint"), str(zoo)])
    with pytest.raises(ValueError, match="is a registered agent name"):
        zoo_main(["export", "oracle", str(tmp_path / "zoo" / "x")])
