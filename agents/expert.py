"""The exploring expert: knows the goal, not where the objects it has not seen are.

It keeps what the robot has perceived — the receptacles whose contents it has seen (a closed fridge or
drawer shows nothing until opened), the objects seen there, what it holds — and plans on a belief
world that holds only those objects. When the planner finds a plan there, it takes its first skill;
when the goal cannot be reached with what it knows (or already holds in the belief while the episode
goes on: an unseen object still matters), it explores: the nearest receptacle whose contents it has
not seen, opening it once there if it is closed. The belief is updated from every state the episode
passes through, whoever acts, so the expert's action is defined for any state reached by any policy
given that episode's history (DAgger relabelling): call :meth:`ExploringExpert.observe` on each state.

This is the ceiling for a policy that cannot see through walls; the oracle, which reads the true
state, is the ceiling for one that can.
"""
from __future__ import annotations

import math
from typing import Any

import gymnasium as gym

from agents.core.agent import Agent
from gym_langrearrange.catalog import CATEGORIES, RECEPTACLES
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.planner import plan
from gym_langrearrange.skills import SKILL_CATALOG, STOP_ID
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState


class ExploringExpert:
    """The belief of one episode and the expert action it implies."""

    def __init__(self, goal: GoalExpr, hard: bool = False) -> None:
        self.goal, self.hard = goal, hard
        self.seen_objects: set[int] = set()  # object indices the robot has perceived
        self.searched: set[int] = set()  # receptacles whose contents it has seen

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
        """The nearest present receptacle whose contents the robot has not seen (where it stands first)."""
        scene = state.scene
        left = [RECEPTACLES.index(name) for name in scene.receptacles if RECEPTACLES.index(name) not in self.searched]
        if not left:
            return None
        if state.robot_at in left:
            return state.robot_at  # here and closed: open it
        x, y, _ = state.pose
        return min(left, key=lambda r: (math.dist((x, y), scene.placements[RECEPTACLES[r]].stand[:2]), r))


class ExpertAgent(Agent):
    """The exploring expert as an agent for ``agents.evaluate --agent expert``."""

    name = "expert"
    needs_rgb = False

    def bind(self, env: gym.Env) -> None:
        self.env = env.unwrapped

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        self.expert = ExploringExpert(self.env.episode.goal_expr, hard=self.env.hard)

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        self.expert.observe(self.env.state)
        return self.expert.action(self.env.state)
