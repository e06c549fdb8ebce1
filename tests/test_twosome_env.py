"""TWOSOME's four tasks: the spec's optimal episodes, macro costs, caps, partial observability and bad input."""
from __future__ import annotations

import copy
import heapq
from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import gym_langrearrange  # noqa: F401  (registers the ids)
from gym_langrearrange.twosome import TASKS, check_task
from gym_langrearrange.twosome.kitchen import TOMATO_LETTUCE_SALAD, TOMATO_SALAD, Kitchen, macros_of
from gym_langrearrange.twosome.overcooked import TomatoLettuceSaladEnv, TomatoSaladEnv
from gym_langrearrange.twosome.virtualhome import EntertainmentEnv, FoodPreparationEnv

TS, TL = "TWOSOME/TomatoSalad-v0", "TWOSOME/TomatoLettuceSalad-v0"
FP, ENT = "TWOSOME/FoodPreparation-v0", "TWOSOME/Entertainment-v0"


def play(env, actions):
    """Reset, then take ``actions``; returns [(action text, reward, terminated, truncated, info)] per step."""
    obs, info = env.reset()
    steps = []
    for a in actions:
        text = info["action_texts"][a]
        assert info["action_mask"][a], f"{text!r} is not offered in: {obs['text'] if isinstance(obs, dict) else obs}"
        obs, reward, terminated, truncated, info = env.step(a)
        steps.append((text, reward, terminated, truncated, info))
    return steps


@pytest.mark.parametrize("env_id", list(TASKS))
@pytest.mark.parametrize("obs_mode", ["vector", "text"])
def test_check_env_passes(env_id, obs_mode):
    env = gym.make(env_id, obs_mode=obs_mode, render_mode="rgb_array")
    check_env(env.unwrapped)
    env.reset()
    image = env.render()
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8 and image.std() > 0


def test_tomato_salad_optimal_episode_6_macros_28_steps():
    steps = play(TomatoSaladEnv(), [0, 2, 4, 0, 1, 3])
    assert [s[0] for s in steps] == ["pick up the tomato", "put the tomato on the cutting board", "chop the tomato",
                                     "pick up the tomato", "take the bowl", "serve the dish"]
    assert [s[4]["macro_action_steps"] for s in steps] == [2, 5, 3, 1, 10, 7]
    np.testing.assert_allclose([s[1] for s in steps], [-0.0020, -0.0049, 0.1930, -0.0010, -0.0096, 0.9347], atol=1e-4)
    assert steps[-1][2] and not steps[-1][3] and not any(s[2] for s in steps[:-1])
    episode = steps[-1][4]["episode"]
    assert episode["l"] == 28 and episode["r"] == pytest.approx(0.9205, abs=1e-4)


def test_tomato_salad_alternative_order_31_steps():
    steps = play(TomatoSaladEnv(), [0, 2, 4, 1, 0, 3])  # tomato, board, chop, take the bowl, tomato into it, serve
    assert [s[4]["macro_action_steps"] for s in steps][3:] == [9, 9, 3] and steps[-1][2]
    assert steps[-1][4]["episode"]["l"] == 31 and steps[-1][4]["episode"]["r"] == pytest.approx(0.8956, abs=1e-4)


def test_tomato_lettuce_salad_optimal_episode_10_macros_45_steps():
    steps = play(TomatoLettuceSaladEnv(), [0, 4, 7, 1, 5, 7, 3, 1, 0, 6])
    assert [s[0] for s in steps] == [
        "pick up the tomato", "put the tomato on the first cutting board", "chop the tomato", "pick up the lettuce",
        "put the lettuce on the second cutting board", "chop the lettuce", "take the empty bowl",
        "put the lettuce in the bowl", "put the tomato in the bowl", "serve the dish"]
    assert [s[4]["macro_action_steps"] for s in steps] == [2, 5, 3, 5, 6, 3, 8, 8, 2, 3]
    assert steps[-1][2] and steps[-1][4]["episode"]["l"] == 45
    assert steps[-1][4]["episode"]["r"] == pytest.approx(0.9477, abs=1e-4)


def _kitchen_key(k: Kitchen):
    return k.agent, k.held, tuple(sorted(k.place.items())), tuple(sorted(k.chops.items()))


def _fewest_macros(layout) -> int:
    """Breadth-first over macro sequences (states deduplicated): the length of the shortest success."""
    frontier, seen = [Kitchen(layout)], set()
    for depth in range(1, 30):
        nxt = []
        for k in frontier:
            for macro in macros_of(layout):
                child = copy.deepcopy(k)
                if child.run(macro, view_radius=2).success:
                    return depth
                if _kitchen_key(child) not in seen:
                    seen.add(_kitchen_key(child))
                    nxt.append(child)
        frontier = nxt
    raise AssertionError("no solution within 30 macros")


