"""EpisodeSpec: one episode as plain data, with the JSON import/export of spec §9.

Loading validates every field and says which episode and which field is wrong, so a
user's hand-written episode file fails loudly instead of producing a broken episode.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from gym_langrearrange.catalog import CATEGORIES, CATEGORY_INFO, OPENABLE, RECEPTACLES
from gym_langrearrange.files import atomic_write_json
from gym_langrearrange.goals import GoalError, GoalExpr, parse_predicate
from gym_langrearrange.rng import DetRng
from gym_langrearrange.world.scene import NUM_SCENES, Scene, get_scene

MAX_OBJECTS = 64
INSTRUCTION_CHARSET = frozenset(chr(c) for c in range(32, 127))  # printable ASCII, see env.py
MAX_INSTRUCTION_CHARS = 512


class EpisodeError(ValueError):
    """A malformed or unsolvable episode; the message names the episode and the field."""


class ObjectSpec(NamedTuple):
    """One object of an episode (a NamedTuple: episodes hold dozens and are built on every reset)."""

    category: str
    instance: int
    receptacle: str


@dataclass(frozen=True)
class EpisodeSpec:
    episode_id: str
    split: str
    scene: int
    instruction: str
    objects: tuple[ObjectSpec, ...]
    goal: dict[str, Any]
    open: tuple[str, ...] = ()
    robot_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    subgoals: tuple[str, ...] = ()
    template: str = ""  # which instruction template produced it (informational)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @cached_property
    def goal_expr(self) -> GoalExpr:
        """The parsed goal (parsed once per episode object)."""
        return GoalExpr.from_json(self.goal)

    @cached_property
    def subgoal_exprs(self) -> tuple[GoalExpr, ...]:
        return tuple(GoalExpr("AND", (parse_predicate(s, "subgoals"),)) for s in self.subgoals)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "episode_id": self.episode_id, "split": self.split, "scene": self.scene, "instruction": self.instruction,
            "objects": [{"category": o.category, "instance": o.instance, "receptacle": o.receptacle}
                        for o in self.objects],
            "open": list(self.open),
            "robot_start": {"x": self.robot_start[0], "y": self.robot_start[1], "heading": self.robot_start[2]},
            "goal": self.goal, "subgoals": list(self.subgoals),
        }
        if self.template:
            out["template"] = self.template
        return out


def save_episodes(episodes: list[EpisodeSpec], path: str | os.PathLike) -> None:
    """Write a JSON list of episodes (atomically: a crash never leaves half a file)."""
    atomic_write_json(path, [e.to_json() for e in episodes])


def load_episodes(path: str | os.PathLike, check_solvable: bool = True) -> list[EpisodeSpec]:
    """Read and validate an episode file (a JSON list of episodes, or one episode object)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise EpisodeError(f"episode file {str(path)!r} does not exist") from None
    except json.JSONDecodeError as e:
        raise EpisodeError(f"episode file {str(path)!r} is not valid JSON: {e}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise EpisodeError(f"episode file {str(path)!r} must hold a non-empty JSON list of episodes")
    episodes = [episode_from_json(d, i) for i, d in enumerate(data)]
    seen: set[str] = set()
    for e in episodes:
        if e.episode_id in seen:
            raise EpisodeError(f"episode {e.episode_id!r}: field 'episode_id' is used twice in {str(path)!r}")
        seen.add(e.episode_id)
    if check_solvable:
        from gym_langrearrange.datasets.build import solve_episode  # needs the planner

        solved = []
        for position, episode in enumerate(episodes):
            try:
                solved.append(solve_episode(episode)[0])
            except EpisodeError as e:  # name the file and the position, as the checks above do
                raise EpisodeError(f"episode file {str(path)!r}, episode #{position}: {e}") from None
        episodes = solved
    return episodes


def episode_from_json(data: Any, position: int = 0) -> EpisodeSpec:
    """Validate one episode dict; ``position`` names it when it has no usable episode_id."""
    if not isinstance(data, dict):
        raise EpisodeError(f"episode #{position}: expected a JSON object, got {type(data).__name__}")
    eid = data.get("episode_id", f"#{position}")
    name = f"episode {eid!r}" if isinstance(eid, str) else f"episode #{position}"

    def fail(fld: str, msg: str) -> EpisodeError:
        return EpisodeError(f"{name}: field '{fld}' {msg}")

    if not isinstance(eid, str) or not eid:
        raise fail("episode_id", f"must be a non-empty string, got {eid!r}")
    for required in ("scene", "objects", "goal"):
        if required not in data:
            raise fail(required, "is required")
    scene = data["scene"]
    if not isinstance(scene, int) or isinstance(scene, bool) or not 0 <= scene < NUM_SCENES:
        raise fail("scene", f"must be an int in 0..{NUM_SCENES - 1}, got {scene!r}")
    scn = get_scene(scene)
    split = data.get("split", "custom")
    if not isinstance(split, str):
        raise fail("split", f"must be a string, got {split!r}")
    instruction = data.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise fail("instruction", "must be a non-empty string")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise fail("instruction", f"has {len(instruction)} characters; at most {MAX_INSTRUCTION_CHARS} are allowed")
    bad = sorted(set(instruction) - INSTRUCTION_CHARSET)
    if bad:
        raise fail("instruction", f"contains {''.join(bad)!r}; only printable ASCII characters are allowed")
    raw_objects = data["objects"]
    if not isinstance(raw_objects, list) or not 1 <= len(raw_objects) <= MAX_OBJECTS:
        raise fail("objects", f"must be a list of 1..{MAX_OBJECTS} objects")
    objects = []
    for i, o in enumerate(raw_objects):
        at = f"objects[{i}]"
        if not isinstance(o, dict):
            raise fail(at, "must be an object with category, receptacle and optional instance")
        cat = o.get("category")
        if cat not in CATEGORY_INFO:
            raise fail(f"{at}.category", f"is {cat!r}; allowed: {', '.join(CATEGORIES)}")
        rec = o.get("receptacle")
        if rec not in RECEPTACLES:
            raise fail(f"{at}.receptacle", f"is {rec!r}; allowed: {', '.join(RECEPTACLES)}")
        if not scn.has(rec):
            raise fail(f"{at}.receptacle", f"{rec!r} is not in scene {scene}; it has {', '.join(scn.receptacles)}")
        n_inst = len(CATEGORY_INFO[cat].instances)
        inst = o.get("instance", (i * 7 + len(cat)) % n_inst)  # deterministic default
        if not isinstance(inst, int) or isinstance(inst, bool) or not 0 <= inst < n_inst:
            raise fail(f"{at}.instance", f"is {inst!r}; {cat} has instances 0..{n_inst - 1}")
        objects.append(ObjectSpec(cat, inst, rec))
    opened = data.get("open", [])
    if not isinstance(opened, list) or any(r not in OPENABLE for r in opened):
        raise fail("open", f"is {opened!r}; must be a list drawn from {', '.join(OPENABLE)}")
    start = data.get("robot_start")
    if start is None:
        robot_start = default_robot_start(scene, eid)
    else:
        if not isinstance(start, dict) or set(start) != {"x", "y", "heading"} or not all(
                isinstance(start[k], (int, float)) and not isinstance(start[k], bool) and math.isfinite(start[k])
                for k in start):
            raise fail("robot_start", f"is {start!r}; must be {{\"x\": float, \"y\": float, \"heading\": float}}")
        if not (0 < start["x"] < scn.width and 0 < start["y"] < scn.depth):
            raise fail("robot_start", f"({start['x']}, {start['y']}) is outside the room "
                                      f"(0..{scn.width} x 0..{scn.depth} m)")
        robot_start = (float(start["x"]), float(start["y"]), float(start["heading"]))
    try:
        goal = GoalExpr.from_json(data["goal"], "goal")
    except GoalError as e:
        raise EpisodeError(f"{name}: field {e}") from None
    for r in goal.receptacles():
        if not scn.has(r):
            raise fail("goal", f"names {r!r}, which is not in scene {scene}")
    subgoals = data.get("subgoals")
    if subgoals is not None:
        if not isinstance(subgoals, list):
            raise fail("subgoals", "must be a list of predicate strings")
        for i, sg in enumerate(subgoals):
            if not isinstance(sg, str):
                raise fail(f"subgoals[{i}]", "must be a predicate string")
            try:
                parse_predicate(sg, f"subgoals[{i}]")
            except GoalError as e:
                raise EpisodeError(f"{name}: field {e}") from None
    template = data.get("template", "")
    return EpisodeSpec(eid, split, scene, instruction, tuple(objects), goal.to_json(), tuple(opened), robot_start,
                       tuple(subgoals) if subgoals is not None else (), template if isinstance(template, str) else "",
                       {"subgoals_given": subgoals is not None})


def default_robot_start(scene_index: int, key: object) -> tuple[float, float, float]:
    """A pose in the middle of the room, away from every receptacle, derived from ``key``."""
    return random_robot_start(get_scene(scene_index), DetRng("robot_start", scene_index, key))


def random_robot_start(scn: Scene, rng: DetRng) -> tuple[float, float, float]:
    """Robots start at least 1.8 m from the walls, i.e. 0.9 m from where they stand at any receptacle."""
    margin = 1.8
    x = round(rng.uniform(margin, scn.width - margin), 3)
    y = round(rng.uniform(margin, scn.depth - margin), 3)
    heading = round(rng.uniform(-math.pi, math.pi), 4)
    return x, y, heading
