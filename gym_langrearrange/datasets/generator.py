"""The deterministic episode generator for the 11 datasets (spec §7).

Episode ``i`` of dataset ``d`` is a pure function of ``(d, i, GENERATOR_VERSION)``: a
template is drawn, its placeholders are filled with entities the scene has, the objects
the instruction needs are placed, clutter is added, and the planner must solve the
result within 32 skills; otherwise the draw is repeated with the next attempt number.
Clutter never uses a category the goal mentions, so "an apple" and "all the apples"
mean exactly the objects the template placed.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from gym_langrearrange.catalog import (CATEGORY_GROUPS, CATEGORY_INFO, DRAWERS, FRIDGE, HELDOUT_CATEGORIES, SURFACES,
                                       TRAIN_CATEGORIES)
from gym_langrearrange.datasets.episode import EpisodeSpec, ObjectSpec, random_robot_start
from gym_langrearrange.datasets.phrasings import DESCRIPTIONS, EVAL, TRAIN
from gym_langrearrange.rng import DetRng
from gym_langrearrange.world.scene import Scene, get_scene, scene_ids

GENERATOR_VERSION = 1
DATASETS: tuple[str, ...] = (
    "train", "new_scenes", "rephrasing", "referring_expressions", "spatial_relationships", "context",
    "irrelevant_text", "multiple_rearrangements", "novel_objects", "multiple_objects", "conditional_instructions",
)
EVAL_DATASETS = DATASETS[1:]
#: splits beyond the 11 datasets, made the same way. ``multiple_rearrangements_train``: the
#: multiple-rearrangement behaviour (three objects) in the training scenes, with training clutter, for
#: continual learning (the paper's Figure 4b), evaluated on the held-out ``multiple_rearrangements``.
EXTRA_SPLITS: tuple[str, ...] = ("multiple_rearrangements_train",)
SPLITS = DATASETS + EXTRA_SPLITS
DATASET_SIZES: dict[str, int] = {**{d: (150_000 if d == "train" else 100) for d in DATASETS},
                                 "multiple_rearrangements_train": 10_000}
GROUPS: dict[str, tuple[str, ...]] = {
    "PR": ("rephrasing", "referring_expressions", "spatial_relationships", "context", "irrelevant_text"),
    "BG": ("multiple_rearrangements", "novel_objects", "multiple_objects", "conditional_instructions"),
}
MAX_ATTEMPTS = 64
CONTEXT_GROUPS = ("sports_equipment", "screw_fixer", "paper_cutter", "spill_cleaner", "hot_drink_vessel")


@dataclass
class Draft:
    """What a template builder decides; the generator turns it into an EpisodeSpec."""

    template: str
    phrasings: tuple[str, ...]
    fills: dict[str, str]
    goal: dict
    placed: list[tuple[str, str]]  # (category, receptacle) the instruction needs
    open: list[str] = field(default_factory=list)
    avoid: set[str] = field(default_factory=set)  # categories clutter must not use (beyond the goal's)


# --- small builders of goal JSON and fills --------------------------------------------------

def _on(var: str, rec: str) -> str:
    return f"in({var}, {rec})" if rec == FRIDGE or rec in DRAWERS else f"on_top({var}, {rec})"


def _exists_on(cat: str, rec: str, var: str = "X") -> dict:
    return {"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": var, "expr_type": cat}],
            "sub_exprs": [_on(var, rec)]}


def _forall_on(cat: str, rec: str, var: str = "X") -> dict:
    return {"expr_type": "AND", "quantifier": "FORALL", "inputs": [{"name": var, "expr_type": cat}],
            "sub_exprs": [_on(var, rec)]}


def _and(*subs: object) -> dict:
    return {"expr_type": "AND", "sub_exprs": list(subs)}


def _obj_fills(cat: str, suffix: str = "") -> dict[str, str]:
    info = CATEGORY_INFO[cat]
    return {f"obj{suffix}": cat, f"a_obj{suffix}": info.with_article, f"objs{suffix}": info.plural_name}


def _place_targets(scene: Scene) -> list[str]:
    return [r for r in SURFACES if scene.has(r)] + [FRIDGE]


def _surfaces(scene: Scene) -> list[str]:
    return [r for r in SURFACES if scene.has(r)]


def _sources(scene: Scene) -> list[str]:
    """Where an object may start: any surface, the fridge, or a drawer."""
    return _place_targets(scene) + list(DRAWERS)


def _other(rng: DetRng, options: list[str], *exclude: str) -> str:
    return rng.choice([o for o in options if o not in exclude])


# --- template builders: (rng, scene, categories to draw targets from, phrasings) -> Draft ----------

Builder = Callable[[DetRng, Scene, tuple[str, ...], dict[str, tuple[str, ...]]], Draft]


def move_to(rng, scene, cats, ph, concept="move_to") -> Draft:
    obj = rng.choice(cats)
    dst = rng.choice(_place_targets(scene))
    src = _other(rng, _sources(scene), dst)
    return Draft(concept, ph[concept], {**_obj_fills(obj), "src": src, "dst": dst},
                 _and(_exists_on(obj, dst), "not_holding()"), [(obj, src)])


def move_from_to(rng, scene, cats, ph) -> Draft:
    return move_to(rng, scene, cats, ph, "move_from_to")


def move_off(rng, scene, cats, ph) -> Draft:
    obj = rng.choice(cats)
    src = rng.choice(_place_targets(scene))
    goal = _and({"expr_type": "NOT", "sub_exprs": [_exists_on(obj, src)]}, "not_holding()")
    return Draft("move_off", ph["move_off"], {**_obj_fills(obj), "src": src}, goal, [(obj, src)])


def two_on(rng, scene, cats, ph) -> Draft:
    o1, o2 = rng.sample(cats, 2)
    dst = rng.choice(_place_targets(scene))
    sources = _sources(scene)
    goal = _and(_exists_on(o1, dst, "X"), _exists_on(o2, dst, "Y"), "not_holding()")
    return Draft("two_on", ph["two_on"], {**_obj_fills(o1, "1"), **_obj_fills(o2, "2"), "dst": dst}, goal,
                 [(o1, _other(rng, sources, dst)), (o2, _other(rng, sources, dst))])


def swap(rng, scene, cats, ph) -> Draft:
    o1, o2 = rng.sample(cats, 2)
    r1, r2 = rng.sample(_surfaces(scene), 2)
    goal = _and(_exists_on(o1, r2, "X"), _exists_on(o2, r1, "Y"), "not_holding()")
    return Draft("swap", ph["swap"], {**_obj_fills(o1, "1"), **_obj_fills(o2, "2"), "rec1": r1, "rec2": r2}, goal,
                 [(o1, r1), (o2, r2)])


def close_fridge(rng, scene, cats, ph) -> Draft:
    return Draft("close_fridge", ph["close_fridge"], {}, _and("closed(fridge)"), [], open=[FRIDGE])


def open_fridge(rng, scene, cats, ph) -> Draft:
    return Draft("open_fridge", ph["open_fridge"], {}, _and("opened(fridge)"), [])


def go_to(rng, scene, cats, ph) -> Draft:
    dst = rng.choice(_place_targets(scene))
    return Draft("go_to", ph["go_to"], {"dst": dst}, _and(f"robot_at({dst})"), [])


def find(rng, scene, cats, ph) -> Draft:
    obj = rng.choice(cats)
    goal = {"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": "X", "expr_type": obj}],
            "sub_exprs": ["holding(X)"]}
    return Draft("find", ph["find"], _obj_fills(obj), goal, [(obj, rng.choice(_sources(scene)))])


TRAIN_BUILDERS: dict[str, tuple[Builder, float]] = {
    "move_to": (move_to, 0.2), "move_from_to": (move_from_to, 0.2), "move_off": (move_off, 0.1),
    "two_on": (two_on, 0.12), "swap": (swap, 0.08), "close_fridge": (close_fridge, 0.05),
    "open_fridge": (open_fridge, 0.05), "go_to": (go_to, 0.08), "find": (find, 0.12),
}


def referring(rng, scene, cats, ph) -> Draft:
    concept = rng.choice(["move_to", "move_from_to"])
    d = move_to(rng, scene, tuple(c for c in cats if c in DESCRIPTIONS), ph, concept)
    desc = rng.choice(DESCRIPTIONS[d.fills["obj"]])
    d.fills.update(desc=desc, a_desc=("an " if desc[0] in "aeiou" else "a ") + desc)
    d.template = f"referring_{concept}"
    return d


def spatial(rng, scene, cats, ph) -> Draft:
    concept = rng.choice(["move_from_to", "move_to"])
    targets = set(_place_targets(scene))
    pairs = [(anchor, side, ref) for anchor in scene.wall_order for side, ref in
             (("right", scene.right_of(anchor)), ("left", scene.left_of(anchor))) if ref in targets and ref != anchor]
    anchor, side, dst = rng.choice(pairs)
    obj = rng.choice(cats)
    src = _other(rng, _sources(scene), dst)
    ref = rng.choice(["the receptacle to the {side} of the {anchor}", "the piece of furniture just {side} of the {anchor}",
                      "whatever stands to the {side} of the {anchor}", "the spot directly {side} of the {anchor}"])
    fills = {**_obj_fills(obj), "src": src, "dst_ref": ref.format(side=side, anchor=anchor)}
    return Draft(f"spatial_{concept}", ph[concept], fills, _and(_exists_on(obj, dst), "not_holding()"), [(obj, src)])


def context(rng, scene, cats, ph) -> Draft:
    group = rng.choice(CONTEXT_GROUPS)
    members = sorted(CATEGORY_GROUPS[group] & set(cats))
    obj = rng.choice(members)
    dst = rng.choice(_surfaces(scene))
    src = _other(rng, _sources(scene), dst)
    return Draft(f"context_{group}", ph[group], {"dst": dst}, _and(_exists_on(group, dst), "not_holding()"),
                 [(obj, src)], avoid=set(CATEGORY_GROUPS[group]))


def irrelevant(rng, scene, cats, ph) -> Draft:
    d = move_to(rng, scene, cats, ph)
    other = _other(rng, list(cats), d.fills["obj"])
    other_rec = rng.choice(_surfaces(scene))
    d.fills.update(a_other=CATEGORY_INFO[other].with_article, other_rec=other_rec)
    d.placed.append((other, other_rec))
    d.avoid.add(other)
    d.template = "irrelevant_move_to"
    return d


def three_objects(rng, scene, cats, ph) -> Draft:
    objs = rng.sample(cats, 3)
    sources = _sources(scene)
    if rng.chance(0.5):
        dsts = rng.sample(_place_targets(scene), 3)
        fills = {f"dst{i + 1}": dsts[i] for i in range(3)}
        concept = "three_moves"
    else:
        dsts = [rng.choice(_place_targets(scene))] * 3
        fills = {"dst": dsts[0]}
        concept = "three_on"
    for i, o in enumerate(objs):
        fills.update(_obj_fills(o, str(i + 1)))
    goal = _and(*[_exists_on(o, dst, v) for o, dst, v in zip(objs, dsts, "XYZ")], "not_holding()")
    return Draft(concept, ph[concept], fills, goal, [(o, _other(rng, sources, dst)) for o, dst in zip(objs, dsts)])


def all_of(rng, scene, cats, ph) -> Draft:
    obj = rng.choice(cats)
    dst = rng.choice(_place_targets(scene))
    count = 1 + rng.below(2)
    if rng.chance(0.5):
        src = _other(rng, _sources(scene), dst)
        placed, concept, fills = [(obj, src)] * count, "all_from_to", {"src": src}
    else:
        placed = [(obj, _other(rng, _sources(scene), dst)) for _ in range(count)]
        concept, fills = "all_to", {}
    return Draft(concept, ph[concept], {**fills, **_obj_fills(obj), "dst": dst},
                 _and(_forall_on(obj, dst), "not_holding()"), placed)


def conditional(rng, scene, cats, ph) -> Draft:
    o1, o2 = rng.sample(cats, 2)
    surfaces = _surfaces(scene)
    dst1 = rng.choice(surfaces)
    dst2 = dst1 if rng.chance(0.5) else _other(rng, surfaces, dst1)
    starts = [r for r in surfaces + list(DRAWERS) if r not in (dst1, dst2)]
    s1, s2 = rng.choice(starts), rng.choice(starts)
    fridge_open = rng.chance(0.5)
    branch_open = _and("opened(fridge)", _exists_on(o1, dst1, "X"), _forall_on(o2, s2, "Y"), "not_holding()")
    branch_closed = _and("closed(fridge)", _exists_on(o2, dst2, "Y"), _forall_on(o1, s1, "X"), "not_holding()")
    fills = {**_obj_fills(o1, "1"), **_obj_fills(o2, "2"), "dst1": dst1, "dst2": dst2}
    return Draft("if_fridge_open", ph["if_fridge_open"], fills, {"expr_type": "OR", "sub_exprs": [branch_open, branch_closed]},
                 [(o1, s1), (o2, s2)], open=[FRIDGE] if fridge_open else [])


@dataclass(frozen=True)
class DatasetRecipe:
    scenes: str  # scene split
    target_categories: tuple[str, ...]
    clutter_categories: tuple[str, ...]
    builders: tuple[tuple[Builder, float], ...]
    phrasings: dict[str, tuple[str, ...]]


def _recipes() -> dict[str, DatasetRecipe]:
    train_b = tuple(TRAIN_BUILDERS.values())
    all_cats = TRAIN_CATEGORIES + HELDOUT_CATEGORIES

    def one(b: Builder) -> tuple[tuple[Builder, float], ...]:
        return ((b, 1.0),)

    def ev(name: str) -> dict[str, tuple[str, ...]]:
        return EVAL[name]

    return {
        "train": DatasetRecipe("train", TRAIN_CATEGORIES, TRAIN_CATEGORIES, train_b, TRAIN),
        "new_scenes": DatasetRecipe("test", TRAIN_CATEGORIES, TRAIN_CATEGORIES, train_b, TRAIN),
        "rephrasing": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, train_b, ev("rephrasing")),
        "referring_expressions": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(referring),
                                               ev("referring_expressions")),
        "spatial_relationships": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(spatial),
                                               ev("spatial_relationships")),
        "context": DatasetRecipe("test", all_cats, all_cats, one(context), ev("context")),
        "irrelevant_text": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(irrelevant), ev("irrelevant_text")),
        "multiple_rearrangements": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(three_objects),
                                                 ev("multiple_rearrangements")),
        "multiple_rearrangements_train": DatasetRecipe("train", TRAIN_CATEGORIES, TRAIN_CATEGORIES,
                                                       one(three_objects), ev("multiple_rearrangements")),
        "novel_objects": DatasetRecipe("test", HELDOUT_CATEGORIES, all_cats,
                                       ((move_to, 0.5), (move_from_to, 0.5)), TRAIN),
        "multiple_objects": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(all_of), ev("multiple_objects")),
        "conditional_instructions": DatasetRecipe("test", TRAIN_CATEGORIES, all_cats, one(conditional),
                                                  ev("conditional_instructions")),
    }


RECIPES = _recipes()
_NUM_INSTANCES = {c: len(info.instances) for c, info in CATEGORY_INFO.items()}


def _weighted(rng: DetRng, options: tuple[tuple[Builder, float], ...]) -> Builder:
    x = rng.random() * sum(w for _, w in options)
    for b, w in options:
        x -= w
        if x < 0:
            return b
    return options[-1][0]


def check_dataset(dataset: str) -> str:
    if dataset not in RECIPES:
        raise ValueError(f"unknown split {dataset!r}; allowed: {', '.join(SPLITS)}")
    return dataset


def draft_episode(dataset: str, index: int, attempt: int) -> EpisodeSpec:
    """One candidate for episode ``index`` (not yet checked by the planner)."""
    recipe = RECIPES[check_dataset(dataset)]
    rng = DetRng("episode", GENERATOR_VERSION, dataset, index, attempt)
    scenes = scene_ids(recipe.scenes)
    scene = get_scene(scenes[rng.below(len(scenes))])
    draft = _weighted(rng, recipe.builders)(rng, scene, recipe.target_categories, recipe.phrasings)
    phrasing = rng.choice(draft.phrasings)
    text = phrasing.format(**draft.fills)
    text = text[0].upper() + text[1:]
    placed = list(draft.placed)
    goal_cats = set(draft.avoid) | {c for c, _ in placed} | _goal_types(draft.goal)
    clutter_cats = [c for c in recipe.clutter_categories if c not in goal_cats]
    sources = _sources(scene)
    n_cats, n_sources = len(clutter_cats), len(sources)
    clutter = []
    for _ in range(rng.integer(20, 40) - len(placed)):
        k = rng.below(n_cats * n_sources)  # one draw picks category and receptacle
        clutter.append((clutter_cats[k // n_sources], sources[k % n_sources]))
    for item in placed:  # needed objects go to random positions, so they are not always object 0
        clutter.insert(rng.below(len(clutter) + 1), item)
    objects = tuple(ObjectSpec(c, rng.below(_NUM_INSTANCES[c]), r) for c, r in clutter)
    eid = f"{dataset}-{index}"
    return EpisodeSpec(episode_id=eid, split=dataset, scene=scene.index, instruction=text, objects=objects,
                       goal=draft.goal, open=tuple(draft.open), robot_start=random_robot_start(scene, rng),
                       template=draft.template)


def _goal_types(goal: dict) -> set[str]:
    out: set[str] = set()
    for inp in goal.get("inputs", []):
        out |= set(CATEGORY_GROUPS.get(inp["expr_type"], {inp["expr_type"]}))
    for s in goal.get("sub_exprs", []):
        if isinstance(s, dict):
            out |= _goal_types(s)
    return out


def solve_index(dataset: str, index: int) -> tuple[int, list[int]]:
    """The first draw attempt of episode ``index`` the planner solves, and its optimal plan."""
    from gym_langrearrange.datasets.build import make_state
    from gym_langrearrange.planner import MAX_PLAN_LENGTH, plan

    size = DATASET_SIZES[check_dataset(dataset)]
    if not isinstance(index, int) or not 0 <= index < size:
        raise ValueError(f"episode index must be an int in 0..{size - 1} for split {dataset!r}, got {index!r}")
    for attempt in range(MAX_ATTEMPTS):
        spec = draft_episode(dataset, index, attempt)
        found = plan(make_state(spec), spec.goal_expr, MAX_PLAN_LENGTH)
        if found:  # solvable, and not already solved at the start
            return attempt, found
    raise RuntimeError(f"no solvable draft for {dataset}-{index} in {MAX_ATTEMPTS} attempts")  # pragma: no cover


def generate_episode(dataset: str, index: int, solved: tuple[int, list[int]] | None = None
                     ) -> tuple[EpisodeSpec, list[int]]:
    """Episode ``index`` of ``dataset`` with its subgoals, and the optimal plan that validated it.

    ``solved`` = (attempt, plan) from the episode index cache skips the planner (the cache
    is keyed by a fingerprint of the generator's code, so it cannot be stale).
    """
    from gym_langrearrange.datasets.build import make_state
    from gym_langrearrange.planner import subgoals_from_plan

    attempt, found = solved if solved is not None else solve_index(dataset, index)
    spec = draft_episode(dataset, index, attempt)
    subgoals = subgoals_from_plan(make_state(spec), found)
    done = dataclasses.replace(spec, subgoals=tuple(subgoals))
    done.__dict__["goal_expr"] = spec.goal_expr  # keep the parsed goal (a cached_property)
    return done, found