@pytest.mark.parametrize("layout, macros, steps", [(TOMATO_SALAD, 6, 28), (TOMATO_LETTUCE_SALAD, 10, 45)])
def test_no_salad_episode_is_shorter_than_the_spec_s(layout, macros, steps):
    """Exhaustive search: fewest macros (BFS) and fewest primitive steps (Dijkstra) are the spec's."""
    assert _fewest_macros(layout) == macros
    actions, start = macros_of(layout), Kitchen(layout)
    heap, best, counter, shortest = [(0, 0, start)], {_kitchen_key(start): 0}, 1, 10 ** 9
    while heap and heap[0][0] < shortest:
        cost, _, k = heapq.heappop(heap)
        if cost > best[_kitchen_key(k)]:
            continue
        for macro in actions:
            child = copy.deepcopy(k)
            if child.run(macro, view_radius=2).success:
                shortest = min(shortest, child.steps)
            elif child.steps < best.get(_kitchen_key(child), 10 ** 9):
                best[_kitchen_key(child)] = child.steps
                heapq.heappush(heap, (child.steps, counter, child))
                counter += 1
    assert shortest == steps


@pytest.mark.parametrize("actions, costs", [
    ([4, 4], [1, 1]),  # chop nothing at the start: one wasted "stay"
    ([3, 3, 3], [5, 1, 1]),  # serve nothing: walks to the delivery counter, then 1 step each
    ([2, 2], [3, 1]),  # walk to the cutting board with empty hands: 3 steps, then 1
    ([1, 1], [6, 1]),  # take the bowl, then take it again while holding it
])
def test_invalid_macros_cost_the_spec_s_primitive_steps(actions, costs):
    steps = play(TomatoSaladEnv(), actions)
    assert [s[4]["macro_action_steps"] for s in steps] == costs
    np.testing.assert_allclose([s[1] for s in steps], [-0.001 * sum(0.99 ** i for i in range(c)) for c in costs])


def test_putting_an_unchopped_tomato_in_the_bowl_walks_over_and_does_nothing():
    env = TomatoSaladEnv()
    play(env, [1])  # holding the bowl
    before = dict(env.kitchen.place)
    _, reward, *_ = env.step(0)  # "put the tomato in the bowl"
    assert env.kitchen.place == before and env.kitchen.held == "bowl" and env.kitchen.agent == (1, 5)


def test_a_star_route_follows_the_original_tie_breaks():
    """Holding the onion at (2,5), bowl and tomato on board 1: 'pick up the tomato' goes up first, 5 steps to (1,2)."""
    k = Kitchen(TOMATO_LETTUCE_SALAD)
    k.agent, k.held = (2, 5), "onion"
    k.place.update(onion="held", bowl=(1, 0), tomato="bowl")
    k.chops["tomato"] = 3
    outcome = k.run(macros_of(TOMATO_LETTUCE_SALAD)[0], view_radius=2)
    assert outcome.primitive_steps == 5 and k.agent == (1, 2)


def test_initial_observations_are_the_original_vectors():
    obs, _ = TomatoSaladEnv().reset()
    assert obs.tolist() == [0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0]
    obs, _ = TomatoLettuceSaladEnv().reset()
    assert obs.tolist() == [0, 5, 0, 1, 6, 0, 2, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0, 1, 0, 0, 0]
    full, _ = TomatoSaladEnv(obs_radius=10).reset()  # the plain-PPO baseline's full view
    assert full.tolist()[:11] == [0, 5, 0, 6, 5, 1, 0, 3, 0, 1, 4]


def test_random_macros_solve_tomato_salad_about_as_often_as_the_original():
    """The spec measured ~45% (90 of 200) successes within the cap for uniform macros."""
    env, rng, wins = TomatoSaladEnv(), np.random.default_rng(0), 0
    for _ in range(300):
        env.reset()
        while True:
            _, _, terminated, truncated, info = env.step(int(rng.integers(5)))
            if terminated or truncated:
                wins += terminated
                assert info["episode"]["l"] <= 200 + 10
                break
    assert 0.33 < wins / 300 < 0.57, wins


def test_the_200_step_cap_truncates_when_the_macro_ends():
    env = TomatoSaladEnv()
    env.reset()
    for i in range(199):
        _, _, terminated, truncated, _ = env.step(4)  # chop nothing: 1 step each
        assert not terminated and not truncated
    _, _, terminated, truncated, info = env.step(3)  # serve nothing: 5 steps, past the cap
    assert truncated and not terminated and info["episode"]["l"] == 204
    with pytest.raises(ResetNeeded):
        env.step(0)


