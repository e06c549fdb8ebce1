"""The robot's head-camera image, fast enough to render on every env step.

Per step the only work is: build a small signature of what the camera sees (where the
robot is, whether that container is open, which objects are visible there, what it holds),
return a copy of a cached frame for a signature seen recently, or else copy the viewpoint's
static background and paste a few pre-cut sprites with ``np.copyto(where=mask)``.
Backgrounds (one per viewpoint and open state) are drawn lazily on first use and shared by
all renderers of the same scene and size, so a long training run draws each one once.
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from functools import lru_cache
from typing import Hashable

import numpy as np
from PIL import Image

from gym_langrearrange.catalog import DRAWERS, FRIDGE, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.render.appearance import relative_size, sprite_rgba
from gym_langrearrange.render.scenery import (START_CAMERA_HEIGHT, VIEWS, Camera, Painter, ViewSpec, along, draw_room,
                                              wall_items)
from gym_langrearrange.world.scene import Scene
from gym_langrearrange.world.state import OPENABLE_IDS, WorldState

_FRIDGE_ID = RECEPTACLE_INDEX[FRIDGE]
_HELD_SIZE = 0.3  # box of a large held object, in image heights
_CUP = (0.5, 0.74)  # where the suction cup touches the held object, in image units
#: backgrounds shared by all renderers: (scene key, image size, view key) -> _View, least recently used first
_VIEW_CACHE: "OrderedDict[Hashable, _View]" = OrderedDict()
_view_cache_bytes = 0
#: memory bound of that cache. A view is image_size**2 * 3 bytes (192 KiB at 256 px); a scene has
#: about 24 views (15 receptacles, 5 opened containers, 4 walls at the start), so the default keeps
#: the 63 training scenes at 256 px (about 300 MB) and every scene at 128 px. Set it lower to save memory.
VIEW_CACHE_BYTES = 320 * 2**20


def check_image_size(image_size: object) -> int:
    """Image sizes are positive ints; anything else is a caller's mistake worth a clear message."""
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 1:
        raise ValueError(f"image_size must be a positive int (e.g. 64, 128, 256, 336), got {image_size!r}")
    return int(image_size)


#: one RGB pixel as a single 3-byte item: masked copies then move 1 item per pixel, not 3
PIXEL = np.dtype((np.void, 3))


def as_pixels(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8, C-contiguous -> (H, W) array of 3-byte pixels sharing its memory."""
    return rgb.view(PIXEL)[..., 0]


def as_rgb(pixels: np.ndarray) -> np.ndarray:
    """Inverse of :func:`as_pixels`."""
    return pixels.view(np.uint8).reshape(pixels.shape + (3,))


Placed = tuple[slice, slice, np.ndarray, np.ndarray]  # rows, cols of the frame, pixels, mask


@lru_cache(maxsize=8192)
def cut_sprite(category: int, instance: int, box: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A sprite ready to paste: (h, w) pixels, (h, w) boolean mask, and its offset inside the ``box`` square.

    Alpha is thresholded (pasting must be a plain masked copy), so the rim gets an outline
    instead: darker for light objects, lighter for dark ones, which keeps a black mug visible
    on the black table and a white plate on a white counter.
    """
    rgba = sprite_rgba(category, instance, box)
    mask = rgba[..., 3] >= 128
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return np.zeros((0, 0), PIXEL), np.zeros((0, 0), bool), 0, 0
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = np.ascontiguousarray(rgba[y0:y1, x0:x1, :3])
    mask = np.ascontiguousarray(mask[y0:y1, x0:x1])
    if box >= 14:
        padded = np.pad(mask, 1)
        inner = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        rim = mask & ~inner
        px = rgb[rim].astype(np.float32)
        dark = (px @ np.array([0.3, 0.59, 0.11], np.float32)) < 70
        rgb[rim] = np.where(dark[:, None], px * 0.4 + 150, px * 0.45).astype(np.uint8)
    pixels = as_pixels(rgb)
    pixels.setflags(write=False)
    mask.setflags(write=False)
    return pixels, mask, int(x0), int(y0)


def sprite_box(px: float) -> int:
    """Round a sprite box size to a ladder (exact to 24 px, then even, then multiples of 4 from 64 px),
    so a training run draws few distinct sprite sizes."""
    if px < 24.5:
        return max(1, round(px))
    step = 2 if px < 64 else 4
    return int(round(px / step) * step)


def place_sprite(category: int, instance: int, box: int, left: int, top: int, size: int) -> Placed | None:
    """Where a sprite whose ``box`` square has its top-left at (left, top) lands, clipped to the frame."""
    pixels, mask, ox, oy = cut_sprite(category, instance, box)
    h, w = mask.shape
    x0, y0 = left + ox, top + oy
    if x0 >= 0 and y0 >= 0 and x0 + w <= size and y0 + h <= size:  # the common case: nothing to clip
        return slice(y0, y0 + h), slice(x0, x0 + w), pixels, mask
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + w, size), min(y0 + h, size)
    if cx0 >= cx1 or cy0 >= cy1:
        return None
    src = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
    return slice(cy0, cy1), slice(cx0, cx1), pixels[src], mask[src]


