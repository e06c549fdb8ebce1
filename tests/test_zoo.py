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


def test_a_compact_export_of_an_lstm_keeps_its_actor_at_half_precision_and_ppo_starts_from_it(tmp_path):
    """--compact: float16 weights, no critic LSTM; the policy's action probabilities stay within float16
    rounding of the source's, the zip is under half its size, and agents.lstm.train --init-from takes it."""
    import numpy as np
    import torch
    from sb3_contrib import RecurrentPPO

    from agents.lstm.train import main as lstm_main

    write_demos(tmp_path / "demos", "train", episodes=1, shard_size=1, progress=False)
    run = tmp_path / "il"
    bc_main(["--method", "lstm-llm-resampler", "--encoder-model", "tiny", "--demos", str(tmp_path / "demos"),
             "--episodes", "2", "--batch-episodes", "1", "--out", str(run), *TINY])
    zoo = tmp_path / "zoo" / "lstm-il"
    assert zoo_main(["export", str(run / "checkpoint"), str(zoo), "--compact"]) == 0
    source, compact = (load_agent(str(p), deterministic=True).model.policy for p in (run / "checkpoint", zoo))
    assert compact.lstm_critic is None and source.lstm_critic is not None
    assert (zoo / "model.zip").stat().st_size < (run / "checkpoint" / "model.zip").stat().st_size / 2
    weights, rounded = source.state_dict(), compact.state_dict()
    assert all(torch.equal(weights[k].half().float(), rounded[k]) for k in rounded if not k.startswith("critic."))
    assert "compact" in json.loads((zoo / "agent.json").read_text())["zoo"]

    env = gym.make("LangRearrange-v0", split="train", image_size=32)
    agent = load_agent(str(run / "checkpoint"))
    obs, info = env.reset(seed=0)
    agent.reset(obs, info)
    batch, _ = source.obs_to_tensor(agent.obs_transform(obs))  # the tokenized observation the policy reads
    state = tuple(torch.zeros(1, 1, source.lstm_actor.hidden_size) for _ in range(2))
    with torch.no_grad():
        probs = [p.get_distribution(batch, state, torch.ones(1))[0].distribution.probs for p in (source, compact)]
    np.testing.assert_allclose(probs[0].numpy(), probs[1].numpy(), atol=2e-3)

    rl = ["--encoder", "llm-resampler", "--encoder-model", "tiny", "--image-size", "32", "--threads", "1",
          "--envs", "2", "--n-steps", "8", "--steps", "16", "--eval-episodes", "0", "--lr", "1e-12",
          "--init-from", str(zoo), "--out", str(tmp_path / "rl")]
    lstm_main(rl)
    tuned = RecurrentPPO.load(str(tmp_path / "rl" / "checkpoint" / "model.zip")).policy
    assert tuned.lstm_critic is not None  # the run's own architecture, its critic LSTM fresh
    assert torch.allclose(tuned.lstm_actor.weight_ih_l0, compact.lstm_actor.weight_ih_l0, atol=1e-6)
    with pytest.raises(ValueError, match="--compact is for the LSTM baselines"):
        zoo_main(["export", str(tmp_path / "zoo" / "lstm-il"), str(tmp_path / "zoo" / "again"), "--compact"])
