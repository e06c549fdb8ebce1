"""The static part of the head-camera view: wall, floor and receptacles, and where objects go.

Everything here runs once per (scene, image size, viewpoint) and is cached by the renderer,
so it favours clarity over speed. Geometry is in a *wall frame* in metres: ``a`` runs along
the wall to the robot's right, ``d`` is the distance out from the wall, ``h`` the height.
A pinhole :class:`Camera` faces the wall; receptacles are unions of shaded boxes drawn with
Pillow at 2-3x supersampling (painter's order: far and outer parts first).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from gym_langrearrange.catalog import DRAWERS
from gym_langrearrange.render.raster import Colour, mix, scale
from gym_langrearrange.world.scene import Scene

WALL_HEIGHT = 2.6


@dataclass(frozen=True)
class Camera:
    """Head camera ``dist`` m out from the wall at ``height`` m, pitched down ``pitch`` rad.

    ``focal`` is in image widths, so the same camera serves every image size.
    """

    dist: float
    height: float
    pitch: float
    focal: float
    a: float = 0.0  # position along the wall

    def __post_init__(self) -> None:  # the trigonometry every projection needs, computed once
        object.__setattr__(self, "_cp", math.cos(self.pitch))
        object.__setattr__(self, "_sp", math.sin(self.pitch))

    def to_camera(self, a: float, d: float, h: float) -> tuple[float, float, float]:
        """Camera-space (right, up, forward) coordinates of a wall-frame point."""
        cp, sp = self._cp, self._sp  # type: ignore[attr-defined]
        dd, dh = d - self.dist, h - self.height
        return a - self.a, -dd * sp + dh * cp, -dd * cp - dh * sp

    def project(self, a: float, d: float, h: float) -> tuple[float, float, float]:
        """Normalised image (x, y), [0, 1] inside the picture, and the depth ``z`` of a point."""
        x, up, z = self.to_camera(a, d, h)
        zz = max(z, 1e-3)
        return 0.5 + self.focal * x / zz, 0.5 - self.focal * up / zz, z


@dataclass(frozen=True)
class Row:
    """A line of object slots: ``half`` m either side of ``a`` at distance ``d`` and height ``h``."""

    half: float
    d: float
    h: float
    a: float = 0.0


@dataclass(frozen=True)
class ViewSpec:
    """How the robot sees one kind of receptacle: camera, slot rows, object size in metres."""

    camera: Camera
    rows: tuple[Row, ...]  # back to front (or top to bottom)
    obj: float  # box size of a "large" object, metres (objects are drawn larger than life)
    prefer: tuple[int, ...] = ()  # row order for few objects; empty = spread rows evenly

    def row_set(self, k: int) -> list[Row]:
        """The k rows used for k rows' worth of objects, back to front."""
        if self.prefer:
            return [self.rows[i] for i in sorted(self.prefer[:k])]
        if len(self.rows) == 1 or k == 1:
            return [self.rows[len(self.rows) // 2]]
        first, last = self.rows[0], self.rows[-1]
        return [Row(first.half, first.d + (last.d - first.d) * j / (k - 1), first.h + (last.h - first.h) * j / (k - 1))
                for j in range(k)]

    @property
    def max_rows(self) -> int:
        return len(self.prefer) if self.prefer else max(len(self.rows), 1)


def _surface(half: float, d0: float, d1: float, h: float, rows: int = 2) -> tuple[Row, ...]:
    return tuple(Row(half, d0 + (d1 - d0) * j / max(rows - 1, 1), h) for j in range(rows))


_P = 0.72  # usual camera pitch (41 degrees down)
VIEWS: dict[str, ViewSpec] = {
    "sofa": ViewSpec(Camera(2.1, 1.85, 0.78, 1.0), _surface(0.66, 0.5, 0.8, 0.52), 0.34),
    "chair": ViewSpec(Camera(1.35, 1.55, 0.9, 1.2), _surface(0.17, 0.26, 0.5, 0.47), 0.26),
    "black table": ViewSpec(Camera(1.4, 1.9, 0.9, 1.05), _surface(0.5, 0.28, 0.62, 0.77), 0.3),
    "brown table": ViewSpec(Camera(1.4, 1.9, 0.9, 1.05), _surface(0.5, 0.28, 0.62, 0.77), 0.3),
    "coffee table": ViewSpec(Camera(1.3, 1.6, 0.98, 1.1), _surface(0.36, 0.2, 0.52, 0.44), 0.27),
    "TV stand": ViewSpec(Camera(1.6, 1.7, 0.8, 0.95), _surface(0.6, 0.26, 0.42, 0.5), 0.28),
    "shelf": ViewSpec(Camera(1.3, 1.95, 0.85, 1.15), _surface(0.36, 0.14, 0.34, 0.9), 0.25),
    "left counter": ViewSpec(Camera(1.35, 1.95, 0.88, 1.05), _surface(0.46, 0.2, 0.54, 0.91), 0.28),
    "right counter": ViewSpec(Camera(1.35, 1.95, 0.88, 1.05), _surface(0.46, 0.2, 0.54, 0.91), 0.28),
    "sink": ViewSpec(Camera(1.3, 1.95, 0.9, 1.15), (Row(0.24, 0.26, 0.86), Row(0.24, 0.42, 0.86)), 0.25),
    "fridge": ViewSpec(Camera(2.3, 1.3, 0.36, 1.2),
                       (Row(0.27, 0.4, 0.84), Row(0.27, 0.45, 0.44), Row(0.27, 0.5, 0.08)), 0.33, prefer=(1, 0, 2)),
    "drawer": ViewSpec(Camera(1.5, 1.6, 1.0, 1.3), _surface(0.15, 0.72, 0.9, 0.66), 0.19),
}
START_CAMERA_HEIGHT = 1.3


class Painter:
    """Pillow canvas that draws wall-frame polygons through a camera, supersampled."""

    def __init__(self, size: int, camera: Camera) -> None:
        self.size, self.camera = size, camera
        self.ss = 3 if size < 160 else 2
        self.n = size * self.ss
        self.image = Image.new("RGB", (self.n, self.n))
        self.draw = ImageDraw.Draw(self.image)

    def fill_all(self, colour: Colour) -> None:
        self.draw.rectangle((0, 0, self.n, self.n), fill=colour)

    def poly(self, points: Sequence[tuple[float, float, float]], colour: Colour) -> None:
        """Fill a planar wall-frame polygon, clipped at a near plane in front of the camera."""
        cam = [self.camera.to_camera(*pt) for pt in points]
        near, f, n = 0.05, self.camera.focal, self.n
        if min(c[2] for c in cam) < near:
            clipped = []
            for i, cur in enumerate(cam):
                prev = cam[i - 1]
                if (cur[2] >= near) != (prev[2] >= near):  # the edge crosses the near plane
                    t = (near - prev[2]) / (cur[2] - prev[2])
                    clipped.append(tuple(p + (c - p) * t for p, c in zip(prev, cur)))
                if cur[2] >= near:
                    clipped.append(cur)
            if len(clipped) < 3:
                return
            cam = clipped
        self.draw.polygon([((0.5 + f * x / z) * n, (0.5 - f * up / z) * n) for x, up, z in cam], fill=colour)

    def quad_front(self, a0: float, a1: float, d: float, h0: float, h1: float, colour: Colour) -> None:
        """An upright rectangle facing the camera (doors, drawer fronts, screens)."""
        self.poly([(a0, d, h0), (a1, d, h0), (a1, d, h1), (a0, d, h1)], colour)

    def box(self, a0: float, a1: float, d0: float, d1: float, h0: float, h1: float, colour: Colour,
            top: Colour | None = None) -> None:
        """The visible faces of an axis-aligned box, shaded as if lit from above."""
        cam = self.camera
        if a0 > cam.a:
            self.poly([(a0, d0, h0), (a0, d1, h0), (a0, d1, h1), (a0, d0, h1)], scale(colour, 0.72))
        if a1 < cam.a:
            self.poly([(a1, d0, h0), (a1, d1, h0), (a1, d1, h1), (a1, d0, h1)], scale(colour, 0.72))
        if h1 < cam.height:
            self.poly([(a0, d0, h1), (a1, d0, h1), (a1, d1, h1), (a0, d1, h1)], top or scale(colour, 1.12))
        self.quad_front(a0, a1, d1, h0, h1, scale(colour, 0.9))

    def pixels(self) -> np.ndarray:
        return np.asarray(self.image.reduce(self.ss), dtype=np.uint8).copy()


# --- receptacle models: each draws itself centred at ``a`` along the wall --------------------

def _legs(p: Painter, a: float, half: float, d0: float, d1: float, h: float, colour: Colour, t: float = 0.05) -> None:
    for d in (d0, d1 - t):  # back legs first
        for x in (a - half, a + half - t):
            p.box(x, x + t, d, d + t, 0.0, h, colour)


def _table(p: Painter, a: float, w: float, c: Colour, height: float = 0.77, depth: float = 0.72) -> None:
    _legs(p, a, w / 2 - 0.05, 0.06, depth - 0.04, height - 0.04, scale(c, 0.85))
    p.box(a - w / 2, a + w / 2, 0.02, depth, height - 0.05, height, c, top=scale(c, 1.25 if sum(c) < 150 else 1.08))


def _coffee_table(p: Painter, a: float, w: float, c: Colour) -> None:
    _legs(p, a, w / 2 - 0.06, 0.08, 0.56, 0.4, scale(c, 0.8), t=0.06)
    p.box(a - w / 2 + 0.06, a + w / 2 - 0.06, 0.1, 0.54, 0.1, 0.13, scale(c, 0.9))
    p.box(a - w / 2, a + w / 2, 0.04, 0.6, 0.38, 0.44, c)


def _chair(p: Painter, a: float, w: float, c: Colour) -> None:
    legs = scale(c, 0.6)
    for x in (a - 0.25, a + 0.2):
        p.box(x, x + 0.05, 0.08, 0.13, 0.0, 1.02, legs)
    p.box(a - 0.25, a + 0.25, 0.08, 0.12, 0.7, 1.0, c)
    p.box(a - 0.25, a + 0.25, 0.08, 0.12, 0.5, 0.56, c)
    for x in (a - 0.25, a + 0.2):
        p.box(x, x + 0.05, 0.5, 0.55, 0.0, 0.42, legs)
    p.box(a - 0.27, a + 0.27, 0.06, 0.58, 0.41, 0.47, c)


def _sofa(p: Painter, a: float, w: float, c: Colour) -> None:
    h = w / 2
    p.box(a - h, a + h, 0.04, 0.9, 0.08, 0.42, scale(c, 0.8))
    p.box(a - h, a + h, 0.04, 0.28, 0.42, 0.92, scale(c, 0.9))
    inner = h - 0.2
    for k in range(3):
        x0 = a - inner + 2 * inner * k / 3
        p.box(x0 + 0.02, x0 + 2 * inner / 3 - 0.02, 0.24, 0.4, 0.48, 0.86, c)
    for k in range(3):
        x0 = a - inner + 2 * inner * k / 3
        p.box(x0 + 0.01, x0 + 2 * inner / 3 - 0.01, 0.32, 0.9, 0.42, 0.53, c, top=scale(c, 1.15))
    p.box(a - h, a - inner, 0.04, 0.9, 0.08, 0.66, scale(c, 0.92))
    p.box(a + inner, a + h, 0.04, 0.9, 0.08, 0.66, scale(c, 0.92))


def _tv_stand(p: Painter, a: float, w: float, c: Colour) -> None:
    h = w / 2
    p.box(a - 0.18, a + 0.18, 0.1, 0.24, 0.5, 0.53, (40, 40, 44))
    p.box(a - 0.03, a + 0.03, 0.12, 0.15, 0.53, 0.66, (40, 40, 44))
    p.box(a - 0.62, a + 0.62, 0.1, 0.15, 0.62, 1.3, (30, 30, 34))
    p.quad_front(a - 0.59, a + 0.59, 0.151, 0.65, 1.27, (36, 48, 66))
    p.poly([(a - 0.59, 0.152, 1.27), (a - 0.2, 0.152, 1.27), (a - 0.5, 0.152, 0.65), (a - 0.59, 0.152, 0.65)],
           (52, 66, 88))
    p.box(a - h, a + h, 0.02, 0.46, 0.06, 0.5, c)
    for k in range(3):
        x0 = a - h + 0.04 + (w - 0.08) * k / 3
        p.quad_front(x0 + 0.02, x0 + (w - 0.08) / 3 - 0.02, 0.461, 0.1, 0.44, scale(c, 0.8))
        p.box(x0 + (w - 0.08) / 6 - 0.04, x0 + (w - 0.08) / 6 + 0.04, 0.461, 0.48, 0.38, 0.4, (60, 60, 60))


def _shelf(p: Painter, a: float, w: float, c: Colour) -> None:
    h = w / 2
    p.box(a - h, a + h, 0.02, 0.42, 0.0, 0.9, c)
    for h0, h1 in ((0.06, 0.42), (0.48, 0.84)):
        p.quad_front(a - h + 0.04, a + h - 0.04, 0.421, h0, h1, scale(c, 0.45))
        p.poly([(a - h + 0.04, 0.421, h0), (a + h - 0.04, 0.421, h0), (a + h - 0.08, 0.421, h0 + 0.04),
                (a - h + 0.08, 0.421, h0 + 0.04)], scale(c, 0.7))


def _cabinet(p: Painter, a: float, w: float, body: Colour, top: Colour, drawers: Sequence[tuple[float, bool]],
             sink: bool = False) -> None:
    """Counter or sink: cabinet, drawer fronts (offset, open), countertop, basin and tap for the sink."""
    h = w / 2
    p.box(a - h, a + h, 0.02, 0.56, 0.0, 0.1, (50, 50, 54))
    p.box(a - h, a + h, 0.02, 0.6, 0.1, 0.86, body)
    handle = (70, 70, 76) if sum(body) > 300 else (200, 200, 206)
    door_top = 0.82 if sink or not drawers else 0.6
    for k in range(2):
        x0 = a - h + 0.04 + (w - 0.08) * k / 2
        p.quad_front(x0 + 0.02, x0 + (w - 0.08) / 2 - 0.02, 0.601, 0.14, door_top, scale(body, 0.96))
        hx = x0 + (w - 0.08) / 2 - 0.08 if k == 0 else x0 + 0.06
        p.box(hx, hx + 0.02, 0.601, 0.62, door_top - 0.2, door_top - 0.06, handle)
    p.box(a - h - 0.02, a + h + 0.02, 0.0, 0.64, 0.86, 0.91, top)
    p.quad_front(a - h, a + h, 0.001, 0.91, 1.45, mix(top, (255, 255, 255), 0.35))
    for k in range(1, 4):
        hh = 0.91 + 0.135 * k
        p.poly([(a - h, 0.002, hh), (a + h, 0.002, hh), (a + h, 0.002, hh + 0.008), (a - h, 0.002, hh + 0.008)],
               scale(top, 0.85))
    for off, is_open in drawers:
        _drawer(p, a + off, body, handle, is_open)
    if sink:
        basin = scale(top, 0.62)
        p.poly([(a - 0.36, 0.1, 0.911), (a + 0.36, 0.1, 0.911), (a + 0.36, 0.52, 0.911), (a - 0.36, 0.52, 0.911)],
               basin)
        p.poly([(a - 0.36, 0.1, 0.911), (a + 0.36, 0.1, 0.911), (a + 0.33, 0.14, 0.78), (a - 0.33, 0.14, 0.78)],
               scale(top, 0.8))
        p.box(a - 0.025, a + 0.025, 0.03, 0.07, 0.91, 1.18, (200, 204, 210))
        p.box(a - 0.025, a + 0.025, 0.03, 0.24, 1.14, 1.18, (200, 204, 210))
        for x in (a - 0.12, a + 0.1):
            p.box(x, x + 0.03, 0.03, 0.08, 0.91, 1.0, (200, 204, 210))


def _drawer(p: Painter, a: float, body: Colour, handle: Colour, is_open: bool) -> None:
    """A 0.5 m cabinet drawer at the top of the cabinet; open = pulled out 0.4 m, contents visible."""
    front = scale(body, 1.02)
    if not is_open:
        p.quad_front(a - 0.24, a + 0.24, 0.602, 0.64, 0.83, front)
        p.box(a - 0.08, a + 0.08, 0.602, 0.62, 0.72, 0.74, handle)
        return
    out = 0.4
    p.quad_front(a - 0.24, a + 0.24, 0.602, 0.63, 0.84, (28, 26, 24))
    inside = (214, 190, 150)
    p.poly([(a - 0.22, 0.6, 0.66), (a + 0.22, 0.6, 0.66), (a + 0.22, 0.6 + out, 0.66), (a - 0.22, 0.6 + out, 0.66)],
           inside)
    p.quad_front(a - 0.22, a + 0.22, 0.6, 0.66, 0.8, scale(inside, 0.8))
    p.box(a - 0.24, a - 0.22, 0.6, 0.6 + out, 0.64, 0.8, scale(inside, 0.9))
    p.box(a + 0.22, a + 0.24, 0.6, 0.6 + out, 0.64, 0.8, scale(inside, 0.9))
    p.box(a - 0.24, a + 0.24, 0.6 + out, 0.62 + out, 0.62, 0.83, front)
    p.box(a - 0.08, a + 0.08, 0.62 + out, 0.64 + out, 0.72, 0.74, handle)


def _fridge(p: Painter, a: float, w: float, c: Colour, is_open: bool) -> None:
    h = w / 2
    p.box(a - h, a + h, 0.02, 0.68, 0.02, 1.9, c)
    handle = (150, 154, 160) if sum(c) > 300 else (190, 190, 196)
    p.quad_front(a - h + 0.01, a + h - 0.01, 0.681, 1.3, 1.32, scale(c, 0.7))
    p.box(a - h + 0.05, a - h + 0.08, 0.681, 0.72, 1.4, 1.62, handle)
    if not is_open:
        p.box(a - h + 0.05, a - h + 0.08, 0.681, 0.72, 0.78, 1.2, handle)
        return
    inside = (226, 232, 238)
    p.quad_front(a - h + 0.03, a + h - 0.03, 0.682, 0.05, 1.28, scale(inside, 0.8))
    for sign in (-1, 1):  # inner side walls
        x0, x1 = a + sign * (h - 0.03), a + sign * (h - 0.07)
        p.poly([(x0, 0.682, 0.05), (x1, 0.1, 0.1), (x1, 0.1, 1.24), (x0, 0.682, 1.28)], scale(inside, 0.88))
    p.quad_front(a - h + 0.07, a + h - 0.07, 0.1, 0.1, 1.24, inside)
    p.poly([(a - h + 0.03, 0.682, 0.05), (a + h - 0.03, 0.682, 0.05), (a + h - 0.07, 0.1, 0.1),
            (a - h + 0.07, 0.1, 0.1)], scale(inside, 0.95))
    for sh in (0.42, 0.82):
        p.box(a - h + 0.05, a + h - 0.05, 0.1, 0.66, sh - 0.02, sh, (196, 214, 226), top=(206, 224, 236))
    hinge_a, hinge_d, beta = a + h, 0.68, math.radians(112)
    fa, fd = hinge_a - w * math.cos(beta), hinge_d + w * math.sin(beta)
    p.poly([(hinge_a, hinge_d, 0.03), (fa, fd, 0.03), (fa, fd, 1.29), (hinge_a, hinge_d, 1.29)], scale(c, 0.95))
    for k in range(3):  # door bins
        hh = 0.25 + 0.35 * k
        p.poly([(hinge_a, hinge_d, hh), (fa, fd, hh), (fa, fd, hh + 0.1), (hinge_a, hinge_d, hh + 0.1)],
               scale(c, 0.8))


# --- the room --------------------------------------------------------------------------------

@dataclass(frozen=True)
class WallItem:
    """A receptacle on the wall being looked at: name, centre along the wall, width, open state."""

    name: str
    a: float
    width: float
    is_open: bool = False
    drawers: tuple[tuple[float, bool], ...] = ()


def along(scene: Scene, wall: int, x: float, y: float) -> float:
    """Position of a floor point along ``wall``, increasing to the right of a robot facing it."""
    return {0: y, 1: x, 2: -y, 3: -x}[wall]


def wall_extent(scene: Scene, wall: int) -> tuple[float, float]:
    return {0: (0.0, scene.depth), 1: (0.0, scene.width), 2: (-scene.depth, 0.0), 3: (-scene.width, 0.0)}[wall]


def wall_items(scene: Scene, wall: int, open_name: str | None = None) -> list[WallItem]:
    """The receptacles standing against ``wall``; ``open_name`` (fridge or a drawer) is drawn open."""
    items = []
    for name, pl in scene.placements.items():
        if pl.wall != wall or name in DRAWERS:
            continue
        a = along(scene, wall, pl.x, pl.y)
        drawers = []
        if name in ("left counter", "right counter"):
            for d in DRAWERS:
                dp = scene.placements[d]
                off = along(scene, wall, dp.x, dp.y) - a
                if dp.wall == wall and abs(off) < pl.width / 2:
                    drawers.append((off, d == open_name))
        items.append(WallItem(name, a, pl.width, name == open_name, tuple(drawers)))
    return items


def draw_item(p: Painter, scene: Scene, item: WallItem) -> None:
    pal = scene.palette
    a, w, n = item.a, item.width, item.name
    models: dict[str, Callable[[], None]] = {
        "sofa": lambda: _sofa(p, a, w, pal[n]),
        "chair": lambda: _chair(p, a, w, pal[n]),
        "black table": lambda: _table(p, a, w, pal[n]),
        "brown table": lambda: _table(p, a, w, pal[n]),
        "coffee table": lambda: _coffee_table(p, a, w, pal[n]),
        "TV stand": lambda: _tv_stand(p, a, w, pal[n]),
        "shelf": lambda: _shelf(p, a, w, pal[n]),
        "left counter": lambda: _cabinet(p, a, w, pal[DRAWERS[0]], pal[n], item.drawers),
        "right counter": lambda: _cabinet(p, a, w, pal[DRAWERS[0]], pal[n], item.drawers),
        "sink": lambda: _cabinet(p, a, w, pal[DRAWERS[0]], pal[n], (), sink=True),
        "fridge": lambda: _fridge(p, a, w, pal[n], item.is_open),
    }
    models[n]()


def view_reach(cam: Camera) -> float:
    """How far along the wall, either side of the camera, anything can still be in view (generous)."""
    return 0.6 / cam.focal * (cam.dist + cam.height) + 0.5


def draw_room(p: Painter, scene: Scene, wall: int, items: Sequence[WallItem]) -> None:
    """Wall, floor with boards, side walls at the corners in view, then the receptacles."""
    cam = p.camera
    wall_c, floor_c = scene.wall_colour, scene.floor_colour
    p.fill_all(wall_c)
    lo, hi = wall_extent(scene, wall)
    far = cam.dist + 3.0  # past the camera: the near-plane clip trims it
    p.poly([(lo - 20, 0.0, 0.0), (hi + 20, 0.0, 0.0), (hi + 20, far, 0.0), (lo - 20, far, 0.0)], floor_c)
    board = scale(floor_c, 0.9)
    reach = view_reach(cam)
    for k in range(math.floor(max(lo, cam.a - reach) / 0.25), math.ceil(min(hi, cam.a + reach) / 0.25) + 1):
        x = k * 0.25  # floor boards run out from the wall
        p.poly([(x, 0.0, 0.0), (x + 0.008, 0.0, 0.0), (x + 0.008, far, 0.0), (x, far, 0.0)], board)
    p.poly([(lo, 0.0, 0.0), (hi, 0.0, 0.0), (hi, 0.0, 0.1), (lo, 0.0, 0.1)], scale(wall_c, 0.82))
    side = scale(wall_c, 0.86)
    for end in (lo, hi):
        p.poly([(end, 0.0, 0.0), (end, 0.0, WALL_HEIGHT), (end, far, WALL_HEIGHT), (end, far, 0.0)], side)
    for item in sorted(items, key=lambda it: -abs(it.a - cam.a)):
        if abs(item.a - cam.a) - item.width / 2 < reach:  # skip what is out of view
            draw_item(p, scene, item)
