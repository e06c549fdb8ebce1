"""Behaviour cloning of LLaRP: a tiny run overfits a handful of demonstrations to 100% success, and resumes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents.core.registry import load_agent
from agents.imitation.demos import write_demos
from agents.imitation.train import main as bc_main
from gym_langrearrange.files import read_json

TINY = ["--backbone", "tiny-llama", "--dtype", "float32", "--image-size", "32", "--threads", "1", "--no-progress"]


def greedy_success(checkpoint, indices) -> float:
    import gymnasium as gym

    import gym_langrearrange  # noqa: F401

    agent = load_agent(str(checkpoint), deterministic=True)
    env = gym.make("LangRearrange-v0", split="train", image_size=32)
    wins = []
    for i in indices:
        obs, info = env.reset(seed=0, options={"episode_index": i})
        agent.reset(obs, info)
        while True:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            if terminated or truncated:
                wins.append(bool(info["success"]))
                break
    return float(np.mean(wins))


def test_a_tiny_bc_run_overfits_a_handful_of_episodes(tmp_path, capsys):
    write_demos(tmp_path / "demos", "train", episodes=3, shard_size=3, progress=False)
    out = tmp_path / "il"
    bc_main(["--demos", str(tmp_path / "demos"), "--episodes", "480", "--batch-episodes", "3", "--lr", "1e-3",
             "--checkpoint-every", "240", "--out", str(out), *TINY])
    curve = read_json(out / "bc_curve.json")
    assert curve[-1][2] > 0.99 and curve[-1][1] < curve[0][1] / 10  # the expert's skills reproduced, loss down
    assert greedy_success(out / "checkpoint", range(3)) == 1.0
    meta = json.loads((out / "checkpoint" / "agent.json").read_text())
    assert meta["name"] == "llarp-il" and meta["bc"]["episodes"] == 480
    # the per-kind accuracy diagnostic: every step of the three episodes, each kind reproduced
    from agents.imitation.accuracy import KIND, main as accuracy_main
    from agents.imitation.demos import load_demos
    from gym_langrearrange.skills import SkillKind

    accuracy_main(["--agent", str(out / "checkpoint"), "--demos", str(tmp_path / "demos"), "--episodes", "3"])
    table = capsys.readouterr().out
    demos = list(load_demos(tmp_path / "demos")[1])
    for kind in SkillKind:
        steps = sum(int(KIND[a]) == kind for d in demos for a in d.actions)
        if steps:
            assert f"| {kind.name.lower()} | {steps} | 1.00 | 1.00 | 1.00 |" in table, table
    with pytest.raises(ValueError, match="--agent expert: a LLaRP or LSTM-baseline checkpoint is needed"):
        accuracy_main(["--agent", "expert", "--demos", str(tmp_path / "demos")])
    with pytest.raises(ValueError, match="--first 3: .* has no demonstrations past it"):
        accuracy_main(["--agent", str(out / "checkpoint"), "--demos", str(tmp_path / "demos"), "--first", "3"])


def test_bc_resumes_and_refuses_a_finished_or_changed_run(tmp_path, capsys):
    write_demos(tmp_path / "demos", "train", episodes=2, shard_size=2, progress=False)
    out = tmp_path / "il"
    common = ["--demos", str(tmp_path / "demos"), "--batch-episodes", "2", "--out", str(out), *TINY]
    bc_main([*common, "--episodes", "4"])
    with pytest.raises(ValueError, match="already holds a run"):
        bc_main([*common, "--episodes", "4"])
    with pytest.raises(ValueError, match="batch_episodes 2 -> 1"):
        bc_main([*common, "--episodes", "8", "--resume", "--batch-episodes", "1"])
    bc_main([*common, "--episodes", "4", "--resume"])
    assert "nothing to train" in capsys.readouterr().out


def test_a_bc_run_killed_after_a_checkpoint_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    """Killed in the batch after its first checkpoint, then --resume: the weights and curve of one whole run."""
    import torch

    import agents.imitation.train as bc_train
    from agents.llarp import LLaRP

    write_demos(tmp_path / "demos", "train", episodes=3, shard_size=3, progress=False)
    common = ["--demos", str(tmp_path / "demos"), "--batch-episodes", "2", "--checkpoint-every", "4",
              "--episodes", "10", *TINY]
    bc_main([*common, "--out", str(tmp_path / "whole")])

    real_batch, batches = bc_train.episode_batch, []

    def dies_in_the_third_batch(*args, **kwargs):
        batches.append(1)
        if len(batches) == 3:  # the checkpoint at 4 episodes is written, the next batch never finishes
            raise KeyboardInterrupt
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(bc_train, "episode_batch", dies_in_the_third_batch)
    with pytest.raises(KeyboardInterrupt):
        bc_main([*common, "--out", str(tmp_path / "killed")])
    monkeypatch.setattr(bc_train, "episode_batch", real_batch)
    assert read_json(tmp_path / "killed" / "checkpoint" / "agent.json")["bc"]["episodes"] == 4

    at_kill = LLaRP.load(str(tmp_path / "killed" / "checkpoint" / "model.zip")).policy.state_dict()
    bc_main([*common, "--out", str(tmp_path / "killed"), "--resume"])

    # the same run up to float rounding (a freshly loaded model's kernels may add in another order)
    curve, whole_curve = (read_json(tmp_path / name / "bc_curve.json") for name in ("killed", "whole"))
    assert [c[0] for c in curve] == [c[0] for c in whole_curve] == [4, 8, 10]
    assert np.allclose(np.array(curve)[:, 1:], np.array(whole_curve)[:, 1:], rtol=1e-5)
    whole = LLaRP.load(str(tmp_path / "whole" / "checkpoint" / "model.zip")).policy.state_dict()
    resumed = LLaRP.load(str(tmp_path / "killed" / "checkpoint" / "model.zip")).policy.state_dict()
    assert all(torch.allclose(whole[k], resumed[k], atol=1e-5) for k in whole)
    assert any(not torch.allclose(at_kill[k], resumed[k], atol=1e-4) for k in whole)  # it trained on after the kill


def test_bc_continues_from_a_zoo_export_into_a_new_folder(tmp_path, capsys):
    import torch

    from agents.zoo import export

    write_demos(tmp_path / "demos", "train", episodes=2, shard_size=2, progress=False)
    common = ["--demos", str(tmp_path / "demos"), "--batch-episodes", "2", *TINY]
    bc_main([*common, "--episodes", "4", "--out", str(tmp_path / "first")])
    export(tmp_path / "first" / "checkpoint", tmp_path / "zoo")
    with pytest.raises(ValueError, match="--continue-from with other options than .*: lr 0.0003 -> 0.001"):
        bc_main([*common, "--episodes", "8", "--lr", "1e-3", "--continue-from", str(tmp_path / "zoo"),
                 "--out", str(tmp_path / "bad")])
    assert not (tmp_path / "bad" / "checkpoint").exists()
    bc_main([*common, "--episodes", "8", "--continue-from", str(tmp_path / "zoo"), "--out", str(tmp_path / "more")])
    assert "continued from" in capsys.readouterr().out
    meta = json.loads((tmp_path / "more" / "checkpoint" / "agent.json").read_text())
    assert meta["bc"]["episodes"] == 8 and meta["continued_from"]["episodes"] == 4
    assert [c[0] for c in read_json(tmp_path / "more" / "bc_curve.json")] == [8]  # only its own steps
    before = load_agent(str(tmp_path / "zoo")).model.policy.state_dict()
    after = load_agent(str(tmp_path / "more" / "checkpoint")).model.policy.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # it trained on from the zoo's weights


def test_ppo_starts_from_a_cloned_policy_with_the_value_head_warmed_up_first(tmp_path):
    """IL->RL: agents.llarp.train --init-from a BC checkpoint; during the warm-up only the value head moves."""
    import torch

    from agents.llarp import LLaRP
    from agents.llarp.train import main as rl_main

    write_demos(tmp_path / "demos", "train", episodes=2, shard_size=2, progress=False)
    bc_main(["--demos", str(tmp_path / "demos"), "--episodes", "4", "--batch-episodes", "2",
             "--out", str(tmp_path / "il"), *TINY])
    cloned = LLaRP.load(str(tmp_path / "il" / "checkpoint" / "model.zip")).policy.state_dict()
    rl_main(["--backbone", "tiny-llama", "--dtype", "float32", "--image-size", "32", "--threads", "1", "--envs", "2",
             "--n-steps", "8", "--steps", "32", "--init-from", str(tmp_path / "il" / "checkpoint"),
             "--value-warmup", "10", "--eval-episodes", "0", "--out", str(tmp_path / "rl")])
    tuned = LLaRP.load(str(tmp_path / "rl" / "checkpoint" / "model.zip")).policy.state_dict()
    changed = {k for k in cloned if not torch.equal(cloned[k], tuned[k])}
    assert changed and all(k.startswith("value_net.") for k in changed), changed


def test_the_lstm_baseline_clones_through_recurrent_ppo_s_sequence_pass(tmp_path, capsys):
    """The LSTM learns more slowly than LLaRP here: one episode, and the loss must halve."""
    write_demos(tmp_path / "demos", "train", episodes=1, shard_size=1, progress=False)
    out = tmp_path / "lstm"
    bc_main(["--method", "lstm-llm-resampler", "--encoder-model", "tiny", "--demos", str(tmp_path / "demos"),
             "--episodes", "300", "--batch-episodes", "1", "--lr", "1e-3", "--checkpoint-every", "100",
             "--out", str(out), *TINY])
    curve = read_json(out / "bc_curve.json")
    assert curve[-1][1] < curve[0][1] / 2 and curve[-1][2] > curve[0][2], curve
    meta = json.loads((out / "checkpoint" / "agent.json").read_text())
    assert meta["algorithm"] == "sb3_contrib:RecurrentPPO" and meta["name"].endswith("-il")
    assert 0.0 <= greedy_success(out / "checkpoint", range(1)) <= 1.0  # it loads and plays as an agent
    from agents.imitation.accuracy import main as accuracy_main  # the per-kind accuracy reads LSTMs too
    from agents.imitation.demos import load_demos

    capsys.readouterr()
    accuracy_main(["--agent", str(out / "checkpoint"), "--demos", str(tmp_path / "demos"), "--episodes", "1"])
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    demo = next(iter(load_demos(tmp_path / "demos")[1]))
    assert sum(int(row[2]) for row in rows) == len(demo.targets)  # every step counted under its kind


def test_the_lstm_loss_equals_stepping_the_policy_through_each_episode(tmp_path):
    """recurrent_bc_loss runs each padded episode through the LSTM in one call; a rollout steps the policy one
    observation at a time, carrying the state, with a start flag at t = 0. Both give the same log-probs."""
    import torch
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.imitation.bc import episode_batch, recurrent_bc_loss, recurrent_logits
    from agents.imitation.demos import load_demos
    from agents.lstm import InstructionLstmPolicy
    from agents.lstm.setup import lstm_setup
    from agents.rearrange import env_factory

    write_demos(tmp_path / "demos", "train", episodes=3, shard_size=3, progress=False)
    manifest, demos = load_demos(tmp_path / "demos")
    setup = lstm_setup("llm-resampler", "tiny")
    make_env = env_factory(setup.tokenizer, 48, split="train", image_size=32, hard=manifest["hard"])
    model = RecurrentPPO(InstructionLstmPolicy, DummyVecEnv([make_env]), seed=0, policy_kwargs=setup.policy_kwargs)
    policy = model.policy.eval()
    torch.nn.init.normal_(policy.action_net.weight, std=1.0)  # SB3 starts it at gain 0.01: near-uniform log-probs
    batch = episode_batch(make_env(), list(demos), model.device, model.observation_space)
    assert len(set(batch.step_mask.sum(1).tolist())) > 1  # episodes of different lengths: padding is exercised
    with torch.no_grad():
        loss, _ = recurrent_bc_loss(policy, batch)
        stepped = []
        for i in range(len(batch.actions)):
            lstm = policy.lstm_actor
            state = tuple(torch.zeros(lstm.num_layers, 1, lstm.hidden_size) for _ in range(2))
            for j in np.flatnonzero(batch.step_mask[i].numpy()):
                obs = {k: v[i, j][None] for k, v in batch.steps.items()}
                obs.update(instruction=batch.instruction[i][None], instruction_mask=batch.instruction_mask[i][None])
                dist, state = policy.get_distribution(obs, state, torch.tensor([float(j == 0)]))
                stepped.append(dist.log_prob(batch.actions[i, j][None]))
    assert torch.allclose(loss, -torch.cat(stepped).mean(), atol=1e-5), (loss, -torch.cat(stepped).mean())
    with torch.no_grad():  # the accuracy tool's logits: the same log-probs at the expert's skills
        logits = recurrent_logits(policy, batch)
    picked = logits.log_softmax(-1).gather(-1, batch.actions[..., None])[..., 0][batch.step_mask]
    assert torch.allclose(picked, torch.cat(stepped), atol=1e-5)


def test_the_lstm_baseline_starts_ppo_from_a_cloned_checkpoint_and_refuses_one_that_does_not_fit(tmp_path):
    """agents.lstm.train --init-from (continual learning, IL->RL): the run begins at the cloned weights."""
    import torch
    from sb3_contrib import RecurrentPPO

    from agents.lstm.train import main as lstm_main

    write_demos(tmp_path / "demos", "train", episodes=1, shard_size=1, progress=False)
    bc_main(["--method", "lstm-llm-resampler", "--encoder-model", "tiny", "--demos", str(tmp_path / "demos"),
             "--episodes", "2", "--batch-episodes", "1", "--out", str(tmp_path / "il"), *TINY])
    source = tmp_path / "il" / "checkpoint"
    rl = ["--encoder", "llm-resampler", "--encoder-model", "tiny", "--image-size", "32", "--threads", "1",
          "--envs", "2", "--n-steps", "8", "--steps", "16", "--eval-episodes", "0", "--lr", "1e-12",
          "--init-from", str(source)]
    lstm_main([*rl, "--out", str(tmp_path / "rl")])
    cloned = RecurrentPPO.load(str(source / "model.zip")).policy.state_dict()
    tuned = RecurrentPPO.load(str(tmp_path / "rl" / "checkpoint" / "model.zip")).policy.state_dict()
    assert all(torch.allclose(cloned[k].float(), tuned[k].float(), atol=1e-6) for k in cloned)
    with pytest.raises(ValueError, match=f"--init-from {source}: its policy does not fit"):
        lstm_main([*rl, "--lstm-hidden", "64", "--out", str(tmp_path / "other")])


def test_only_episodes_picks_the_demonstrations_of_an_episode_file(tmp_path):
    from agents.imitation.demos import load_demos
    from agents.imitation.train import only_episodes
    from gym_langrearrange.datasets import generate_episode, save_episodes

    write_demos(tmp_path / "demos", "train", episodes=4, shard_size=4, progress=False)
    demos = list(load_demos(tmp_path / "demos")[1])
    save_episodes([generate_episode("train", i)[0] for i in (3, 1)], tmp_path / "subset.json")
    picked = only_episodes(demos, str(tmp_path / "subset.json"), "demos")
    assert [d.index for d in picked] == [3, 1]
    save_episodes([generate_episode("train", i)[0] for i in (1, 9)], tmp_path / "other.json")
    with pytest.raises(ValueError, match=r"other.json: 1 of its 2 episodes have no demonstration.*train-"):
        only_episodes(demos, str(tmp_path / "other.json"), "demos")
