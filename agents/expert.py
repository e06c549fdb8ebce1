"""The exploring expert: knows the goal, not where the objects it has not seen are.

It keeps what the robot has perceived — the receptacles whose contents it has seen (a closed fridge or
drawer shows nothing until opened), the objects seen there, what it holds — and plans on a belief
world that holds only those objects. When the planner finds a plan there, it takes its first skill;
when the goal cannot be reached with what it knows (or already holds in the belief while the episode
goes on: an unseen object still matters), it explores the receptacles whose contents it has not seen,
opening each once there if it is closed, in one of two orders (``search``):

- ``"nearest"``: the nearest one from where the robot stands (the default; the ``expert`` agent);
- ``"instruction"``: first the receptacles the instruction names that the goal does not put objects on or
  in ("from the right counter", "away from the chair"), in the order they are named; then the others in the
  catalog's order (surfaces before containers). It reads only the instruction and what it has seen, so a
  policy that reads the instruction and remembers its episode can tell the next skill; the nearest
  receptacle depends on the robot's exact pose in a scene it may never have seen (the ``expert-instruction``
  agent; every navigate is one skill whatever its length, so neither order is shorter on average).

The belief is updated from every state the episode passes through, whoever acts, so the expert's action
is defined for any state reached by any policy given that episode's history (DAgger relabelling): call
:meth:`ExploringExpert.observe` on each state.

This is the ceiling for a policy that cannot see through walls; the oracle, which reads the true
state, is the ceiling for one that can.
"""
from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from agents.core.agent import Agent
from gym_langrearrange.catalog import CATEGORIES, RECEPTACLES
from gym_langrearrange.datasets.episode import EpisodeSpec
from gym_langrearrange.goals import PREDICATES, GoalExpr, Predicate
from gym_langrearrange.planner import plan
from gym_langrearrange.skills import SKILL_CATALOG, STOP_ID
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState


#: the orders in which the expert searches receptacles it has not seen (see the module's docstring)
SEARCH_ORDERS = ("nearest", "instruction")


def check_search(search: Any) -> str:
    if not isinstance(search, str) or search not in SEARCH_ORDERS:
        raise ValueError(f"search must be one of {', '.join(SEARCH_ORDERS)}, got {search!r}")
    return search


def placed_receptacles(node: GoalExpr | Predicate, negated: bool = False) -> set[str]:
    """The receptacles a goal puts objects on or in (its predicates on receptacles that are not negated)."""
    if isinstance(node, Predicate):
        return set() if negated else {a for kind, a in zip(PREDICATES[node.name], node.args) if kind == "rec"}
    inner = negated != (node.op == "NOT")
    return set().union(*(placed_receptacles(s, inner) for s in node.sub_exprs))


def named_sources(instruction: str, goal: GoalExpr) -> tuple[int, ...]:
    """The receptacles ``instruction`` names, in the order named, less those the goal puts objects on or in."""
    text, placed = instruction.lower(), placed_receptacles(goal)
    named = {name: text.find(name.lower()) for name in RECEPTACLES if name not in placed}
    return tuple(RECEPTACLES.index(n) for n, at in sorted(named.items(), key=lambda item: item[1]) if at >= 0)


class ExploringExpert:
    """The belief of one episode and the expert action it implies."""

    def __init__(self, goal: GoalExpr, hard: bool = False, search: str = "nearest", instruction: str = "") -> None:
        self.goal, self.hard, self.search = goal, hard, check_search(search)
        #: receptacles searched first, in this order ("instruction" search only)
        self.first = named_sources(instruction, goal) if search == "instruction" else ()
        self.seen_objects: set[int] = set()  # object indices the robot has perceived
        self.searched: set[int] = set()  # receptacles whose contents it has seen

    @classmethod
    def for_episode(cls, episode: EpisodeSpec, hard: bool = False, search: str = "nearest") -> "ExploringExpert":
        return cls(episode.goal_expr, hard, search, episode.instruction)

    def observe(self, state: WorldState) -> None:
        """Take in what the robot perceives in ``state``: the contents of where it stands (if visible), its gripper."""
        r = state.robot_at
        if r != NOWHERE and state.visible(r):
            self.searched.add(r)
            self.seen_objects.update(state.objects_at(r))
        if state.held >= 0:
            self.seen_objects.add(state.held)

    def belief(self, state: WorldState) -> WorldState:
        """``state`` with only the perceived objects (where it last saw them: only the robot moves objects)."""
        objs = sorted(self.seen_objects)
        index = {o: i for i, o in enumerate(objs)}
        world = WorldState(state.scene, tuple(state.category[o] for o in objs), tuple(state.instance[o] for o in objs),
                           [state.loc[o] for o in objs], list(state.opened), state.pose)
        world.held = index[state.held] if state.held >= 0 else HELD
        world.robot_at, world.start_pose = state.robot_at, state.start_pose
        return world

    def action(self, state: WorldState) -> int:
        """The expert's skill in ``state`` (call :meth:`observe` on it first)."""
        found = plan(self.belief(state), self.goal)
        if found:
            return found[0]
        if found == [] and self.hard and self._every_goal_category_seen(state):
            return STOP_ID  # the Hard variant is judged at stop (a goal that holds for want of an object does not count)
        target = self._next_to_search(state)
        if target is None:  # nothing left to search: the goal holds as far as the robot can know, or never will
            return STOP_ID
        if target == state.robot_at:
            return SKILL_CATALOG.id(f"open({RECEPTACLES[target]})")
        return SKILL_CATALOG.id(f"navigate({RECEPTACLES[target]})")

    def _every_goal_category_seen(self, state: WorldState) -> bool:
        """Whether an object of each category the goal names has been seen ("remove the peach from the counter"
        holds in a belief without peaches, but the robot does not know that yet)."""
        seen = {CATEGORIES[state.category[o]] for o in self.seen_objects}
        return self.goal.object_categories() <= seen

    def _next_to_search(self, state: WorldState) -> int | None:
        """The next present receptacle whose contents the robot has not seen (where it stands first)."""
        scene = state.scene
        left = [RECEPTACLES.index(name) for name in scene.receptacles if RECEPTACLES.index(name) not in self.searched]
        if not left:
            return None
        if state.robot_at in left:
            return state.robot_at  # here and closed: open it
        if self.search == "instruction":
            return next((r for r in self.first if r in left), min(left))
        x, y, _ = state.pose
        return min(left, key=lambda r: (math.dist((x, y), scene.placements[RECEPTACLES[r]].stand[:2]), r))


class ExpertAgent(Agent):
    """The exploring expert as an agent for ``agents.evaluate --agent expert`` (or ``expert-instruction``)."""

    needs_rgb = False

    def __init__(self, search: str = "nearest", **_: Any) -> None:
        self.search = check_search(search)
        self.name = "expert" if search == "nearest" else f"expert-{search}"

    def bind(self, env: gym.Env) -> None:
        self.env = env.unwrapped

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        self.expert = ExploringExpert.for_episode(self.env.episode, self.env.hard, self.search)

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        self.expert.observe(self.env.state)
        return self.expert.action(self.env.state)
