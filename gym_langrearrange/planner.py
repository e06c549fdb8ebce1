"""Shortest skill plans for a fully known state (spec §8), subgoals, and the privileged oracle.

Breadth-first search over a reduced state: only objects whose category the goal mentions
can move (moving anything else never helps), and the robot only navigates to receptacles
that matter (where such objects are, those the goal names, and one spare surface to put
things aside). Every skill costs one step, so the first plan found is a shortest one.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable

from gym_langrearrange.catalog import CATEGORIES, FRIDGE, OPENABLE, PLACE_TARGETS, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.skills import SKILLS, SkillKind, SKILL_CATALOG
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState

MAX_PLAN_LENGTH = 32
_NUM_R = len(RECEPTACLES)
_FRIDGE = RECEPTACLE_INDEX[FRIDGE]
_OPENABLE_IDS = tuple(RECEPTACLE_INDEX[r] for r in OPENABLE)
_PLACE_IDS = frozenset(RECEPTACLE_INDEX[r] for r in PLACE_TARGETS)
_NAV = {r: r for r in range(_NUM_R)}  # navigate(R) has id R
_PICK = {c: _NUM_R + c for c in range(len(CATEGORIES))}
_PLACE = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.PLACE}
_OPEN = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.OPEN}
_CLOSE = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.CLOSE}


class _View:
    """The attributes a compiled goal reads, pointed at one search node at a time."""

    __slots__ = ("loc", "held", "opened", "robot_at")


def plan(state: WorldState, goal: GoalExpr | Callable[[Any], bool], max_length: int = MAX_PLAN_LENGTH,
         goal_categories: frozenset[str] | None = None, goal_receptacles: frozenset[str] | None = None
         ) -> list[int] | None:
    """A shortest list of skill ids reaching ``goal`` from ``state``, or None if none within ``max_length``.

    ``goal`` is a GoalExpr or an already compiled predicate (then pass the categories and
    receptacles it mentions).
    """
    if isinstance(goal, GoalExpr):
        goal_categories, goal_receptacles = goal.object_categories(), goal.receptacles()
        holds = goal.compile(state.category)
    else:
        holds = goal
        goal_categories = goal_categories or frozenset()
        goal_receptacles = goal_receptacles or frozenset()
    view = _View()
    n = state.num_objects
    cats = state.category
    movable = tuple(o for o in range(n) if CATEGORIES[cats[o]] in goal_categories)
    if state.held >= 0 and state.held not in movable:
        movable += (state.held,)
    present = state.scene.present_mask
    named = {RECEPTACLE_INDEX[r] for r in goal_receptacles if present[RECEPTACLE_INDEX[r]]}
    where = {state.loc[o] for o in movable if state.loc[o] != HELD}
    interesting = named | where
    spare = next((r for r in sorted(_PLACE_IDS) if present[r] and r != _FRIDGE and r not in interesting), None)
    if spare is not None:
        interesting.add(spare)
    if state.robot_at != NOWHERE:
        interesting.add(state.robot_at)
    targets = sorted(interesting)
    movable_set = frozenset(movable)

    start = (state.robot_at, state.held, tuple(state.opened), tuple(state.loc))

    def goal_holds(node: tuple) -> bool:
        view.robot_at, view.held, view.opened, view.loc = node
        return holds(view)

    if goal_holds(start):
        return []
    parent: dict[tuple, tuple[tuple, int] | None] = {start: None}
    frontier = deque([(start, 0)])
    while frontier:
        node, depth = frontier.popleft()
        if depth >= max_length:
            continue
        for action, child in _successors(node, targets, movable_set, cats):
            if child in parent:
                continue
            parent[child] = (node, action)
            if goal_holds(child):
                out = []
                cur: tuple = child
                while parent[cur] is not None:
                    prev, act = parent[cur]  # type: ignore[misc]
                    out.append(act)
                    cur = prev
                return out[::-1]
            frontier.append((child, depth + 1))
    return None


def _successors(node: tuple, targets: list[int], movable: frozenset[int], cats: tuple[int, ...]):
    robot_at, held, opened, loc = node
    for t in targets:
        if t != robot_at:
            yield _NAV[t], (t, held, opened, loc)
    if robot_at == NOWHERE:
        return
    r = robot_at
    is_open = opened[r]
    if held < 0:
        if is_open or r not in _OPEN:
            seen: set[int] = set()
            for o in movable:
                if loc[o] == r and cats[o] not in seen:
                    seen.add(cats[o])
                    first = next(p for p, where in enumerate(loc) if where == r and cats[p] == cats[o])
                    new_loc = list(loc)
                    new_loc[first] = HELD
                    yield _PICK[cats[o]], (r, first, opened, tuple(new_loc))
    elif r in _PLACE_IDS and (r != _FRIDGE or is_open):
        new_loc = list(loc)
        new_loc[held] = r
        yield _PLACE[r], (r, -1, opened, tuple(new_loc))
    if r in _OPEN:
        flipped = list(opened)
        flipped[r] = not is_open
        yield (_CLOSE[r] if is_open else _OPEN[r]), (r, held, tuple(flipped), loc)


def subgoals_from_plan(state: WorldState, plan_ids: list[int], goal: GoalExpr | None = None) -> list[str]:
    """Intermediate predicates along an optimal plan, rewarded once each (spec §4).

    Navigating to where an object waits is exploration, not a subgoal, and the last step
    is the goal itself; every other step's post-condition is one subgoal. With ``goal``,
    also checks that the plan reaches it (ValueError otherwise).
    """
    sim = state.copy()
    out: list[str] = []
    for i, a in enumerate(plan_ids):
        skill = SKILLS[a]
        nxt = SKILLS[plan_ids[i + 1]] if i + 1 < len(plan_ids) else None
        held_cat = CATEGORIES[sim.category[sim.held]] if sim.held >= 0 else None
        valid, _ = SKILL_CATALOG.execute(sim, a)
        if not valid:
            raise ValueError(f"plan step {i} ({skill.text}) is invalid")
        if i == len(plan_ids) - 1:
            break
        if skill.kind == SkillKind.NAVIGATE:
            if nxt is not None and nxt.kind in (SkillKind.PICK, SkillKind.OPEN):
                continue
            pred = f"robot_at({skill.target})"
        elif skill.kind == SkillKind.PICK:
            pred = f"holding({skill.target})"
        elif skill.kind == SkillKind.PLACE:
            pred = f"{'in' if skill.target == FRIDGE else 'on_top'}({held_cat}, {skill.target})"
        elif skill.kind == SkillKind.OPEN:
            pred = f"opened({skill.target})"
        elif skill.kind == SkillKind.CLOSE:
            pred = f"closed({skill.target})"
        else:
            continue
        if pred not in out:
            out.append(pred)
    if goal is not None and not goal.evaluate(sim):
        raise ValueError(f"plan {[SKILLS[a].text for a in plan_ids]} does not reach the goal")
    return out


class Oracle:
    """The privileged upper bound: reads the true state and follows a shortest plan to the goal.

    The plan is computed once per episode (and again only if the episode moved off it,
    e.g. when someone else stepped the env); in the Hard variant it ends with ``stop``.
    """

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped
        self._key: tuple | None = None
        self._queue: list[int] = []

    def act(self) -> int:
        env = self.env
        if env.state is None:
            raise RuntimeError("Oracle.act() needs an environment that has been reset")
        key = (env.episode.episode_id, id(env.state), env._t)
        if key != self._key:  # a new episode, or the episode diverged from our plan
            found = plan(env.state, env.episode.goal_expr) if env._t else list(env.plan)
            self._queue = (found or []) + ([SKILLS[-1].id] if env.hard else [])
        action = self._queue.pop(0) if self._queue else SKILLS[-1].id
        self._key = (env.episode.episode_id, id(env.state), env._t + 1)
        return action
