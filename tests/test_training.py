import json
from types import SimpleNamespace

from stable_baselines3.common.logger import configure

from agents.callbacks import HeldOutEvaluation, TrainingClock
from agents.run_folder import ResumeMismatch


def test_a_resumed_run_keeps_its_evaluation_schedule(tmp_path):
    """The last held-out evaluation was at 200 steps, every 100: resuming at 250 must not evaluate
    again at once (a 6-minute evaluation on the learning benchmark), but at 300."""
    evaluated = []
    heldout = HeldOutEvaluation(lambda model: evaluated.append(model.num_timesteps) or 0.0, every=100,
                                clock=TrainingClock(), evals=[{"steps": 200, "seconds": 10.0, "heldout_success": 0.0}],
                                log_dir=tmp_path)
    heldout.model = SimpleNamespace(num_timesteps=250, logger=configure(None, []))
    heldout._on_training_start()
    for steps in (250, 280, 300, 350, 400):
        heldout.model.num_timesteps = steps
        heldout._on_rollout_end()
    assert evaluated == [300, 400]
    assert [e["steps"] for e in heldout.evals] == [200, 300, 400]
    assert [e["steps"] for e in json.loads((tmp_path / "evals.json").read_text())] == [200, 300, 400]


def test_auto_threads_leave_busy_cores_alone(monkeypatch):
    import os

    from agents.training import pick_threads

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert pick_threads("auto") == 2  # an idle machine: every core
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert pick_threads("auto") == 1  # another process keeps one core busy
    monkeypatch.setattr(os, "getloadavg", lambda: (7.0, 0.0, 0.0))
    assert pick_threads("auto") == 1  # never fewer than one
    assert pick_threads(3) == 3  # asked for: as asked
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert pick_threads("auto") == 2  # the user's (or benchmarks/learning.py's) OMP_NUM_THREADS


def test_more_ranks_than_gpus_is_a_one_line_error_before_any_process_group(monkeypatch):
    import pytest
    import torch
    import torch.distributed as dist

    from agents.training import init_distributed

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"LOCAL_RANK 1 .* 1 GPU\(s\).*--nproc_per_node 1.*--device cpu"):
        init_distributed("cuda")
    assert not dist.is_initialized()  # nothing was joined: the other ranks are not left waiting in a group


def test_the_learning_benchmark_resumes_only_what_exists(tmp_path, monkeypatch):
    import argparse
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    monkeypatch.syspath_prepend(str(root / "benchmarks"))
    spec = importlib.util.spec_from_file_location("learning_bench", root / "benchmarks" / "learning.py")
    learning = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(learning)
    args = argparse.Namespace(ranks=1, eval_every=10, budget=5.0, envs=2, checkpoint_every=5, seed=0, ent_coef=0.01,
                              out=tmp_path, action_mask=False, t5_model=None, dtype="auto", threads=1)
    assert "--resume" not in learning.command("llarp", args, tmp_path / "t.json", tmp_path / "h.json")
    (tmp_path / "llarp" / "checkpoint").mkdir(parents=True)
    (tmp_path / "llarp" / "checkpoint" / "model.zip").write_bytes(b"")
    cmd = learning.command("llarp", args, tmp_path / "t.json", tmp_path / "h.json")
    assert "--resume" in cmd and cmd[cmd.index("--threads") + 1] == "1"


