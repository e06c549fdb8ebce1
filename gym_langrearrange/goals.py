"""Goal expressions (spec §6): parse the JSON trees, check them, and compile them into fast predicates.

A goal node is ``{"expr_type": AND|OR|NAND|NOT, "quantifier": EXISTS|FORALL (optional),
"inputs": [{"name": "X", "expr_type": <category or group>}], "sub_exprs": [...]}``; a leaf is
a predicate string such as ``"on_top(X, black table)"``. ``GoalExpr.compile(categories)``
binds the tree to one episode's objects and returns ``f(state) -> bool``; the environment
evaluates it after every state change, so the compiled form is plain closures.
"""
from __future__ import annotations

import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

from gym_langrearrange.catalog import (CATEGORIES, CATEGORY_GROUPS, CATEGORY_INFO, OPENABLE, PLACE_TARGETS,
                                       RECEPTACLE_INDEX, RECEPTACLES, category_set)

Binding = dict[str, int]  # quantified variable -> object index
Check = Callable[[Any], bool]  # state -> bool

OPS = ("AND", "OR", "NAND", "NOT")
QUANTIFIERS = ("EXISTS", "FORALL")
#: canonical predicate -> argument kinds ('obj' = variable or object type, 'rec' = receptacle)
PREDICATES: dict[str, tuple[str, ...]] = {
    "on_top": ("obj", "rec"), "in": ("obj", "rec"), "holding": ("obj",), "not_holding": (),
    "opened": ("rec",), "closed": ("rec",), "robot_at": ("rec",),
}
#: names accepted for compatibility with the original release
ALIASES = {"opened_fridge": "opened", "closed_fridge": "closed", "opened_cab": "opened", "closed_cab": "closed",
           "inside": "in", "at": "robot_at"}
_PRED_RE = re.compile(r"^\s*([A-Za-z_]+)\s*\((.*)\)\s*$")
_RECEPTACLE_BY_LOWER = {r.lower(): r for r in RECEPTACLES}
_OBJECT_TYPES = set(CATEGORY_INFO) | set(CATEGORY_GROUPS)


class GoalError(ValueError):
    """A malformed goal; the message names where (``goal.sub_exprs[1]``) and what is allowed."""


@dataclass(frozen=True)
class Predicate:
    name: str  # canonical name
    args: tuple[str, ...]  # object variables/types as written, receptacles canonicalised

    def __str__(self) -> str:
        return f"{self.name}({', '.join(self.args)})"


@dataclass(frozen=True)
class GoalExpr:
    op: str
    sub_exprs: tuple[Union["GoalExpr", Predicate], ...]
    quantifier: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()  # (variable, object type)

    # --- parsing -----------------------------------------------------------------------

    @classmethod
    def from_json(cls, data: Any, where: str = "goal") -> "GoalExpr":
        expr = _parse_node(data, where, frozenset())
        if isinstance(expr, Predicate):  # a bare predicate string is a one-element AND
            expr = GoalExpr("AND", (expr,))
        return expr

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"expr_type": self.op}
        if self.quantifier:
            out["quantifier"] = self.quantifier
            out["inputs"] = [{"name": n, "expr_type": t} for n, t in self.inputs]
        out["sub_exprs"] = [s.to_json() if isinstance(s, GoalExpr) else str(s) for s in self.sub_exprs]
        return out

    def __str__(self) -> str:
        if self.op == "NOT":
            inner = f"NOT {_paren(self.sub_exprs[0])}"
        else:
            joined = f" {'AND' if self.op == 'NAND' else self.op} ".join(_paren(s) for s in self.sub_exprs)
            inner = f"NOT ({joined})" if self.op == "NAND" else joined
        if not self.quantifier:
            return inner
        bound = ", ".join(f"{n}:{t}" for n, t in self.inputs)
        return f"{self.quantifier} {bound}. ({inner})"

    # --- what it mentions ----------------------------------------------------------------

    def predicates(self) -> list[Predicate]:
        out: list[Predicate] = []
        for s in self.sub_exprs:
            out.extend(s.predicates() if isinstance(s, GoalExpr) else [s])
        return out

    def object_categories(self) -> frozenset[str]:
        """Every category the goal can refer to (through quantifier types or predicate arguments)."""
        cats: set[str] = set()
        for _, t in self._all_inputs():
            cats |= category_set(t)
        for p in self.predicates():
            if PREDICATES[p.name][:1] == ("obj",) and p.args[0] in _OBJECT_TYPES:
                cats |= category_set(p.args[0])
        return frozenset(cats)

    def receptacles(self) -> frozenset[str]:
        return frozenset(a for p in self.predicates() for kind, a in zip(PREDICATES[p.name], p.args) if kind == "rec")

    def _all_inputs(self) -> list[tuple[str, str]]:
        out = list(self.inputs)
        for s in self.sub_exprs:
            if isinstance(s, GoalExpr):
                out.extend(s._all_inputs())
        return out

    # --- evaluation ----------------------------------------------------------------------

    def compile(self, categories: Sequence[int]) -> Callable[[Any], bool]:
        """Bind to an episode's objects (``categories[o]`` = catalog index of object o).

        The returned function reads ``state.loc``, ``state.held``, ``state.opened`` and
        ``state.robot_at`` (a :class:`~gym_langrearrange.world.WorldState` or anything alike).
        """
        return _compile_node(self, categories, {})

    def evaluate(self, state: Any) -> bool:
        return self.compile(state.category)(state)


