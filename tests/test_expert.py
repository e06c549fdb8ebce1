"""The exploring expert: it uses only what the robot perceived, and it completes episodes from any state."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.expert import ExploringExpert
from gym_langrearrange.catalog import RECEPTACLES


def make(split="train", hard=False):
    return gym.make("LangRearrangeHard-v0" if hard else "LangRearrange-v0", split=split, render=False).unwrapped


def test_moving_an_unseen_object_changes_nothing_until_it_is_seen():
    a, b = make(), make()
    compared = []
    for index in range(12):
        a.reset(seed=0, options={"episode_index": index})
        b.reset(seed=0, options={"episode_index": index})
        expert_a, expert_b = ExploringExpert(a.episode.goal_expr), ExploringExpert(b.episode.goal_expr)
        # in b, move an object the goal is about to another receptacle (nothing is perceived before the first step)
        goal_cats = a.episode.goal_expr.object_categories()
        moved = next((o for o in range(b.state.num_objects)
                     if b.state.loc[o] >= 0 and b.state.category[o] in
                     {i for i, c in enumerate(gym_langrearrange.CATEGORIES) if c in goal_cats}), None)
        if moved is None:  # a goal about receptacles only (open the fridge)
            continue
        elsewhere = next(RECEPTACLES.index(r) for r in b.state.scene.receptacles
                         if RECEPTACLES.index(r) != b.state.loc[moved] and RECEPTACLES[RECEPTACLES.index(r)] != "fridge")
        b.state.loc[moved] = elsewhere
        steps = 0
        while True:
            expert_a.observe(a.state)
            expert_b.observe(b.state)
            if moved in expert_a.seen_objects or moved in expert_b.seen_objects:
                break
            action = expert_a.action(a.state)
            assert expert_b.action(b.state) == action, f"episode {index}: the expert reacted to an unseen object"
            *_, term_a, trunc_a, _ = a.step(action)
            *_, term_b, trunc_b, _ = b.step(action)
            steps += 1
            if term_a or trunc_a or term_b or trunc_b:
                break
        compared.append(steps)
    assert max(compared) >= 3, compared  # the comparison covered real exploration, not just the first step


def play(env, index, takeover_after=0, rng=None):
    """Random valid skills for ``takeover_after`` steps (the expert watching), then the expert: success?"""
    obs, info = env.reset(seed=0, options={"episode_index": index})
    expert = ExploringExpert(env.episode.goal_expr, hard=env.hard)
    for t in range(env.max_steps):
        expert.observe(env.state)
        if t < takeover_after:
            action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        else:
            action = expert.action(env.state)
        obs, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return bool(info["success"])
    return False


def test_the_expert_solves_episodes_and_takes_over_from_any_policy():
    env, rng = make(), np.random.default_rng(0)
    alone = [play(env, i) for i in range(30)]
    after_random = [play(env, i, takeover_after=4, rng=rng) for i in range(30)]
    assert np.mean(alone) >= 0.9, np.mean(alone)
    assert np.mean(after_random) >= 0.7, np.mean(after_random)  # from wherever 4 random skills left it


def test_the_expert_stops_in_the_hard_variant():
    env = make(hard=True)
    assert np.mean([play(env, i) for i in range(20)]) >= 0.9
