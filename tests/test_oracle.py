import gymnasium as gym
import pytest

import gym_langrearrange  # noqa: F401
from gym_langrearrange.datasets import DATASET_SIZES, DATASETS
from gym_langrearrange.planner import Oracle


@pytest.mark.parametrize("dataset", DATASETS)
def test_oracle_solves_first_200_episodes(dataset):
    env = gym.make("LangRearrange-v0", split=dataset, render=False)
    oracle = Oracle(env)
    n = min(200, DATASET_SIZES[dataset])
    solved = 0
    for i in range(n):
        env.reset(seed=0, options={"episode_index": i})
        steps, done, info = 0, False, {}
        while not done:
            _, _, term, trunc, info = env.step(oracle.act())
            steps += 1
            done = term or trunc
        solved += bool(info["success"]) and steps <= 32
    assert solved / n >= 0.99, f"{dataset}: oracle solved {solved}/{n}"
