"""From an EpisodeSpec to a live WorldState, and the planner checks every episode must pass."""
from __future__ import annotations

import dataclasses

from gym_langrearrange.catalog import CATEGORY_INDEX, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.datasets.episode import EpisodeError, EpisodeSpec
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.planner import MAX_PLAN_LENGTH, PlanningLimitError, plan, subgoals_from_plan
from gym_langrearrange.world.scene import get_scene
from gym_langrearrange.world.state import WorldState


def make_state(spec: EpisodeSpec) -> WorldState:
    scene = get_scene(spec.scene)
    opened = [False] * len(RECEPTACLES)
    for r in spec.open:
        opened[RECEPTACLE_INDEX[r]] = True
    return WorldState(scene, tuple(CATEGORY_INDEX[o.category] for o in spec.objects),
                      tuple(o.instance for o in spec.objects), [RECEPTACLE_INDEX[o.receptacle] for o in spec.objects],
                      opened, spec.robot_start)


def plan_episode(spec: EpisodeSpec) -> list[int] | None:
    """A shortest plan from the episode's start, or None if it needs more than 32 skills."""
    return plan(make_state(spec), GoalExpr.from_json(spec.goal), MAX_PLAN_LENGTH)


def solve_episode(spec: EpisodeSpec) -> tuple[EpisodeSpec, list[int]]:
    """Check the episode is solvable within 32 skills; fill in the planner's subgoals if absent.

    Returns the completed episode and its optimal plan.
    """
    state = make_state(spec)
    try:
        found = plan(state, GoalExpr.from_json(spec.goal), MAX_PLAN_LENGTH)
    except PlanningLimitError as e:
        raise EpisodeError(f"episode {spec.episode_id!r}: field 'goal' is too costly to plan: {e}") from None
    if found is None:
        raise EpisodeError(f"episode {spec.episode_id!r}: field 'goal' cannot be reached within {MAX_PLAN_LENGTH} "
                           f"skills from the given objects and scene ({state.describe()})")
    if not found:
        raise EpisodeError(f"episode {spec.episode_id!r}: field 'goal' already holds at the start; "
                           f"an episode must need at least one skill")
    if spec.extra.get("subgoals_given"):
        return spec, found
    return dataclasses.replace(spec, subgoals=tuple(subgoals_from_plan(state, found))), found
