import json
import re

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import gym_langrearrange  # noqa: F401  (registers the ids)
from gym_langrearrange.datasets import generate_episode
from gym_langrearrange.planner import Oracle
from gym_langrearrange.skills import SKILL_CATALOG


def make(**kw):
    kw.setdefault("render", False)
    return gym.make("LangRearrange-v0", **kw)


@pytest.mark.parametrize("env_id", ["LangRearrange-v0", "LangRearrangeHard-v0"])
def test_gymnasium_check_env(env_id):
    env = gym.make(env_id, split="rephrasing", image_size=64)
    check_env(env.unwrapped, skip_render_check=False)
    assert env.action_space == gym.spaces.Discrete(70)
    assert env.observation_space["rgb"].shape == (64, 64, 3)


def test_observation_and_info_keys():
    env = make(obs_mode="text")
    obs, info = env.reset(seed=3)
    assert set(obs) == {"instruction", "arm_joints", "is_holding", "egomotion", "text"}
    assert {"success", "subgoals_done", "subgoals_total", "invalid", "action_name", "feedback", "action_mask",
            "episode_id", "split"} <= set(info)
    assert info["action_mask"].dtype == bool and info["action_mask"].shape == (70,)
    assert np.array_equal(info["action_mask"], env.unwrapped.action_masks())
    assert "middle of the room" in obs["text"]
    obs, *_ = env.step(SKILL_CATALOG.id("navigate(sofa)"))
    assert "You are at the sofa" in obs["text"]
    assert np.linalg.norm(obs["egomotion"][:2]) > 0.5


def test_oracle_episode_rewards_and_success():
    env = make(split="train")
    env.reset(seed=0, options={"episode_index": 11})
    oracle = Oracle(env)
    total, steps, info = 0.0, 0, {}
    terminated = truncated = False
    while not (terminated or truncated):
        _, r, terminated, truncated, info = env.step(oracle.act())
        total += r
        steps += 1
        assert not info["invalid"]
    assert terminated and info["success"]
    n_sub = info["subgoals_total"]
    assert info["subgoals_done"] == n_sub
    assert total == pytest.approx(10 + 5 * n_sub - 0.01 * steps)


def test_invalid_action_is_penalised_noop():
    env = make()
    env.reset(seed=1)
    state_before = env.unwrapped.state.describe()
    _, r, term, trunc, info = env.step(SKILL_CATALOG.id("place(sofa)"))
    assert info["invalid"] and r == pytest.approx(-0.11) and not term and not trunc
    assert info["feedback"].startswith("Could not place on the sofa: ")
    assert env.unwrapped.state.describe() == state_before


def test_truncates_after_32_steps_and_stop_is_noop():
    env = make()
    env.reset(seed=2)
    for t in range(32):
        _, r, term, trunc, info = env.step(69)
        assert not term and not info["invalid"]
        assert trunc == (t == 31)


def test_hard_variant_invalid_ends_and_stop_judges():
    env = gym.make("LangRearrangeHard-v0", render=False)
    env.reset(seed=0)
    _, r, term, _, info = env.step(SKILL_CATALOG.id("place(sofa)"))
    assert term and not info["success"]
    env.reset(seed=0, options={"episode_index": 4})
    oracle = Oracle(env)
    term = False
    actions = []
    while not term:
        actions.append(oracle.act())
        _, r, term, trunc, info = env.step(actions[-1])
    assert actions[-1] == 69 and info["success"] and r > 9
    env.reset(seed=0, options={"episode_index": 4})
    _, r, term, _, info = env.step(69)
    assert term and not info["success"]


def _rollout(env, seed, n_episodes=3):
    rng = np.random.default_rng(0)
    out = []
    obs, info = env.reset(seed=seed)
    out.append((obs, info))
    for _ in range(n_episodes):
        done = False
        while not done:
            obs, r, term, trunc, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            out.append((obs, r, term, trunc, info))
            done = term or trunc
        obs, info = env.reset()
        out.append((obs, info))
    return out


