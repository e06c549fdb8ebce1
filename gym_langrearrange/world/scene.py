"""Procedural apartments: 105 scenes, each a pure function of its index (spec §2).

A scene is a rectangular room whose receptacles stand against the walls. Going around
the walls clockwise (seen from above) is going left-to-right for a robot that faces
the wall, so ``wall_order`` defines "left of"/"right of" without ambiguity. The four
cabinet drawers sit under the kitchen counters and are not part of the wall order.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

from gym_langrearrange.catalog import DRAWERS, KITCHEN_BLOCK, OPTIONAL_RECEPTACLES, RECEPTACLES
from gym_langrearrange.rng import DetRng

NUM_SCENES = 105
SCENE_SPLITS: dict[str, range] = {"train": range(0, 63), "val": range(63, 84), "test": range(84, 105)}

#: footprint width along the wall, in metres
_WIDTHS = {"sofa": 2.0, "chair": 0.8, "black table": 1.4, "brown table": 1.4, "coffee table": 1.0,
           "TV stand": 1.6, "shelf": 1.0, "left counter": 1.2, "sink": 1.0, "right counter": 1.2, "fridge": 0.9}
_STAND_OFF = 0.9  # the robot stands this far from the wall, facing it

# Scene palettes: named colours stay true to their names (black table, brown table).
_WALL_COLOURS = [(222, 214, 196), (205, 220, 226), (232, 222, 232), (214, 226, 206), (236, 230, 214),
                 (210, 206, 222), (240, 236, 226), (226, 208, 196)]
_FLOOR_COLOURS = [(150, 110, 74), (176, 144, 104), (120, 120, 126), (196, 178, 150), (110, 84, 62),
                  (160, 150, 136), (136, 112, 92), (184, 164, 128)]
_SOFA_COLOURS = [(70, 90, 150), (150, 60, 60), (90, 120, 80), (110, 100, 90), (60, 110, 120), (140, 110, 60)]
_WOOD_COLOURS = [(170, 130, 90), (190, 160, 120), (150, 110, 80), (210, 190, 150), (120, 90, 70)]
_COUNTER_COLOURS = [(200, 200, 196), (90, 90, 96), (220, 210, 190), (160, 170, 176), (235, 235, 235)]
_CABINET_COLOURS = [(240, 240, 236), (80, 100, 120), (150, 120, 90), (110, 130, 100), (60, 60, 66)]


@dataclass(frozen=True)
class Placement:
    """Where a receptacle stands and where the robot stands to use it (metres, radians)."""

    name: str
    wall: int  # 0 left (x=0), 1 top (y=depth), 2 right (x=width), 3 bottom (y=0)
    x: float
    y: float
    width: float
    stand: tuple[float, float, float]  # robot base x, y, heading when "at" this receptacle


@dataclass(frozen=True)
class Scene:
    index: int
    split: str  # "train" | "val" | "test"
    width: float
    depth: float
    receptacles: tuple[str, ...]  # present receptacles, in catalog order
    placements: dict[str, Placement]
    wall_order: tuple[str, ...]  # non-drawer receptacles, left-to-right when facing the walls (cyclic)
    wall_colour: tuple[int, int, int]
    floor_colour: tuple[int, int, int]
    palette: dict[str, tuple[int, int, int]]  # main colour of each receptacle

    def has(self, receptacle: str) -> bool:
        return receptacle in self.placements

    @cached_property
    def present_mask(self) -> tuple[bool, ...]:
        return tuple(r in self.placements for r in RECEPTACLES)

    def right_of(self, receptacle: str) -> str:
        i = self.wall_order.index(receptacle)
        return self.wall_order[(i + 1) % len(self.wall_order)]

    def left_of(self, receptacle: str) -> str:
        i = self.wall_order.index(receptacle)
        return self.wall_order[i - 1]


def scene_ids(split: str) -> range:
    try:
        return SCENE_SPLITS[split]
    except KeyError:
        raise ValueError(f"unknown scene split {split!r}; allowed: {', '.join(SCENE_SPLITS)}") from None


def _split_of(index: int) -> str:
    for name, ids in SCENE_SPLITS.items():
        if index in ids:
            return name
    raise ValueError(f"scene index must be an int in 0..{NUM_SCENES - 1}, got {index!r}")


def _wall_point(s: float, width: float, depth: float) -> tuple[int, float, float]:
    """Point at perimeter distance ``s`` going clockwise from the bottom-left corner up the left wall."""
    if s < depth:
        return 0, 0.0, s
    s -= depth
    if s < width:
        return 1, s, depth
    s -= width
    if s < depth:
        return 2, width, depth - s
    return 3, width - (s - depth), 0.0


_INWARD = {0: (1.0, 0.0), 1: (0.0, -1.0), 2: (-1.0, 0.0), 3: (0.0, 1.0)}


def _lay_out(units: list[list[str]], gaps: list[float], spread: float, start: float, width: float,
             depth: float) -> tuple[dict[str, Placement], list[str]] | None:
    """Place units clockwise along the walls from ``start``; None if they do not fit."""
    perimeter = 2 * (width + depth)
    corners = [0.0, depth, depth + width, 2 * depth + width, perimeter, perimeter + depth, perimeter + depth + width,
               perimeter + 2 * depth + width, 2 * perimeter]
    used = sum(_WIDTHS[r] for u in units for r in u)
    slack = max(0.0, perimeter - used - 0.6 * len(units) - 4.0)
    s = start
    placements: dict[str, Placement] = {}
    wall_order: list[str] = []
    for unit, gap in zip(units, gaps):
        unit_w = sum(_WIDTHS[r] for r in unit)
        s += 0.3 + gap * spread * slack / len(units)
        for c0, c1 in zip(corners, corners[1:]):  # keep a unit on one wall
            if c0 <= s < c1 and s + unit_w > c1 - 0.2:
                s = c1 + 0.3
                break
        for r in unit:
            w = _WIDTHS[r]
            wall, x, y = _wall_point((s + w / 2) % perimeter, width, depth)
            nx, ny = _INWARD[wall]
            heading = math.atan2(-ny, -nx)  # facing the wall
            stand = (round(x + nx * _STAND_OFF, 3), round(y + ny * _STAND_OFF, 3), round(heading, 4))
            placements[r] = Placement(r, wall, round(x, 3), round(y, 3), w, stand)
            wall_order.append(r)
            s += w
        s += 0.3
    if s - start > perimeter:
        return None
    return placements, wall_order


@lru_cache(maxsize=None)
def get_scene(index: int) -> Scene:
    """Scene ``index`` (0-104), generated deterministically."""
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < NUM_SCENES:
        raise ValueError(f"scene index must be an int in 0..{NUM_SCENES - 1}, got {index!r}")
    rng = DetRng("scene", index)
    width = round(rng.uniform(7.5, 10.5), 2)
    depth = round(rng.uniform(6.0, 8.0), 2)
    present = [r for r in RECEPTACLES if r not in OPTIONAL_RECEPTACLES or rng.chance(0.6)]
    # units placed along the walls: the kitchen (fridge on one side of the counters) and single pieces
    kitchen = list(KITCHEN_BLOCK) + ["fridge"] if rng.chance(0.5) else ["fridge"] + list(KITCHEN_BLOCK)
    singles = [r for r in present if r not in kitchen and r not in DRAWERS]
    units = [kitchen] + [[r] for r in singles]
    units = [units[0]] + rng.shuffled(units[1:])
    perimeter = 2 * (width + depth)
    start = rng.uniform(0.0, perimeter)  # rotates the whole arrangement around the room
    gaps = [rng.random() for _ in units]
    for spread in (0.8, 0.5, 0.3, 0.1, 0.0):  # shrink the random gaps until everything fits
        layout = _lay_out(units, gaps, spread, start, width, depth)
        if layout is not None:
            placements, wall_order = layout
            break
    else:  # pragma: no cover - the sizes above always fit with zero spread
        raise RuntimeError(f"scene {index}: receptacles do not fit on the walls")
    # drawers: two under each counter, reached from slightly left/right of the counter's stand pose
    for i, drawer in enumerate(DRAWERS):
        counter = placements["left counter" if i < 2 else "right counter"]
        side = -0.3 if i % 2 == 0 else 0.3
        nx, ny = _INWARD[counter.wall]
        tx, ty = -ny, nx  # along the wall, to the robot's right when it faces the wall
        sx, sy, heading = counter.stand
        placements[drawer] = Placement(drawer, counter.wall, round(counter.x + tx * side, 3),
                                       round(counter.y + ty * side, 3), 0.5,
                                       (round(sx + tx * side, 3), round(sy + ty * side, 3), heading))
    wood = rng.choice(_WOOD_COLOURS)
    counter_colour = rng.choice(_COUNTER_COLOURS)
    cabinet_colour = rng.choice(_CABINET_COLOURS)
    palette = {
        "sofa": rng.choice(_SOFA_COLOURS), "chair": rng.choice(_WOOD_COLOURS + _SOFA_COLOURS),
        "black table": (38, 38, 42), "brown table": (112, 72, 40), "coffee table": wood,
        "TV stand": rng.choice(_WOOD_COLOURS + [(50, 50, 54)]), "shelf": rng.choice(_WOOD_COLOURS),
        "left counter": counter_colour, "sink": (176, 184, 190), "right counter": counter_colour,
        "fridge": rng.choice([(236, 236, 236), (196, 200, 204), (60, 62, 66)]),
    }
    for d in DRAWERS:
        palette[d] = cabinet_colour
    ordered = tuple(r for r in RECEPTACLES if r in placements)
    return Scene(index=index, split=_split_of(index), width=width, depth=depth, receptacles=ordered,
                 placements={r: placements[r] for r in ordered}, wall_order=tuple(wall_order),
                 wall_colour=rng.choice(_WALL_COLOURS), floor_colour=rng.choice(_FLOOR_COLOURS),
                 palette={r: palette[r] for r in ordered})

