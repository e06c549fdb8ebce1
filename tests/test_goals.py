import pytest

from gym_langrearrange.catalog import CATEGORY_INDEX, RECEPTACLE_INDEX
from gym_langrearrange.goals import GoalError, GoalExpr
from gym_langrearrange.world import WorldState, get_scene


def _state(objects, opened=(), held=None, at=None):
    cats = tuple(CATEGORY_INDEX[c] for c, _ in objects)
    loc = [RECEPTACLE_INDEX[r] for _, r in objects]
    op = [False] * 15
    for r in opened:
        op[RECEPTACLE_INDEX[r]] = True
    s = WorldState(get_scene(0), cats, (0,) * len(cats), loc, op, (4.0, 4.0, 0.0))
    if held is not None:
        s.loc[held], s.held = -1, held
    if at is not None:
        s.robot_at = RECEPTACLE_INDEX[at]
    return s


def g(**kw):
    return GoalExpr.from_json(kw)


def test_exists_and_not_holding():
    goal = g(expr_type="AND", quantifier="EXISTS", inputs=[{"name": "X", "expr_type": "apple"}],
             sub_exprs=["on_top(X, black table)", "not_holding()"])
    assert goal.evaluate(_state([("apple", "sofa"), ("apple", "black table")]))
    assert not goal.evaluate(_state([("apple", "sofa"), ("banana", "black table")]))
    assert not goal.evaluate(_state([("apple", "black table"), ("apple", "sofa")], held=1))


def test_forall_including_vacuous_truth_and_groups():
    goal = g(expr_type="AND", quantifier="FORALL", inputs=[{"name": "X", "expr_type": "fruit"}],
             sub_exprs=["in(X, fridge)"])
    assert goal.evaluate(_state([("apple", "fridge"), ("lemon", "fridge"), ("cup", "sofa")]))
    assert not goal.evaluate(_state([("apple", "fridge"), ("lemon", "sink")]))
    assert goal.evaluate(_state([("cup", "sofa")]))  # no fruit at all: vacuously true


def test_nested_quantifiers_bind_each_variable_per_combination():
    # every fruit shares a receptacle with some cup: X and Y are bound together, per combination
    goal = g(expr_type="AND", quantifier="FORALL", inputs=[{"name": "X", "expr_type": "fruit"}],
             sub_exprs=[{"expr_type": "OR", "quantifier": "EXISTS", "inputs": [{"name": "Y", "expr_type": "cup"}],
                         "sub_exprs": [{"expr_type": "AND", "sub_exprs": ["in(X, fridge)", "in(Y, fridge)"]},
                                       {"expr_type": "AND", "sub_exprs": ["on_top(X, sofa)", "on_top(Y, sofa)"]}]}])
    assert goal.evaluate(_state([("apple", "fridge"), ("cup", "fridge"), ("lemon", "sofa"), ("cup", "sofa")]))
    assert not goal.evaluate(_state([("apple", "fridge"), ("cup", "sofa"), ("lemon", "sofa")]))
    assert not goal.evaluate(_state([("apple", "fridge"), ("lemon", "fridge")]))  # no cup: EXISTS is false
    # an inner quantifier re-binding the same name shadows the outer one
    shadow = g(expr_type="AND", quantifier="EXISTS", inputs=[{"name": "X", "expr_type": "apple"}],
               sub_exprs=["on_top(X, sofa)", {"expr_type": "AND", "quantifier": "EXISTS",
                                              "inputs": [{"name": "X", "expr_type": "cup"}],
                                              "sub_exprs": ["in(X, fridge)"]}])
    assert shadow.evaluate(_state([("apple", "sofa"), ("cup", "fridge")]))
    assert not shadow.evaluate(_state([("apple", "fridge"), ("cup", "sofa")]))


def test_or_nand_not_and_category_arguments():
    s = _state([("apple", "sofa"), ("cup", "sink")], opened=["fridge"], at="sink")
    assert g(expr_type="OR", sub_exprs=["on_top(apple, chair)", "robot_at(sink)"]).evaluate(s)
    assert not g(expr_type="NAND", sub_exprs=["opened(fridge)", "on_top(cup, sink)"]).evaluate(s)
    assert g(expr_type="NAND", sub_exprs=["closed(fridge)", "on_top(cup, sink)"]).evaluate(s)
    assert g(expr_type="NOT", sub_exprs=[{"expr_type": "AND", "sub_exprs": ["holding(cup)"]}]).evaluate(s)
    assert g(expr_type="AND", sub_exprs=["on_top(apple, sofa)"]).evaluate(s)


def test_aliases_of_the_original_release():
    s = _state([("apple", "sofa")], opened=["fridge", "cabinet drawer 2"])
    assert g(expr_type="AND", sub_exprs=["opened_fridge(fridge)", "opened_cab(cabinet drawer 2)"]).evaluate(s)
    assert not g(expr_type="OR", sub_exprs=["closed_fridge()", "closed_cab(cabinet drawer 2)"]).evaluate(s)


def test_holding_with_variable():
    goal = g(expr_type="AND", quantifier="EXISTS", inputs=[{"name": "X", "expr_type": "apple"}],
             sub_exprs=["holding(X)"])
    assert goal.evaluate(_state([("cup", "sofa"), ("apple", "sofa")], held=1))
    assert not goal.evaluate(_state([("cup", "sofa"), ("apple", "sofa")], held=0))


@pytest.mark.parametrize("bad, where", [
    ({"expr_type": "XOR", "sub_exprs": ["not_holding()"]}, "goal.expr_type"),
    ({"expr_type": "AND", "sub_exprs": []}, "goal.sub_exprs"),
    ({"expr_type": "AND", "sub_exprs": ["on_top(X, sofa)"]}, "goal.sub_exprs[0]"),
    ({"expr_type": "AND", "sub_exprs": ["on_top(apple, moon)"]}, "unknown receptacle 'moon'"),
    ({"expr_type": "AND", "sub_exprs": ["flying(apple)"]}, "unknown predicate 'flying'"),
    ({"expr_type": "AND", "quantifier": "SOME", "inputs": [], "sub_exprs": ["not_holding()"]}, "goal.quantifier"),
    ({"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": "X", "expr_type": "unicorn"}],
      "sub_exprs": ["holding(X)"]}, "goal.inputs[0].expr_type"),
    ({"expr_type": "NOT", "sub_exprs": ["not_holding()", "not_holding()"]}, "exactly one"),
    ({"expr_type": "AND", "sub_exprs": ["opened(sofa)"]}, "cannot be opened"),
])
def test_malformed_goals_name_the_place(bad, where):
    with pytest.raises(GoalError, match=where.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        GoalExpr.from_json(bad)


def test_json_round_trip():
    data = {"expr_type": "OR", "sub_exprs": [
        {"expr_type": "AND", "quantifier": "FORALL", "inputs": [{"name": "X", "expr_type": "cup"}],
         "sub_exprs": ["on_top(X, sink)"]}, "robot_at(TV stand)"]}
    goal = GoalExpr.from_json(data)
    assert GoalExpr.from_json(goal.to_json()) == goal
    assert "FORALL X:cup" in str(goal)