class _View:
    """A viewpoint's static background (as pixels) plus where the n-th of n visible objects goes (cached per n)."""

    __slots__ = ("background", "spec", "camera", "size", "_layouts")

    def __init__(self, background: np.ndarray, spec: ViewSpec | None, camera: Camera, size: int) -> None:
        self.background = as_pixels(np.ascontiguousarray(background))
        self.background.setflags(write=False)
        self.spec, self.camera, self.size = spec, camera, size
        self._layouts: dict[int, list[tuple[float, float, float]]] = {}

    def layout(self, n: int) -> list[tuple[float, float, float]]:
        """(x px, bottom y px, box px) of each of ``n`` visible objects (fewer slots than objects: the rest are off view)."""
        slots = self._layouts.get(n)
        if slots is None:
            slots = self._layouts[n] = _layout(self.spec, self.camera, self.size, n) if self.spec else []
        return slots


def _layout(spec: ViewSpec, cam: Camera, size: int, n: int) -> list[tuple[float, float, float]]:
    """(x px, bottom y px, box px) of n objects, in object order, which is also far-to-near order.

    Objects spread over as few rows as hold them; a crowded receptacle shrinks and overlaps them.
    """
    if n == 0:
        return []
    cap = max(1, int(2 * spec.rows[0].half / (spec.obj * 0.9)) + 1)
    k = next((k for k in range(1, spec.max_rows + 1) if k * cap >= n), spec.max_rows)
    shrink = max(0.55, math.sqrt(k * cap / n)) if n > k * cap else 1.0
    counts = [n // k + (1 if j >= k - n % k else 0) for j in range(k)]  # extra objects go to the front
    slots = []
    for row, m in zip(spec.row_set(k), counts):
        spacing = min(2 * row.half / max(m - 1, 1), spec.obj * 1.25 * shrink)
        for i in range(m):
            x, y, z = cam.project(cam.a + row.a + (i - (m - 1) / 2) * spacing, row.d, row.h)
            slots.append((x * size, y * size, spec.obj * shrink * cam.focal / z * size))
    return slots


class EgocentricRenderer:
    """Renders :class:`WorldState` as the robot's head-camera RGB image for one scene.

    ``render`` returns a new (image_size, image_size, 3) uint8 array the caller owns. The
    picture depends only on the signature (robot_at, that receptacle's open state, the
    (category, instance) of the objects visible there, the held object's), plus, before the
    first navigation, the wall the robot faces and whether the fridge is open. The last
    ``frame_cache`` pictures are kept, so revisiting a view costs one array copy.
    """

    def __init__(self, scene: Scene, image_size: int = 256, frame_cache: int = 32) -> None:
        self.scene = scene
        self.image_size = check_image_size(image_size)
        self.frame_cache = frame_cache
        self._frames: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
        self._scene_key = (scene.index, scene.width, scene.depth, scene.wall_colour, scene.floor_colour)
        self._held: dict[tuple[int, int], Placed | None] = {}
        self._fridge_wall = scene.placements[FRIDGE].wall if FRIDGE in scene.placements else -1

    def warm_up(self) -> int:
        """Draw every background of this scene now (about 25, a few ms each) instead of on first sight.

        Useful before timing, or once per scene before training; returns how many views were drawn.
        """
        keys = [(RECEPTACLE_INDEX[name], False) for name in self.scene.receptacles]
        keys += [(RECEPTACLE_INDEX[name], True) for name in self.scene.receptacles
                 if RECEPTACLE_INDEX[name] in OPENABLE_IDS]
        keys += [(-1, wall, False) for wall in range(4)] + [(-1, self._fridge_wall, True)]
        before = len(_VIEW_CACHE)
        for key in keys:
            self._view(key)
        return len(_VIEW_CACHE) - before

    def render(self, state: WorldState) -> np.ndarray:
        """The camera image of ``state``: a new array the caller owns."""
        return self.render_shared(state).copy()

    def render_shared(self, state: WorldState) -> np.ndarray:
        """Like :meth:`render` but returns the renderer's cached, read-only frame (no copy)."""
        r = state.robot_at
        held = state.held
        hk = (state.category[held], state.instance[held]) if held >= 0 else None
        if r >= 0:
            is_open = bool(state.opened[r])
            if is_open or r not in OPENABLE_IDS:
                cat, inst = state.category, state.instance
                items = tuple([(cat[o], inst[o]) for o, where in enumerate(state.loc) if where == r])
            else:
                items = ()
            key = (r, is_open, items, hk)
        else:
            wall = _facing_wall(state.pose[2])
            key = (-1, wall, wall == self._fridge_wall and bool(state.opened[_FRIDGE_ID]), (), hk)
        frame = self._frames.get(key)
        if frame is not None:
            self._frames.move_to_end(key)
            return frame
        frame = self._compose(key)
        frame.flags.writeable = False
        if self.frame_cache > 0:
            self._frames[key] = frame
            if len(self._frames) > self.frame_cache:
                self._frames.popitem(last=False)
        return frame

    def _compose(self, key: tuple) -> np.ndarray:
        items, held = key[-2], key[-1]
        view = self._view(key[:-2])
        out = view.background.copy()
        size = self.image_size
        for (x, y, px), (cat, inst) in zip(view.layout(len(items)), items):
            box = sprite_box(px * relative_size(cat, inst))
            p = place_sprite(cat, inst, box, round(x - box / 2), round(y - box * 0.97), size)
            if p is not None:
                np.copyto(out[p[0], p[1]], p[2], where=p[3])
        if held is not None:
            p = arm_overlay(self.image_size)
            np.copyto(out[p[0], p[1]], p[2], where=p[3])
            p = self._held.get(held)
            if p is None and held not in self._held:
                p = self._held[held] = self._place_held(*held)
            if p is not None:
                np.copyto(out[p[0], p[1]], p[2], where=p[3])
        return as_rgb(out)

    def _place_held(self, cat: int, inst: int) -> Placed | None:
        """The held object hangs under the suction cup at the end of the arm."""
        size = self.image_size
        box = sprite_box(_HELD_SIZE * size * relative_size(cat, inst))
        oy = cut_sprite(cat, inst, box)[3]
        return place_sprite(cat, inst, box, round(_CUP[0] * size - box / 2), round((_CUP[1] - 0.01) * size) - oy, size)

    def _view(self, view_key: tuple) -> "_View":
        global _view_cache_bytes
        key = (self._scene_key, self.image_size, view_key)
        view = _VIEW_CACHE.get(key)
        if view is None:
            view = _VIEW_CACHE[key] = self._draw_view(view_key)
            _view_cache_bytes += view.background.nbytes
            while _view_cache_bytes > VIEW_CACHE_BYTES and len(_VIEW_CACHE) > 1:
                _view_cache_bytes -= _VIEW_CACHE.popitem(last=False)[1].background.nbytes
        else:
            _VIEW_CACHE.move_to_end(key)
        return view

    def _draw_view(self, view_key: tuple) -> "_View":
        scene, size = self.scene, self.image_size
        if view_key[0] == -1:  # episode start: a wide view of the wall the robot faces
            _, wall, fridge_open = view_key
            half_room = {0: scene.width, 1: scene.depth, 2: scene.width, 3: scene.depth}[wall] / 2
            centre = along(scene, wall, scene.width / 2, scene.depth / 2)
            cam = Camera(half_room + 1.0, START_CAMERA_HEIGHT, 0.18, 0.55, a=centre)
            items, spec = wall_items(scene, wall, FRIDGE if fridge_open else None), None
            wall_of = wall
        else:
            r, is_open = view_key
            name = RECEPTACLES[r]
            if name not in scene.placements:
                raise ValueError(f"robot_at={r} ({name}) is not a receptacle of scene {scene.index}")
            pl = scene.placements[name]
            spec = VIEWS["drawer" if name in DRAWERS else name]
            c = spec.camera
            cam = Camera(c.dist, c.height, c.pitch, c.focal, a=along(scene, pl.wall, pl.x, pl.y))
            items, wall_of = wall_items(scene, pl.wall, name if is_open else None), pl.wall
        painter = Painter(size, cam)
        draw_room(painter, scene, wall_of, items)
        return _View(painter.pixels(), spec, cam, size)


def _facing_wall(heading: float) -> int:
    """The wall a robot with this heading looks at: 0 left (-x), 1 top (+y), 2 right (+x), 3 bottom (-y)."""
    c, s = math.cos(heading), math.sin(heading)
    if abs(c) >= abs(s):
        return 2 if c > 0 else 0
    return 1 if s > 0 else 3


@lru_cache(maxsize=16)
def arm_overlay(size: int) -> Placed:
    """The robot's forearm reaching in from the lower right, ending in a suction cup at ``_CUP``.

    Drawn once per image size and pasted like a sprite (cropped to where it is opaque).
    """
    painter = Painter(size, Camera(1.0, 1.0, 0.0, 1.0))
    painter.fill_all((255, 0, 255))  # a key colour no arm part uses
    d, n = painter.draw, painter.n
    cx, cy = _CUP

    def pts(*xy: float) -> list[tuple[float, float]]:
        return [(xy[i] * n, xy[i + 1] * n) for i in range(0, len(xy), 2)]

    d.polygon(pts(cx + 0.01, cy - 0.13, 1.06, cy + 0.02, 1.06, cy + 0.26, cx + 0.02, cy - 0.04), fill=(168, 172, 180))
    d.polygon(pts(cx + 0.01, cy - 0.13, 1.06, cy + 0.02, 1.06, cy + 0.12, cx + 0.03, cy - 0.08), fill=(214, 218, 224))
    d.rounded_rectangle([v * n for v in (cx - 0.05, cy - 0.15, cx + 0.05, cy - 0.04)], radius=0.02 * n,
                        fill=(78, 82, 90))
    d.polygon(pts(cx - 0.03, cy - 0.045, cx + 0.03, cy - 0.045, cx + 0.045, cy + 0.004, cx - 0.045, cy + 0.004),
              fill=(30, 30, 34))
    rgb = np.asarray(painter.image.resize((size, size), Image.NEAREST), dtype=np.uint8)
    mask = np.any(rgb != (255, 0, 255), axis=2)
    ys, xs = np.nonzero(mask)
    rows, cols = slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)
    pixels = as_pixels(np.ascontiguousarray(rgb[rows, cols]))
    mask = np.ascontiguousarray(mask[rows, cols])
    pixels.setflags(write=False)
    mask.setflags(write=False)
    return rows, cols, pixels, mask