# --- parsing -----------------------------------------------------------------------------

def _paren(node: Union[GoalExpr, Predicate]) -> str:
    if isinstance(node, Predicate) or node.quantifier or len(node.sub_exprs) == 1:
        return str(node)
    return f"({node})"


def _parse_node(data: Any, where: str, variables: frozenset[str]) -> Union[GoalExpr, Predicate]:
    if isinstance(data, str):
        return parse_predicate(data, where, variables)
    if not isinstance(data, dict):
        raise GoalError(f"{where}: expected an object or a predicate string, got {type(data).__name__}")
    unknown = set(data) - {"expr_type", "quantifier", "inputs", "sub_exprs"}
    if unknown:
        raise GoalError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: expr_type, quantifier, inputs, sub_exprs")
    op = data.get("expr_type")
    if op not in OPS:
        raise GoalError(f"{where}.expr_type: {op!r} is not one of {', '.join(OPS)}")
    quantifier = data.get("quantifier")
    inputs: list[tuple[str, str]] = []
    if quantifier is not None:
        if quantifier not in QUANTIFIERS:
            raise GoalError(f"{where}.quantifier: {quantifier!r} is not one of {', '.join(QUANTIFIERS)}")
        raw_inputs = data.get("inputs")
        if not isinstance(raw_inputs, list) or not raw_inputs:
            raise GoalError(f"{where}.inputs: a quantifier needs a non-empty list of {{name, expr_type}}")
        for i, inp in enumerate(raw_inputs):
            at = f"{where}.inputs[{i}]"
            if not isinstance(inp, dict) or not isinstance(inp.get("name"), str) or not inp["name"]:
                raise GoalError(f"{at}: expected {{\"name\": <variable>, \"expr_type\": <object type>}}")
            if inp.get("expr_type") not in _OBJECT_TYPES:
                raise GoalError(f"{at}.expr_type: {inp.get('expr_type')!r} is not a category or group; allowed: "
                                f"{', '.join(CATEGORIES)}, {', '.join(CATEGORY_GROUPS)}")
            inputs.append((inp["name"], inp["expr_type"]))
    elif "inputs" in data and data["inputs"]:
        raise GoalError(f"{where}.inputs: inputs need a quantifier (EXISTS or FORALL)")
    subs = data.get("sub_exprs")
    if not isinstance(subs, list) or not subs:
        raise GoalError(f"{where}.sub_exprs: expected a non-empty list")
    if op == "NOT" and len(subs) != 1:
        raise GoalError(f"{where}.sub_exprs: NOT takes exactly one sub-expression, got {len(subs)}")
    scope = variables | {n for n, _ in inputs}
    parsed = tuple(_parse_node(s, f"{where}.sub_exprs[{i}]", scope) for i, s in enumerate(subs))
    return GoalExpr(op, parsed, quantifier, tuple(inputs))


