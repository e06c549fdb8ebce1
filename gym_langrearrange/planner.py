"""Shortest skill plans for a fully known state (spec §8), subgoals, and the privileged oracle.

Breadth-first search over a reduced state: only objects whose category the goal mentions
can move (moving anything else never helps), and the robot only navigates to receptacles
that matter (where such objects are, those the goal names, and one spare surface to put
things aside). Every skill costs one step, so the first plan found is a shortest one.

Three things keep the search small without changing which plan it returns (the datasets
are generated with this planner, so its answers are part of the benchmark):

* Symmetry. Goals speak of categories and groups, never of one particular object (nor of
  instances), so two objects of one goal category are interchangeable: states that differ
  only by swapping them are one search node. The first state reached is kept and expanded,
  which is what a search over all states does first; its copies would find nothing new.
* Pruning with an admissible bound. ``plan_bound.GoalBound`` reads the goal as "these
  objects must end here, that receptacle must be open, ..." and counts skills any plan
  needs: a pick and a place per misplaced object, a navigation while carrying it, a
  navigation back between two carries to the same place, an open per closed receptacle
  it must be taken from.
  A node whose depth plus bound exceeds the limit cannot lie on a plan within it.
* Deepening. The search runs with a limit of ``bound(start)`` first and raises it to the
  smallest depth-plus-bound it cut off (straight to ``max_length`` once a round grows
  large, i.e. the bound is weak), until a plan is found or the limit passes ``max_length``.

Why the plan is the same as a plain breadth-first search's: a node on a shortest plan has
depth + true distance = d* <= limit and the bound never exceeds the true distance, so it
is never cut; all its possible parents at the previous depth lie on shortest plans too, so
they are reached, in the same order, as without cutting, and so are the parent links the
plan is read from. The pick order below is kept exactly as well (see ``rmovable``).

``max_nodes`` bounds the work: a search that would store more states raises
:class:`PlanningLimitError` instead of running for minutes and eating memory.
"""
from __future__ import annotations

import operator
from collections import deque
from typing import Any, Callable

from gym_langrearrange.catalog import (CATEGORIES, CATEGORY_INDEX, FRIDGE, OPENABLE, PLACE_TARGETS, RECEPTACLE_INDEX,
                                       RECEPTACLES)
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.plan_bound import GoalBound
from gym_langrearrange.skills import SKILLS, SkillKind, SKILL_CATALOG
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState

MAX_PLAN_LENGTH = 32
#: Default search budget: states stored (summed over the deepening rounds) before
#: :class:`PlanningLimitError`. The hardest episode of the 11 datasets stores 1,150 and the
#: oracle's replans from random mid-episode states about 4,000; reaching the budget takes
#: 1-2.5 s and under 150 MB with 64 movable objects on the 2-core machine. Read at call time,
#: so assigning to it also raises the budget for episode files loaded by ``gym.make``.
DEFAULT_MAX_NODES = 50_000
_DEEPENING_STATES = 5_000  # after a round storing this many states, the next round uses the full limit
_NUM_R = len(RECEPTACLES)
_FRIDGE = RECEPTACLE_INDEX[FRIDGE]
_OPENABLE_IDS = tuple(RECEPTACLE_INDEX[r] for r in OPENABLE)
_PLACE_IDS = frozenset(RECEPTACLE_INDEX[r] for r in PLACE_TARGETS)
_NAV = {r: r for r in range(_NUM_R)}  # navigate(R) has id R
_PICK = {c: _NUM_R + c for c in range(len(CATEGORIES))}
_PLACE = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.PLACE}
_OPEN = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.OPEN}
_CLOSE = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.CLOSE}
assert all(_NAV[r] == r and _PICK[0] == _NUM_R for r in range(_NUM_R))


class PlanningLimitError(ValueError):
    """The search reached its budget (``max_nodes`` states) before finding a plan or proving there is none.

    Attributes: ``budget`` (the max_nodes in force), ``nodes`` (states stored when it
    stopped), ``movable`` (how many objects the goal lets move) and ``max_length``.
    """

    def __init__(self, budget: int, nodes: int, movable: int, max_length: int) -> None:
        self.budget, self.nodes, self.movable, self.max_length = budget, nodes, movable, max_length
        super().__init__(
            f"planning stopped after {nodes:,} search states, over the budget of max_nodes={budget:,}, without "
            f"finding a plan of at most {max_length} skills or proving there is none; the goal lets {movable} "
            f"objects move. Make the goal involve fewer objects (fewer objects of the categories or groups it "
            f"names, or a narrower category than a group), or raise the budget: max_nodes= of plan(), or "
            f"gym_langrearrange.planner.DEFAULT_MAX_NODES for every plan (episode files included)")


