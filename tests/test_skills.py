import numpy as np
import pytest

from gym_langrearrange.catalog import (CATEGORIES, CATEGORY_INDEX, HELDOUT_CATEGORIES, RECEPTACLE_INDEX, RECEPTACLES,
                                       TRAIN_CATEGORIES)
from gym_langrearrange.skills import SKILL_CATALOG, SkillKind
from gym_langrearrange.world import WorldState, get_scene

SPEC_RECEPTACLES = ["sofa", "chair", "black table", "brown table", "coffee table", "TV stand", "shelf",
                    "left counter", "sink", "right counter", "fridge", "cabinet drawer 1", "cabinet drawer 2",
                    "cabinet drawer 3", "cabinet drawer 4"]
SPEC_TRAIN = ("ball clamp hammer screwdriver padlock scissors block drill spatula knife spoon plate sponge cleanser "
              "plum pear peach apple lemon can box banana strawberry lego").split() + ["rubiks cube", "book", "bowl",
                                                                                       "cup"]
SPEC_HELDOUT = ["mug", "orange", "lid", "toy airplane", "wrench"]


def test_skill_ids_follow_spec_section_3():
    expected = [f"navigate({r})" for r in SPEC_RECEPTACLES]
    expected += [f"pick({c})" for c in SPEC_TRAIN + SPEC_HELDOUT]
    expected += [f"place({r})" for r in SPEC_RECEPTACLES[:11]]
    expected += [f"open({r})" for r in SPEC_RECEPTACLES[10:]]
    expected += [f"close({r})" for r in SPEC_RECEPTACLES[10:]]
    expected += ["stop"]
    assert len(expected) == 70
    assert [SKILL_CATALOG.text(i) for i in range(70)] == expected
    assert list(RECEPTACLES) == SPEC_RECEPTACLES
    assert list(TRAIN_CATEGORIES) == SPEC_TRAIN and list(HELDOUT_CATEGORIES) == SPEC_HELDOUT
    assert (SKILL_CATALOG[0].kind, SKILL_CATALOG[15].kind, SKILL_CATALOG[48].kind, SKILL_CATALOG[59].kind,
            SKILL_CATALOG[64].kind, SKILL_CATALOG[69].kind) == (SkillKind.NAVIGATE, SkillKind.PICK, SkillKind.PLACE,
                                                                 SkillKind.OPEN, SkillKind.CLOSE, SkillKind.STOP)


def test_skill_text_round_trip_and_lenient_lookup():
    for i in range(70):
        assert SKILL_CATALOG.id(SKILL_CATALOG.text(i)) == i
    assert SKILL_CATALOG.id("  Navigate( Black  Table ) ") == RECEPTACLE_INDEX["black table"]
    assert SKILL_CATALOG.id("STOP") == 69
    with pytest.raises(KeyError, match="unknown skill"):
        SKILL_CATALOG.id("fly(moon)")


def _state():
    scene = get_scene(0)
    cats = tuple(CATEGORY_INDEX[c] for c in ("apple", "apple", "banana", "cup"))
    loc = [RECEPTACLE_INDEX[r] for r in ("sofa", "fridge", "sofa", "cabinet drawer 1")]
    return WorldState(scene, cats, (0, 1, 0, 0), loc, [False] * 15, (4.0, 4.0, 0.0))


def test_preconditions_and_effects():
    s = _state()
    pick_apple = SKILL_CATALOG.id("pick(apple)")
    ok, msg = SKILL_CATALOG.execute(s, pick_apple)
    assert not ok and "not at any receptacle" in msg
    assert SKILL_CATALOG.execute(s, SKILL_CATALOG.id("navigate(sofa)"))[0]
    assert s.robot_at == RECEPTACLE_INDEX["sofa"] and s.pose == get_scene(0).placements["sofa"].stand
    mask = SKILL_CATALOG.valid_mask(s)
    assert mask[pick_apple] and mask[SKILL_CATALOG.id("pick(banana)")] and not mask[SKILL_CATALOG.id("pick(cup)")]
    assert not mask[SKILL_CATALOG.id("place(sofa)")]  # nothing held
    ok, _ = SKILL_CATALOG.execute(s, pick_apple)
    assert ok and s.held == 0 and s.loc[0] == -1  # the lowest-index apple on the sofa
    ok, msg = SKILL_CATALOG.execute(s, SKILL_CATALOG.id("pick(banana)"))
    assert not ok and "already holding an apple" in msg
    ok, msg = SKILL_CATALOG.execute(s, SKILL_CATALOG.id("place(chair)"))
    assert not ok and "not at the chair" in msg
    # fridge: closed -> cannot place or pick inside; open -> both work
    SKILL_CATALOG.execute(s, SKILL_CATALOG.id("navigate(fridge)"))
    ok, msg = SKILL_CATALOG.execute(s, SKILL_CATALOG.id("place(fridge)"))
    assert not ok and "closed" in msg
    assert SKILL_CATALOG.execute(s, SKILL_CATALOG.id("open(fridge)"))[0]
    assert not SKILL_CATALOG.execute(s, SKILL_CATALOG.id("open(fridge)"))[0]  # already open
    assert SKILL_CATALOG.execute(s, SKILL_CATALOG.id("place(fridge)"))[0]
    assert s.loc[0] == RECEPTACLE_INDEX["fridge"] and s.held == -1
    # a drawer hides its content until opened, and is never a place target
    SKILL_CATALOG.execute(s, SKILL_CATALOG.id("navigate(cabinet drawer 1)"))
    assert not SKILL_CATALOG.valid_mask(s)[SKILL_CATALOG.id("pick(cup)")]
    SKILL_CATALOG.execute(s, SKILL_CATALOG.id("open(cabinet drawer 1)"))
    assert SKILL_CATALOG.execute(s, SKILL_CATALOG.id("pick(cup)"))[0]
    assert "place(cabinet drawer 1)" not in [SKILL_CATALOG.text(i) for i in range(70)]


def test_valid_mask_agrees_with_check_everywhere():
    rng = np.random.default_rng(0)
    s = _state()
    for _ in range(300):
        mask = SKILL_CATALOG.valid_mask(s)
        for a in range(70):
            assert mask[a] == (SKILL_CATALOG.check(s, a) is None), SKILL_CATALOG.text(a)
        SKILL_CATALOG.execute(s, int(rng.integers(70)))


def test_navigate_to_missing_receptacle_is_invalid():
    scene = next(get_scene(i) for i in range(105) if not get_scene(i).has("shelf"))
    s = WorldState(scene, (0,), (0,), [RECEPTACLE_INDEX["sofa"]], [False] * 15, (4.0, 4.0, 0.0))
    ok, msg = SKILL_CATALOG.execute(s, SKILL_CATALOG.id("navigate(shelf)"))
    assert not ok and "no shelf" in msg and s.robot_at == -1
    assert CATEGORIES[0] == "ball"
