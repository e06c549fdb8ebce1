"""Playing by hand, render_mode="human" without a display, and the package's command line."""
from __future__ import annotations

import io

import gymnasium as gym
import numpy as np
import pytest
from PIL import Image

import gym_langrearrange  # noqa: F401  (registers the ids)
from gym_langrearrange.__main__ import main as cli
from gym_langrearrange.play import completer, parse_skill, play


def test_play_from_a_script_steps_the_env_and_updates_the_view(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    env = gym.make("LangRearrange-v0", split="train", render=False).unwrapped
    env.reset(seed=0, options={"episode_index": 0})
    plan = [env.plan[0], *env.plan[1:]]  # the oracle's skills: the scripted player solves the episode
    script = iter(["?", "bogus", str(plan[0]), *[gym_langrearrange.SKILL_CATALOG.text(a) for a in plan[1:]], "q"])
    out, png = io.StringIO(), tmp_path / "view.png"
    records = play("train", 0, png=str(png), read=lambda _prompt: next(script), out=out)
    text = out.getvalue()
    assert "valid now: " in text and "unknown skill 'bogus'" in text and "episode over: success" in text
    assert records == [{"episode_id": "train-0", "steps": len(plan), "return": pytest.approx(records[0]["return"]),
                        "success": True}] and records[0]["return"] > 10
    view = np.asarray(Image.open(png))
    assert view.shape[0] > 256 and view.shape[1] > 512 and view.std() > 10


def test_skill_names_parse_and_complete():
    assert parse_skill("pick(apple)") == gym_langrearrange.SKILL_CATALOG.id("pick(apple)") and parse_skill("3") == 3
    with pytest.raises(ValueError, match="unknown skill 'pick apple'.*pick"):
        parse_skill("pick apple")
    assert completer("open(f", 0) == "open(fridge)" and completer("open(f", 1) is None


def test_human_render_mode_writes_the_view_headless(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    png = tmp_path / "human.png"
    monkeypatch.setenv("GYM_LANGREARRANGE_VIEW", str(png))
    env = gym.make("LangRearrange-v0", split="train", render_mode="human")
    env.reset(seed=0)
    first = np.asarray(Image.open(png)).copy()
    env.step(0)  # navigate(sofa): the camera and the words change
    second = np.asarray(Image.open(png))
    assert first.shape == second.shape and (first != second).any()
    env.close()
    with pytest.raises(ValueError, match="render_mode must be None, 'rgb_array' or 'human'"):
        gym.make("LangRearrange-v0", render_mode="window")


def test_the_command_line_dispatches_and_refuses_unknown_commands(capsys):
    assert cli(["show", "--split", "context", "--count", "1"]) == 0
    assert "optimal plan" in capsys.readouterr().out
    assert cli(["--help"]) == 0 and "play" in capsys.readouterr().out
    assert cli(["dance"]) == 2 and "unknown command 'dance'" in capsys.readouterr().err


def test_the_speed_benchmark_steps_in_each_action_regime():
    from gym_langrearrange.benchmark import REGIMES, steps_per_second, vector_steps_per_second

    env = gym.make("LangRearrange-v0", split="train", render=False)
    for regime in REGIMES:
        assert steps_per_second(env, 64, seed=0, regime=regime) > 0
    for mode in ("sync", "vector_entry_point"):
        envs = gym.make_vec("LangRearrange-v0", num_envs=2, vectorization_mode=mode, render=False)
        assert vector_steps_per_second(envs, 32, seed=0) > 0
    with pytest.raises(ValueError, match="unknown regime 'greedy'"):
        steps_per_second(env, 8, seed=0, regime="greedy")
