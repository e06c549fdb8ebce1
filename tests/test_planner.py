from gym_langrearrange.catalog import CATEGORY_INDEX, RECEPTACLE_INDEX
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.planner import plan, subgoals_from_plan
from gym_langrearrange.skills import SKILL_CATALOG
from gym_langrearrange.world import WorldState, get_scene


def _state(objects, opened=()):
    op = [False] * 15
    for r in opened:
        op[RECEPTACLE_INDEX[r]] = True
    return WorldState(get_scene(0), tuple(CATEGORY_INDEX[c] for c, _ in objects), (0,) * len(objects),
                      [RECEPTACLE_INDEX[r] for _, r in objects], op, (4.0, 4.0, 0.0))


def _move(cat, rec):
    pred = f"in(X, {rec})" if rec == "fridge" else f"on_top(X, {rec})"
    return {"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": "X", "expr_type": cat}],
            "sub_exprs": [pred, "not_holding()"]}


def texts(ids):
    return [SKILL_CATALOG.text(i) for i in ids]


def test_shortest_plan_from_a_closed_drawer_into_the_fridge():
    s = _state([("cup", "sofa"), ("apple", "cabinet drawer 3"), ("book", "sink")])
    found = plan(s, GoalExpr.from_json(_move("apple", "fridge")))
    assert texts(found) == ["navigate(cabinet drawer 3)", "open(cabinet drawer 3)", "pick(apple)",
                            "navigate(fridge)", "open(fridge)", "place(fridge)"]
    assert subgoals_from_plan(s, found) == ["opened(cabinet drawer 3)", "holding(apple)", "opened(fridge)"]


def test_plan_picks_the_cheaper_of_two_instances():
    s = _state([("apple", "fridge"), ("apple", "chair")])
    assert texts(plan(s, GoalExpr.from_json(_move("apple", "sofa")))) == [
        "navigate(chair)", "pick(apple)", "navigate(sofa)", "place(sofa)"]


def test_move_off_uses_a_spare_surface_and_swap_needs_a_buffer():
    s = _state([("pear", "sink")])
    on_sink = {"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": "X", "expr_type": "pear"}],
               "sub_exprs": ["on_top(X, sink)"]}
    goal = {"expr_type": "AND", "sub_exprs": [{"expr_type": "NOT", "sub_exprs": [on_sink]}, "not_holding()"]}
    found = plan(s, GoalExpr.from_json(goal))
    assert texts(found)[:2] == ["navigate(sink)", "pick(pear)"] and len(found) == 4
    swap = {"expr_type": "AND", "sub_exprs": [_move("lemon", "chair"), _move("plum", "sofa")]}
    found = plan(_state([("lemon", "sofa"), ("plum", "chair")]), GoalExpr.from_json(swap))
    assert len(found) == 7  # nav, pick, nav, place (on top of the other), pick, nav, place


def test_unsolvable_within_limit_returns_none_and_solved_returns_empty():
    s = _state([("apple", "sofa")])
    assert plan(s, GoalExpr.from_json(_move("apple", "sofa"))) == []
    assert plan(s, GoalExpr.from_json(_move("banana", "sofa"))) is None  # no banana in the house
    assert plan(s, GoalExpr.from_json(_move("apple", "chair")), max_length=3) is None