class _View:
    """The attributes a compiled goal reads, pointed at one search node at a time."""

    __slots__ = ("loc", "held", "opened", "robot_at")


def plan(state: WorldState, goal: GoalExpr | Callable[[Any], bool], max_length: int = MAX_PLAN_LENGTH,
         goal_categories: frozenset[str] | None = None, goal_receptacles: frozenset[str] | None = None,
         max_nodes: int | None = None) -> list[int] | None:
    """A shortest list of skill ids reaching ``goal`` from ``state``, or None if none within ``max_length``.

    ``goal`` is a GoalExpr or an already compiled predicate (then pass the categories and
    receptacles it mentions; such a predicate is searched without the symmetry and the
    bound, which need the goal's structure). Raises :class:`PlanningLimitError` if the
    search would store more than ``max_nodes`` states (default: DEFAULT_MAX_NODES, read at call time).
    """
    if max_nodes is None:
        max_nodes = DEFAULT_MAX_NODES
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    structured = isinstance(goal, GoalExpr)
    if structured:
        goal_categories, goal_receptacles = goal.object_categories(), goal.receptacles()
    else:
        goal_categories = goal_categories or frozenset()
        goal_receptacles = goal_receptacles or frozenset()
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
    targets = tuple(sorted(interesting))

    if structured:
        # Only objects of the movable objects' categories can ever change place (a pick takes the
        # lowest-numbered object of its category), so the search state keeps just those, in order.
        active_cats = {cats[o] for o in movable}
        objs = tuple(o for o in range(n) if cats[o] in active_cats)
        holds = goal.compile(tuple(cats[o] for o in objs))
    else:
        objs = tuple(range(n))  # a compiled predicate reads the full state
        holds = goal
    index = {o: i for i, o in enumerate(objs)}
    rcats = tuple(cats[o] for o in objs)
    # The order in which pick skills are tried decides which of several shortest plans is returned,
    # and the datasets were generated trying them in the iteration order of frozenset(movable):
    # keep exactly that order (not the object order), or episodes' plans and subgoals would change.
    rmovable = tuple(index[o] for o in frozenset(movable))
    by_cat: dict[int, tuple[int, ...]] = {}
    for i, c in enumerate(rcats):
        by_cat[c] = by_cat.get(c, ()) + (i,)
    start = (state.robot_at, index[state.held] if state.held >= 0 else -1, tuple(state.opened),
             tuple(state.loc[o] for o in objs))

    view = _View()

    def goal_holds(node: tuple) -> bool:
        view.robot_at, view.held, view.opened, view.loc = node
        return holds(view)

    if goal_holds(start):
        return []
    if structured:
        goal_cat_ids = {CATEGORY_INDEX[c] for c in goal_categories}
        groups = tuple(g for c, g in by_cat.items() if len(g) > 1 and c in goal_cat_ids)
        key = _canonical_key(groups, len(objs)) if groups else None
        bound = GoalBound(goal, rcats).evaluate
    else:
        key, bound = None, None
    return _deepening_search(start, goal_holds, key, bound, targets, rmovable, rcats, by_cat, max_length, max_nodes)


def _canonical_key(groups: tuple[tuple[int, ...], ...], n: int) -> Callable[[tuple], tuple]:
    """Search key that forgets which object of an interchangeable group is where (only the multiset counts)."""
    grouped = [i for g in groups for i in g]
    offsets = [100 * k for k, g in enumerate(groups) for _ in g]  # group k's object at l -> 100k + l
    others = [i for i in range(n) if i not in set(grouped)]
    take_grouped = operator.itemgetter(*grouped)  # at least two objects
    take_others = operator.itemgetter(*others) if len(others) > 1 else (
        (lambda loc: (loc[others[0]],)) if others else (lambda loc: ()))

    def key(node: tuple) -> tuple:
        loc = node[3]
        # who is held needs no field: it is where HELD sits in loc
        return node[0], node[2], tuple(sorted(map(operator.add, offsets, take_grouped(loc)))), take_others(loc)

    return key