def test_a_run_folder_holds_one_run(tmp_path):
    """Issue 19, item 1: a rerun without --resume used to replace the run; --resume of a typo'd folder
    started from zero; a resume after the budget trained a few steps more; bad numbers crashed late."""
    import pytest

    from agents.training import RunExists

    from agents.llarp import train

    out = tmp_path / "run"
    episodes = tmp_path / "episodes.json"
    from gym_langrearrange.datasets import generate_episode, save_episodes

    save_episodes([generate_episode("train", i)[0] for i in range(4)], episodes)
    argv = ["--backbone", "tiny-llama", "--dtype", "float32", "--envs", "2", "--n-steps", "8", "--n-minibatches", "1",
            "--image-size", "32", "--max-tokens", "16", "--eval-episodes", "0", "--threads", "1",
            "--episodes-file", str(episodes), "--out", str(out)]
    train.main(argv + ["--steps", "32"])
    checkpoint = out / "checkpoint" / "model.zip"
    before = checkpoint.read_bytes()
    with pytest.raises(RunExists, match="already holds a training run .checkpoint, curve.json.*add --resume"):
        train.main(argv + ["--steps", "16"])
    with pytest.raises(FileNotFoundError, match="--resume: .*typo holds no checkpoint"):
        train.main([*argv[:-1], str(tmp_path / "typo"), "--steps", "16", "--resume"])
    # a run stopped before its first checkpoint left only logs: --resume starts it again
    early = tmp_path / "early"
    (early / "tb").mkdir(parents=True)
    (early / "curve.json").write_text("[[8, 0.0]]")
    with pytest.raises(RunExists, match="already holds a training run .curve.json, tb.; add --resume"):
        train.main([*argv[:-1], str(early), "--steps", "16"])
    train.main([*argv[:-1], str(early), "--steps", "16", "--resume"])
    assert json.loads((early / "checkpoint" / "agent.json").read_text())["num_timesteps"] == 16
    assert [c[0] for c in json.loads((early / "curve.json").read_text())] != [8]  # the old log is gone
    train.main(argv + ["--steps", "32", "--resume"])  # the target is reached: nothing to train
    train.main(argv + ["--steps", "64", "--resume", "--time-budget", "0.001"])  # the budget is spent
    assert checkpoint.read_bytes() == before
    assert json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"] == 32
    save_episodes([generate_episode("train", i)[0] for i in range(1, 5)], episodes)  # edited at the same path
    with pytest.raises(ResumeMismatch, match="--episodes-digest .*checkpoint: "):
        train.main(argv + ["--steps", "64", "--resume"])
    for bad in (["--checkpoint-every", "0"], ["--n-steps", "0"], ["--envs", "0"], ["--steps", "-5"],
                ["--time-budget", "-1"], ["--threads", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            train.main(argv + bad)
        assert exit_info.value.code == 2


def test_the_held_out_curve_plays_every_episode_of_the_file_whatever_its_splits(tmp_path):
    """--heldout FILE: the file's episodes are reported as custom:SPLIT columns; the curve's success is
    over all of them (a file of one official dataset's episodes, as benchmarks/continual.py writes, too)."""
    from agents.evaluate import read_records
    from agents.llarp import train
    from gym_langrearrange.datasets import generate_episode, save_episodes

    heldout = tmp_path / "heldout.json"
    save_episodes([generate_episode("multiple_rearrangements", 0)[0], generate_episode("new_scenes", 1)[0],
                   generate_episode("new_scenes", 2)[0]], heldout)
    out = tmp_path / "run"
    train.main(["--backbone", "tiny-llama", "--dtype", "float32", "--envs", "2", "--n-steps", "8", "--n-minibatches",
                "1", "--image-size", "32", "--max-tokens", "16", "--eval-episodes", "0", "--threads", "1",
                "--split", "multiple_rearrangements_train", "--heldout", str(heldout), "--eval-every", "16",
                "--steps", "32", "--out", str(out)])
    evals = json.loads((out / "evals.json").read_text())
    assert [e["steps"] for e in evals] == [16, 32]
    for e in evals:
        played = read_records(out / "heldout" / f"step{e['steps']:09d}" / "episodes.jsonl")
        assert sorted(r["dataset"] for r in played) == ["custom:multiple_rearrangements", "custom:new_scenes",
                                                        "custom:new_scenes"]
        assert e["heldout_success"] == sum(r["success"] for r in played) / 3