def _same(a, b):
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def test_same_seed_same_everything_different_seed_different_episodes():
    a = _rollout(make(render=True, image_size=32), seed=123)
    b = _rollout(make(render=True, image_size=32), seed=123)
    c = _rollout(make(render=True, image_size=32), seed=124)
    assert _same(a, b)
    ids = lambda run: [step[-1]["episode_id"] for step in run if len(step) == 2]
    assert ids(a) != ids(c)


def test_reset_walks_through_every_eval_episode_once():
    env = make(split="context")
    seen = {env.reset(seed=5)[1]["episode_id"]}
    for _ in range(99):
        seen.add(env.reset()[1]["episode_id"])
    assert len(seen) == 100


@pytest.mark.parametrize("bad", [70, -1, 1.5, "3", None, True, np.array([1, 2])])
def test_bad_actions_raise_and_leave_env_usable(bad):
    env = make()
    env.reset(seed=0)
    with pytest.raises((TypeError, ValueError), match="0..69|skill id"):
        env.unwrapped.step(bad)
    _, _, _, _, info = env.step(SKILL_CATALOG.id("navigate(sofa)"))
    assert not info["invalid"]


def test_numpy_actions_are_accepted():
    env = make()
    env.reset(seed=0)
    env.step(np.int64(3))
    env.step(np.array(4))


def test_step_before_reset_and_after_end():
    env = gym.make("LangRearrange-v0", render=False, disable_env_checker=True).unwrapped
    with pytest.raises(ResetNeeded, match="before reset"):
        env.step(0)
    env.reset(seed=0)
    for _ in range(32):
        env.step(69)
    with pytest.raises(ResetNeeded, match="episode is over"):
        env.step(0)
    env.reset()
    env.step(0)