_DEAD = ("cut",)  # parent entry of a node the bound cut off (kept so it is not bounded twice)


def _deepening_search(start: tuple, goal_holds: Callable[[tuple], bool], key: Callable[[tuple], tuple] | None,
                      bound: Callable[[tuple], int] | None, targets: tuple[int, ...], movable: tuple[int, ...],
                      cats: tuple[int, ...], by_cat: dict[int, tuple[int, ...]], max_length: int,
                      max_nodes: int) -> list[int] | None:
    limit = max_length if bound is None else max(1, bound(start))
    used = 0  # states stored by earlier rounds
    while limit <= max_length:
        found, next_limit, stored = _bfs(start, goal_holds, key, bound, limit, targets, movable, cats, by_cat,
                                         max_nodes - used, max_nodes, len(movable), max_length)
        if found is not None:
            return found
        used += stored
        if next_limit is None:  # nothing was cut: the whole space within the limit has no goal
            return None
        # A round this large means the bound is weak here: repeating such rounds costs more than
        # one search with the full limit (which returns the same plan).
        limit = next_limit if stored < _DEEPENING_STATES else max(next_limit, max_length)
    return None


def _bfs(start: tuple, goal_holds: Callable[[tuple], bool], key: Callable[[tuple], tuple] | None,
         bound: Callable[[tuple], int] | None, limit: int, targets: tuple[int, ...], movable: tuple[int, ...],
         cats: tuple[int, ...], by_cat: dict[int, tuple[int, ...]], room: int, max_nodes: int, n_movable: int,
         max_length: int) -> tuple[list[int] | None, int | None, int]:
    """One breadth-first round cutting nodes whose depth + bound exceeds ``limit``.

    Returns (plan or None, the smallest cut depth + bound or None, states stored).
    """
    start_key = key(start) if key else start
    parent: dict[tuple, Any] = {start_key: None}
    frontier = deque([(start, start_key, 0)])
    next_limit: int | None = None
    while frontier:
        node, node_key, depth = frontier.popleft()
        if depth >= limit:
            continue
        child_depth = depth + 1
        for action, child in _successors(node, targets, movable, cats, by_cat):
            child_key = key(child) if key else child
            if child_key in parent:
                continue
            h = bound(child) if bound is not None else 0
            if h == 0 and goal_holds(child):  # the bound is 0 wherever the goal holds
                parent[child_key] = (node_key, action)
                out = []
                cur = child_key
                while parent[cur] is not None:
                    prev, act = parent[cur]
                    out.append(act)
                    cur = prev
                return out[::-1], None, len(parent)
            if len(parent) >= room:
                raise PlanningLimitError(max_nodes, max_nodes - room + len(parent) + 1, n_movable, max_length)
            if bound is not None:
                f = child_depth + max(1, h)  # not the goal: at least one more skill
                if f > limit:
                    parent[child_key] = _DEAD
                    if f <= max_length and (next_limit is None or f < next_limit):
                        next_limit = f
                    continue
            parent[child_key] = (node_key, action)
            frontier.append((child, child_key, child_depth))
    return None, next_limit, len(parent)


def _successors(node: tuple, targets: tuple[int, ...], movable: tuple[int, ...], cats: tuple[int, ...],
                by_cat: dict[int, tuple[int, ...]]):
    """(skill id, next node) in a fixed order; the order decides which of several shortest plans is returned."""
    robot_at, held, opened, loc = node
    for t in targets:
        if t != robot_at:
            yield t, (t, held, opened, loc)  # navigate(t) has id t
    if robot_at == NOWHERE:
        return
    r = robot_at
    is_open = opened[r]
    if held < 0:
        if is_open or r not in _OPEN:
            seen: set[int] = set()
            for o in movable:
                if loc[o] == r:
                    c = cats[o]
                    if c in seen:
                        continue
                    seen.add(c)
                    first = next(p for p in by_cat[c] if loc[p] == r)  # pick takes the lowest-numbered one
                    new_loc = list(loc)
                    new_loc[first] = HELD
                    yield _NUM_R + c, (r, first, opened, tuple(new_loc))
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
    A replan that exceeds the search budget raises :class:`PlanningLimitError`.
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
