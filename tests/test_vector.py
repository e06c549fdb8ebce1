import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401  (registers the ids and their vector entry point)


def _assert_same(a, b, what):
    assert a.keys() == b.keys(), what
    for key in a:
        if isinstance(a[key], tuple):
            assert a[key] == b[key], (what, key)
        else:
            assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, (what, key)
            assert np.array_equal(a[key], b[key]), (what, key)


@pytest.mark.parametrize("env_id,kwargs", [("LangRearrange-v0", dict(image_size=24)),
                                           ("LangRearrangeHard-v0", dict(render=False, obs_mode="text"))])
def test_vector_entry_point_equals_sync_vector_env_through_autoresets(env_id, kwargs):
    """The same observations, rewards, terminations, truncations and infos as N single envs under
    Gymnasium's SyncVectorEnv, step by step, across many next-step autoresets."""
    ours = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point", split="rephrasing", **kwargs)
    sync = gym.make_vec(env_id, num_envs=3, vectorization_mode="sync", split="rephrasing", **kwargs)
    assert ours.metadata["autoreset_mode"] == sync.metadata["autoreset_mode"]
    assert ours.observation_space == sync.observation_space and ours.action_space == sync.action_space
    obs_a, info_a = ours.reset(seed=11)
    obs_b, info_b = sync.reset(seed=11)
    _assert_same(obs_a, obs_b, "reset obs")
    _assert_same(info_a, info_b, "reset info")
    rng = np.random.default_rng(0)
    episodes_ended = 0
    for t in range(150):
        # mostly valid skills, some invalid ones (which end an episode of the hard variant)
        actions = np.array([rng.choice(np.flatnonzero(m)) if rng.random() < 0.8 else rng.integers(70)
                            for m in info_a["action_mask"]])
        obs_a, r_a, te_a, tr_a, info_a = ours.step(actions)
        obs_b, r_b, te_b, tr_b, info_b = sync.step(actions)
        _assert_same(obs_a, obs_b, f"obs at step {t}")
        _assert_same(info_a, info_b, f"info at step {t}")
        for x, y in ((r_a, r_b), (te_a, te_b), (tr_a, tr_b)):
            assert x.dtype == y.dtype and np.array_equal(x, y), t
        episodes_ended += int(np.sum(te_a | tr_a))
    assert episodes_ended >= 6  # the comparison crossed autoresets in every env
    ours.close()
    sync.close()


def test_vector_env_seeds_and_bad_input():
    envs = gym.make_vec("LangRearrange-v0", num_envs=2, vectorization_mode="vector_entry_point", render=False)
    _, by_int = envs.reset(seed=5)
    _, by_list = envs.reset(seed=[5, 6])
    assert list(by_int["episode_id"]) == list(by_list["episode_id"])
    single = gym.make("LangRearrange-v0", render=False)
    assert single.reset(seed=6)[1]["episode_id"] == by_int["episode_id"][1]
    with pytest.raises(ValueError, match=r"seed: a list of 3 seeds for 2 envs"):
        envs.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match=r"actions: expected shape \(2,\).*got shape \(3,\)"):
        envs.step(np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="num_envs must be a positive int"):
        gym.make_vec("LangRearrange-v0", num_envs=0, vectorization_mode="vector_entry_point")