@functools.lru_cache(maxsize=4096)
def parse_predicate(text: str, where: str = "predicate", variables: frozenset[str] = frozenset()) -> Predicate:
    """Parse ``"on_top(X, black table)"``; ``variables`` are the names bound by enclosing quantifiers.

    Cached: the same few hundred predicate strings recur in every episode.
    """
    m = _PRED_RE.match(text)
    if m is None:
        raise GoalError(f"{where}: {text!r} is not a predicate like on_top(X, black table)")
    raw_name, raw_args = m.group(1), m.group(2)
    name = ALIASES.get(raw_name, raw_name)
    if name not in PREDICATES:
        raise GoalError(f"{where}: unknown predicate {raw_name!r}; allowed: "
                        f"{', '.join(list(PREDICATES) + list(ALIASES))}")
    args = [a.strip().strip("'\"").strip() for a in raw_args.split(",")] if raw_args.strip() else []
    kinds = PREDICATES[name]
    if raw_name in ("opened_fridge", "closed_fridge") and not args:
        args = ["fridge"]
    if len(args) != len(kinds):
        raise GoalError(f"{where}: {name} takes {len(kinds)} argument(s) ({', '.join(kinds) or 'none'}), "
                        f"got {len(args)} in {text!r}")
    out = []
    for kind, arg in zip(kinds, args):
        if kind == "rec":
            rec = _RECEPTACLE_BY_LOWER.get(arg.lower())
            if rec is None:
                raise GoalError(f"{where}: unknown receptacle {arg!r} in {text!r}; allowed: {', '.join(RECEPTACLES)}")
            if name in ("opened", "closed") and rec not in OPENABLE:
                raise GoalError(f"{where}: {rec!r} cannot be {name}; only {', '.join(OPENABLE)} open and close")
            if name == "on_top" and rec not in PLACE_TARGETS:
                raise GoalError(f"{where}: nothing can be on_top of {rec!r}; allowed: {', '.join(PLACE_TARGETS)}")
            out.append(rec)
        else:
            if arg not in variables and arg not in _OBJECT_TYPES:
                raise GoalError(f"{where}: {arg!r} in {text!r} is neither a quantified variable "
                                f"({', '.join(sorted(variables)) or 'none in scope'}) nor a category or group")
            out.append(arg)
    return Predicate(name, tuple(out))


# --- compilation ---------------------------------------------------------------------------

def _objects_of(type_name: str, categories: Sequence[int]) -> tuple[int, ...]:
    wanted = {CATEGORIES.index(c) for c in category_set(type_name)}
    return tuple(o for o, c in enumerate(categories) if c in wanted)


def _compile_predicate(p: Predicate, categories: Sequence[int], bound: Binding) -> Check:
    if p.name == "not_holding":
        return lambda s: s.held < 0
    if p.name in ("opened", "closed", "robot_at"):
        r = RECEPTACLE_INDEX[p.args[0]]
        if p.name == "opened":
            return lambda s: s.opened[r]
        if p.name == "closed":
            return lambda s: not s.opened[r]
        return lambda s: s.robot_at == r
    arg = p.args[0]
    if arg in _OBJECT_TYPES:  # an object type: any object of it
        objs = _objects_of(arg, categories)
        if p.name == "holding":
            held_ok = frozenset(objs)
            return lambda s: s.held in held_ok
        r = RECEPTACLE_INDEX[p.args[1]]  # on_top / in: the object rests on or in receptacle r
        return lambda s: any(s.loc[o] == r for o in objs)
    o = bound[arg]  # a quantified variable: its object is fixed by the enclosing quantifier's binding
    if p.name == "holding":
        return lambda s: s.held == o
    r = RECEPTACLE_INDEX[p.args[1]]
    return lambda s: s.loc[o] == r


def _joined(checks: list[Check], every: bool) -> Check:
    """All (``every``) or any of ``checks``; one or two checks are joined without a generator."""
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        a, b = checks
        return (lambda s: a(s) and b(s)) if every else (lambda s: a(s) or b(s))
    return (lambda s: all(f(s) for f in checks)) if every else (lambda s: any(f(s) for f in checks))


def _compile_node(node: Union[GoalExpr, Predicate], categories: Sequence[int], bound: Binding) -> Check:
    """``bound`` maps the variables of enclosing quantifiers to objects; a quantifier compiles its body
    once per binding of its variables, so the compiled checks read the state and nothing else."""
    if isinstance(node, Predicate):
        return _compile_predicate(node, categories, bound)
    if node.quantifier:
        names = [n for n, _ in node.inputs]
        domains = [_objects_of(t, categories) for _, t in node.inputs]
        bodies = [_compile_node(GoalExpr(node.op, node.sub_exprs), categories, {**bound, **dict(zip(names, combo))})
                  for combo in itertools.product(*domains)]
        if not bodies:  # no object of the type: EXISTS is false, FORALL vacuously true
            return (lambda s: False) if node.quantifier == "EXISTS" else (lambda s: True)
        return _joined(bodies, every=node.quantifier == "FORALL")
    subs = [_compile_node(sub, categories, bound) for sub in node.sub_exprs]
    if node.op in ("AND", "OR"):
        return _joined(subs, every=node.op == "AND")
    body = _joined(subs, every=True)  # NAND, or NOT of its one sub-expression
    return lambda s: not body(s)