def test_household_optimal_episodes():
    steps = play(FoodPreparationEnv(obs_mode="text"), [4, 6, 5, 8, 7, 9])
    assert [s[0] for s in steps] == ["walk to the pancake", "grab the pancake", "walk to the microwave",
                                     "open the microwave", "put the pancake in the microwave", "close the microwave"]
    assert steps[-1][2] and [s[1] for s in steps] == [0, 0, 0, 0, 0, 1]
    assert steps[-1][4]["episode"] == {"r": pytest.approx(0.95 ** 5), "l": 6}
    steps = play(EntertainmentEnv(obs_mode="text"), [4, 9, 5, 10, 0, 6, 11, 7, 13, 8, 15])
    assert steps[-1][2] and not any(s[2] for s in steps[:-1])
    assert steps[-1][4]["episode"] == {"r": pytest.approx(0.95 ** 10), "l": 11}


def _house_key(env):
    h = env.house
    return (h.room, frozenset(h.close), tuple(h.held), frozenset(h.facing), h.sitting, h.on_sofa,
            tuple(sorted(h.inside.items())), tuple(sorted(h.on.items())), tuple(sorted(h.room_of.items())),
            h.microwave_open, h.tv_on)


@pytest.mark.parametrize("cls, length", [(FoodPreparationEnv, 6), (EntertainmentEnv, 11)])
def test_no_household_episode_is_shorter_than_the_spec_s(cls, length):
    """BFS over every action (valid or not): the shortest success has the spec's length."""
    start = cls()
    start.reset()
    frontier, seen = deque([(start, 0)]), {_house_key(start)}
    while frontier:
        env, depth = frontier.popleft()
        for a in range(env.action_space.n):
            child = copy.deepcopy(env)
            _, _, terminated, _, _ = child.step(a)
            if terminated:
                assert depth + 1 == length
                return
            if _house_key(child) not in seen:
                seen.add(_house_key(child))
                frontier.append((child, depth + 1))
    pytest.fail("no solution")


def test_initial_prompts_offer_the_spec_s_actions():
    for cls in (FoodPreparationEnv, EntertainmentEnv):
        obs, info = cls(obs_mode="text").reset()
        assert np.flatnonzero(info["action_mask"]).tolist() == [0, 2, 3, 4, 5]
        assert obs["text"].endswith("your next step is to")
    obs, _ = TomatoSaladEnv(obs_mode="text").reset()
    assert obs["text"].endswith("your next move is to") and "tomato" in obs["text"]


def test_walking_to_a_held_pancake_follows_its_stale_room():
    env = FoodPreparationEnv()
    play_steps = [4, 6, 3, 1]  # walk to it, grab it, to the bedroom, back to the kitchen
    env.reset()
    for a in play_steps:
        env.step(a)
    env.step(4)  # "walk to the pancake"
    assert env.house.room == "bedroom"


def test_the_tv_cannot_be_switched_with_both_hands_full():
    env = EntertainmentEnv()
    steps = play(env, [4, 9, 5, 10, 0, 7])  # both grabbed, then to the TV
    assert env.action_masks()[13]  # the prompt still offers it, as the original's did
    _, _, _, _, info = env.step(13)
    assert not info["executed"] and not env.house.tv_on and steps[-1][4]["executed"]


def test_household_cap_truncates_at_50_steps():
    env = EntertainmentEnv()
    env.reset()
    for t in range(1, 51):
        _, reward, terminated, truncated, info = env.step(2)  # walk to the bathroom, again and again
        assert reward == 0 and not terminated and truncated == (t == 50)
    assert info["episode"] == {"r": 0.0, "l": 50}


def test_partial_observability_hides_the_shut_microwave():
    env = FoodPreparationEnv()
    play(env, [5, 8])  # walk to the microwave, open it
    obs, *_ = env.step(0)  # to the living room
    assert obs[env.fields.index("is_microwave_open")] == 0 and obs[env.fields.index("see_microwave")] == 0
    obs, *_ = env.step(1)  # back: the open door is seen again
    assert obs[env.fields.index("is_microwave_open")] == 1


@pytest.mark.parametrize("kwargs, field", [({"obs_mode": "pixels"}, "obs_mode"), ({"render_mode": "human"}, "render_mode"),
                                           ({"obs_radius": 0}, "obs_radius"), ({"max_primitive_steps": -1}, "max_primitive_steps")])
def test_bad_arguments_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TomatoSaladEnv(**kwargs)


def test_bad_actions_and_task_ids():
    env = EntertainmentEnv()
    with pytest.raises(ResetNeeded):
        env.step(0)
    env.reset()
    with pytest.raises(ValueError, match="0..16"):
        env.step(17)
    with pytest.raises(TypeError, match="action"):
        env.step("grab the chips")
    with pytest.raises(ValueError, match="TWOSOME/Cooking-v0.*allowed"):
        check_task("TWOSOME/Cooking-v0")