@pytest.mark.parametrize("kwargs, message", [
    ({"split": "nonsense"}, "unknown split 'nonsense'; allowed: train, new_scenes"),
    ({"split": 3}, "split must be a dataset name (str), one of train, new_scenes"),
    ({"split": None}, "split must be a dataset name (str), one of train,"),
    ({"image_size": 0}, "image_size must be a positive int"),
    ({"image_size": 2.5}, "image_size must be a positive int (pixels per side), got 2.5 of type float"),
    ({"image_size": "256"}, "image_size must be a positive int"),
    ({"image_size": True}, "image_size must be a positive int (pixels per side), got True of type bool"),
    ({"image_size": np.float64(64)}, "image_size must be a positive int"),
    ({"max_steps": True}, "max_steps must be a positive int (skill steps before truncation), got True"),
    ({"max_steps": np.bool_(True)}, "max_steps must be a positive int"),
    ({"max_steps": 0}, "max_steps must be a positive int"),
    ({"max_steps": 8.0}, "max_steps must be a positive int"),
    ({"render": "no"}, "render must be True or False, got 'no' of type str"),
    ({"render": 0}, "render must be True or False, got 0 of type int"),
    ({"render": None}, "render must be True or False"),
    ({"hard": "yes"}, "hard must be True or False, got 'yes'"),
    ({"hard": 1}, "hard must be True or False"),
    ({"obs_mode": "smell"}, "obs_mode must be 'rgb' or 'text', got 'smell'"),
    ({"obs_mode": ["text"]}, "obs_mode must be 'rgb' or 'text', got ['text']"),
    ({"episodes": 5}, "episodes must be the path (str or os.PathLike) of an episode JSON file, got 5 of type int"),
    ({"episodes": ["a.json"]}, "episodes must be the path"),
])
def test_bad_constructor_arguments(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gym.make("LangRearrange-v0", **kwargs)


@pytest.mark.parametrize("bad", ["window", "ansi", True])
def test_bad_render_mode(bad):
    # through the class: gym.make handles render_mode itself first ("human" -> a HumanRendering wrapper)
    from gym_langrearrange.env import LangRearrangeEnv

    with pytest.raises(ValueError, match=re.escape(f"render_mode must be None, 'rgb_array' or 'human', got {bad!r}")):
        LangRearrangeEnv(render=False, render_mode=bad)


def test_numpy_integers_and_bools_are_accepted_as_arguments():
    env = gym.make("LangRearrange-v0", image_size=np.int64(32), max_steps=np.int32(3), render=np.bool_(True),
                   hard=np.bool_(False))
    inner = env.unwrapped
    assert type(inner.image_size) is int and type(inner.max_steps) is int and inner.max_steps == 3
    assert inner.render_rgb is True and inner.hard is False
    obs, _ = env.reset(seed=0)
    assert obs["rgb"].shape == (32, 32, 3)
    for t in range(3):
        *_, trunc, _ = env.step(69)
    assert trunc


def test_render_false_drops_the_image_and_a_string_is_not_read_as_true():
    obs, _ = gym.make("LangRearrange-v0", render=False).reset(seed=0)
    assert "rgb" not in obs
    with pytest.raises(ValueError, match="render must be True or False"):
        gym.make("LangRearrange-v0", render="False")


@pytest.mark.parametrize("bad", [True, False, np.bool_(True), 1.0, "3", None, -1, 100, np.int64(100), [3]])
def test_bad_episode_index_is_refused_and_env_stays_usable(bad):
    env = make(split="context")
    with pytest.raises(ValueError, match=re.escape("options['episode_index'] must be an int in 0..99, got ")):
        env.reset(seed=0, options={"episode_index": bad})
    _, info = env.reset(seed=0, options={"episode_index": np.int64(7)})
    assert info["episode_id"] == env.reset(seed=0, options={"episode_index": 7})[1]["episode_id"]


def test_episodes_may_be_a_pathlib_path(tmp_path):
    spec, _ = generate_episode("context", 3)
    path = tmp_path / "one.json"
    path.write_text(json.dumps([spec.to_json()]))
    _, info = make(episodes=path).reset(seed=0)
    assert info["episode_id"] == spec.episode_id


def test_custom_episode_file(tmp_path):
    spec, _ = generate_episode("spatial_relationships", 0)
    mine = spec.to_json()
    mine["episode_id"] = "mine"
    mine["instruction"] = "Please put it where I said."
    path = tmp_path / "mine.json"
    path.write_text(json.dumps([mine]))
    env = make(episodes=str(path))
    obs, info = env.reset(seed=0)
    assert obs["instruction"] == "Please put it where I said." and info["episode_id"] == "mine"
    bad = dict(mine, objects=[{"category": "apple", "receptacle": "sofa"}])
    path.write_text(json.dumps([bad]))
    with pytest.raises(ValueError, match="episode 'mine': field 'goal' cannot be reached"):
        make(episodes=str(path))


def test_vector_envs():
    fns = [lambda: gym.make("LangRearrange-v0", render=True, image_size=32) for _ in range(2)]
    makers = [gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv,
              lambda f: gym.vector.AsyncVectorEnv(f, shared_memory=False),
              lambda f: gym.vector.AsyncVectorEnv(f, copy=False)]
    for make_venv in makers:
        venv = make_venv(fns)
        obs, infos = venv.reset(seed=0)
        assert obs["rgb"].shape == (2, 32, 32, 3) and len(obs["instruction"]) == 2
        first = tuple(obs["instruction"])
        assert first == tuple(e.instruction for e in venv.get_attr("episode"))
        for _ in range(40):  # crosses an episode end (autoreset)
            obs, r, term, trunc, infos = venv.step(np.array([69, 69]))
        assert r.shape == (2,)
        assert tuple(obs["instruction"]) == tuple(e.instruction for e in venv.get_attr("episode"))
        assert tuple(obs["instruction"]) != first  # new episodes after the autoreset
        venv.close()


def test_render_mode_rgb_array_gives_a_map():
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 10
