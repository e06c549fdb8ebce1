"""An admissible bound on the skills a plan still needs, read from the goal's structure.

The goal is read as alternatives of "these objects must end there, that receptacle must be
open or closed, the gripper must be free" (``_Demand``); for a search node, the bound counts
the skills any plan must still take to meet the cheapest alternative: a pick and a place per
misplaced object, a navigation while carrying it, a navigation back between two carries to
the same place, an open for each closed receptacle an object must be taken from or put into,
a close for each that must end closed. It never exceeds the true distance, so the planner's
pruning by depth + bound never cuts a node of a shortest plan (see ``planner``). Parts of a
goal it cannot read count as zero: weaker, never wrong.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Sequence

from gym_langrearrange.catalog import (CATEGORY_GROUPS, CATEGORY_INDEX, FRIDGE, OPENABLE, PLACE_TARGETS,
                                       RECEPTACLE_INDEX, RECEPTACLES, category_set)
from gym_langrearrange.goals import GoalExpr, Predicate
from gym_langrearrange.world.state import HELD

_NUM_R = len(RECEPTACLES)
_FRIDGE = RECEPTACLE_INDEX[FRIDGE]
_OPENABLE_IDS = tuple(RECEPTACLE_INDEX[r] for r in OPENABLE)
_PLACE_IDS = frozenset(RECEPTACLE_INDEX[r] for r in PLACE_TARGETS)

_HELD_BIT = 1 << _NUM_R  # location bit of "in the gripper"; receptacle r is bit r
_ALL_REC = (1 << _NUM_R) - 1
_PLACE_BITS = sum(1 << r for r in _PLACE_IDS)
_FRIDGE_BIT = 1 << _FRIDGE
_OPENABLE_BITS = sum(1 << r for r in _OPENABLE_IDS)
_INF = 1 << 30
#: The bound costs at most this much per search node (one unit per alternative and per object
#: it checks); parts beyond are left out, which only makes it weaker, never wrong.
_BOUND_WORK = 96
_OBJECT_TYPES = frozenset(CATEGORY_INDEX) | frozenset(CATEGORY_GROUPS)
_MAX_BINDINGS = 4096  # a quantifier over more bindings than this is not analysed (bound 0)


class _Demand:
    """One conjunction of requirements: where objects must end, what must be open/closed, where the robot is."""

    __slots__ = ("allow", "hands_free", "opened", "closed", "robot", "robot_not")

    def __init__(self, allow: dict[int, int] | None = None, hands_free: bool = False, opened: int = 0,
                 closed: int = 0, robot: int | None = None, robot_not: int = 0) -> None:
        self.allow = allow or {}  # object -> bit mask of the locations it may end in
        self.hands_free, self.opened, self.closed = hands_free, opened, closed
        self.robot, self.robot_not = robot, robot_not

    def merge(self, other: "_Demand") -> "_Demand | None":
        """Both at once, or None if they contradict."""
        allow = dict(self.allow)
        for o, m in other.allow.items():
            m = allow.get(o, m) & m
            if not m:
                return None
            allow[o] = m
        opened, closed = self.opened | other.opened, self.closed | other.closed
        if opened & closed:
            return None
        if self.robot is not None and other.robot is not None and self.robot != other.robot:
            return None
        robot = self.robot if other.robot is None else other.robot
        robot_not = self.robot_not | other.robot_not
        if robot is not None and (robot_not >> robot) & 1:
            return None
        hands_free = self.hands_free or other.hands_free
        if hands_free:  # nothing may end in the gripper
            for o, m in allow.items():
                if not m & ~_HELD_BIT:
                    return None
                allow[o] = m & ~_HELD_BIT
        elif sum(1 for m in allow.values() if m == _HELD_BIT) > 1:
            return None  # two objects to hold at once
        return _Demand(allow, hands_free, opened, closed, robot, robot_not)

    def weaker_than(self, other: "_Demand") -> bool:
        """Whether every state meeting ``other`` meets this demand too."""
        return (all(o in other.allow and not other.allow[o] & ~m for o, m in self.allow.items())
                and (not self.hands_free or other.hands_free) and not self.opened & ~other.opened
                and not self.closed & ~other.closed and (self.robot is None or self.robot == other.robot)
                and not self.robot_not & ~other.robot_not)

    def is_empty(self) -> bool:
        return not (self.allow or self.hands_free or self.opened or self.closed or self.robot is not None
                    or self.robot_not)

    def single_object(self) -> int | None:
        """The object, if this demand only says where one object may end."""
        if len(self.allow) == 1 and not (self.hands_free or self.opened or self.closed or self.robot is not None
                                         or self.robot_not):
            return next(iter(self.allow))
        return None

    def work(self) -> int:
        return 1 + len(self.allow)


class _Fn:
    """A bound that is no longer a list of alternatives: node -> int, and what one call costs."""

    __slots__ = ("f", "work")

    def __init__(self, f: Callable[[tuple], int], work: int) -> None:
        self.f, self.work = f, work


_TRUE: list = [_Demand()]  # no requirement known (bound 0)


def _work(b: Any) -> int:
    return b.work if isinstance(b, _Fn) else sum(d.work() for d in b)


def _as_fn(b: Any) -> _Fn:
    if isinstance(b, _Fn):
        return b
    costs = [_demand_cost(d) for d in b]
    if not costs:
        return _Fn(lambda node: _INF, 0)  # no alternative can hold
    if len(costs) == 1:
        return _Fn(costs[0], _work(b))
    return _Fn(lambda node: min([c(node) for c in costs]), _work(b))


def _simplify(alts: list[_Demand]) -> list[_Demand]:
    """Drop alternatives that ask for more than another one does (the smallest bound is unchanged or lower)."""
    out: list[_Demand] = []
    for i, a in enumerate(alts):
        if not any(j != i and b.weaker_than(a) and (not a.weaker_than(b) or j < i) for j, b in enumerate(alts)):
            out.append(a)
    return out


def _conj(parts: list) -> Any:
    """AND of bounds: a list of _Demand alternatives (DNF) while it stays cheap, else a function."""
    lists = [p for p in parts if not isinstance(p, _Fn)]
    if any(not p for p in lists):
        return []  # one part can never hold
    base: _Demand | None = _Demand()  # what is certain: the single-alternative parts
    for p in lists:
        if len(p) == 1:
            base = base.merge(p[0])
            if base is None:
                return []
    multi = []
    for p in lists:
        if len(p) > 1:  # each alternative together with what is certain
            p = _simplify([m for d in p if (m := d.merge(base)) is not None])
            if not p:
                return []
            multi.append(p)
    alts: list[_Demand] | None = [base]
    for p in sorted(multi, key=len):
        if len(alts) * len(p) > _BOUND_WORK:
            alts = None
            break
        alts = _simplify([m for a in alts for b in p if (m := a.merge(b)) is not None])
        if not alts:
            return []
    fns = [p for p in parts if isinstance(p, _Fn)]
    if alts is not None and (len(alts) == 1 or _work(alts) <= _BOUND_WORK):
        if not fns:
            return alts
        first, others = alts, fns
    else:
        first, others = [base], [_as_fn(p) for p in multi] + fns
    # Too many alternatives: bound part by part (the largest of the parts' bounds), what is
    # certain first, then the cheapest parts while the work allows.
    kept = [_as_fn(first)]
    budget = _BOUND_WORK - kept[0].work
    for fn in sorted(others, key=lambda fn: fn.work):
        if fn.work <= budget:
            kept.append(fn)
            budget -= fn.work
    if len(kept) == 1:
        return kept[0]
    funcs = [fn.f for fn in kept]
    return _Fn(lambda node: max([f(node) for f in funcs]), _BOUND_WORK - budget)


def _disj(parts: list) -> Any:
    """OR of bounds: the smallest of them; nothing known if they are too costly to evaluate."""
    parts = [p for p in parts if isinstance(p, _Fn) or p]  # drop branches that can never hold
    if not any(isinstance(p, _Fn) for p in parts):
        alts: list[_Demand] = []
        single: dict[int, int] = {}  # "o ends in A1" or "o ends in A2" is "o ends in A1 | A2"
        for p in parts:
            for d in p:
                if d.is_empty():
                    return _TRUE  # one branch always holds
                o = d.single_object()
                if o is None:
                    alts.append(d)
                else:
                    single[o] = single.get(o, 0) | d.allow[o]
        alts += [_Demand({o: m}) for o, m in single.items()]
        if _work(alts) > 4 * _BOUND_WORK:
            return _TRUE  # too many to even simplify cheaply
        alts = _simplify(alts)
        return alts if _work(alts) <= _BOUND_WORK else _TRUE
    fns = [_as_fn(p) for p in parts]
    if sum(fn.work for fn in fns) > _BOUND_WORK:
        return _TRUE
    funcs = [fn.f for fn in fns]
    return _Fn(lambda node: min([f(node) for f in funcs]), sum(fn.work for fn in fns))


class GoalBound:
    """A lower bound on the skills still needed to reach a goal, for the reduced search nodes.

    The goal is read as alternatives of demands (negations pushed down to the predicates:
    NOT on_top(X, sofa) lets X end anywhere but the sofa); anything it cannot read is left
    out, which makes the bound weaker but never too large. Goals name categories and
    groups, never one object, so the bound is the same for states that only swap objects
    of one category.
    """

    def __init__(self, goal: GoalExpr, categories: Sequence[int]) -> None:
        self.categories = categories
        fn = _as_fn(self._node(goal, True, {}))
        self.evaluate = fn.f

    def _objects(self, type_name: str) -> tuple[int, ...]:
        wanted = {CATEGORY_INDEX[c] for c in category_set(type_name)}
        return tuple(o for o, c in enumerate(self.categories) if c in wanted)

    def _node(self, node: Any, positive: bool, binding: dict[str, int]) -> Any:
        if isinstance(node, Predicate):
            return self._predicate(node, positive, binding)
        if not node.quantifier:
            return self._body(node, positive, binding)
        names = [n for n, _ in node.inputs]
        domains = [self._objects(t) for _, t in node.inputs]
        if math.prod(len(d) for d in domains) > _MAX_BINDINGS:
            return _TRUE
        parts = [self._body(node, positive, {**binding, **dict(zip(names, combo))})
                 for combo in itertools.product(*domains)]
        every = (node.quantifier == "FORALL") == positive  # FORALL, or NOT EXISTS: every binding
        return _conj(parts) if every else _disj(parts)

    def _body(self, node: GoalExpr, positive: bool, binding: dict[str, int]) -> Any:
        if node.op == "NOT":
            return self._node(node.sub_exprs[0], not positive, binding)
        if node.op == "NAND":  # NOT (a AND b)
            positive = not positive
        parts = [self._node(s, positive, binding) for s in node.sub_exprs]
        return _conj(parts) if (node.op == "OR") != positive else _disj(parts)

    def _predicate(self, p: Predicate, positive: bool, binding: dict[str, int]) -> Any:
        name = p.name
        if name == "not_holding":  # negated: some object is held
            return [_Demand(hands_free=True)] if positive else _disj(
                [[_Demand({o: _HELD_BIT})] for o in range(len(self.categories))])
        if name in ("opened", "closed", "robot_at"):
            r = RECEPTACLE_INDEX[p.args[0]]
            if name == "robot_at":
                return [_Demand(robot=r)] if positive else [_Demand(robot_not=1 << r)]
            want_open = (name == "opened") == positive
            return [_Demand(opened=1 << r)] if want_open else [_Demand(closed=1 << r)]
        arg = p.args[0]
        objs = self._objects(arg) if arg in _OBJECT_TYPES else (binding[arg],)  # a type wins, as in goals.py
        mask = _HELD_BIT if name == "holding" else 1 << RECEPTACLE_INDEX[p.args[1]]
        if positive:  # the bound object, or some object of the type, is there
            return _disj([[_Demand({o: mask})] for o in objs])
        everywhere_else = (_ALL_REC | _HELD_BIT) & ~mask
        return [_Demand({o: everywhere_else for o in objs})]


def _demand_cost(d: _Demand) -> Callable[[tuple], int]:
    """Lower bound on the skills that make demand ``d`` true from a search node (0 if it holds).

    Each misplaced object needs a pick and a place, and a navigation while it is carried
    (it is picked outside its allowed set and placed inside it; two carries never overlap,
    the gripper holds one object). If all misplaced objects share one allowed set, the
    robot must also walk back out of it between two carries, and before the first one if
    it starts inside it. A closed fridge or drawer an object is taken from must be opened.
    """
    items = tuple((o, m, m & _PLACE_BITS, bool(m & _HELD_BIT)) for o, m in sorted(d.allow.items()))
    uniform = items[0][1] if items and all(m == items[0][1] for _, m, _, _ in items) else 0
    hands_free, want_open, want_closed = d.hands_free, d.opened, d.closed
    robot, robot_not = d.robot, d.robot_not

    def cost(node: tuple) -> int:
        robot_at, held, opened, loc = node
        picks = places = navs = full = opens = 0
        held_carry = end_held = can_end_held = False
        for o, m, pm, ceh in items:
            cur = loc[o]
            if cur == HELD:
                if ceh:
                    continue
                if not pm:
                    return _INF
                held_carry = True  # carried now: a place, and a navigation unless already there
                places += 1
                if robot_at < 0 or not (pm >> robot_at) & 1:
                    navs += 1
                if pm == _FRIDGE_BIT and not opened[_FRIDGE]:
                    opens |= _FRIDGE_BIT
            elif not (m >> cur) & 1:
                picks += 1
                if (_OPENABLE_BITS >> cur) & 1 and not opened[cur]:
                    opens |= 1 << cur
                if pm:
                    full += 1
                    if ceh:
                        can_end_held = True
                    elif pm == _FRIDGE_BIT and not opened[_FRIDGE]:
                        opens |= _FRIDGE_BIT
                elif ceh:
                    if end_held or hands_free:
                        return _INF  # two objects to hold at the end, or one to hold with free hands
                    end_held = True
                else:
                    return _INF  # it must end where nothing can be placed (in a drawer)
        carries = full
        if can_end_held and not end_held and not hands_free:
            carries -= 1  # one of them may stay in the gripper at the end
        places += carries
        navs += carries
        if held >= 0 and not held_carry and (picks or hands_free):
            places += 1  # what the robot holds must be put down first
        if held_carry:
            carries += 1
        elif picks and (robot_at < 0 or robot_at not in loc or (uniform >> robot_at) & 1):
            navs += 1  # to the first object to pick
        if uniform and carries > 1:
            navs += carries - 1  # back out of the shared destination between two carries
        if not navs and (robot_at < 0 or (robot is not None and robot_at != robot)
                         or (robot_not >> robot_at) & 1):
            navs = 1
        if want_open:
            for r in _OPENABLE_IDS:
                if (want_open >> r) & 1 and not opened[r]:
                    opens |= 1 << r
        closes = 0
        if want_closed:
            for r in _OPENABLE_IDS:
                if (want_closed >> r) & 1 and (opened[r] or (opens >> r) & 1):
                    closes += 1
        return picks + places + navs + opens.bit_count() + closes

    return cost


__all__ = ["GoalBound"]
