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
from PIL import Image, ImageDraw

from gym_langrearrange.catalog import DRAWERS, FRIDGE, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.render.appearance import relative_size, sprite_rgba
from gym_langrearrange.render.scenery import (START_CAMERA_HEIGHT, VIEWS, Camera, Painter, ViewSpec, along, draw_room,
                                              wall_items)
from gym_langrearrange.world.scene import Scene
from gym_langrearrange.world.state import OPENABLE_IDS, WorldState

_FRIDGE_ID = RECEPTACLE_INDEX[FRIDGE]
_HELD_SIZE = 0.22  # box of a large held object, in image heights
_CUP = (0.5, 0.77)  # where the suction cup touches the held object, in image units
#: (scene key, image size, view key) -> _View; shared so per-episode renderers reuse backgrounds
_VIEW_CACHE: "OrderedDict[Hashable, _View]" = OrderedDict()
#: how many backgrounds to keep across all renderers (256x256: 196 KB each; 1500 ~ 300 MB)
VIEW_CACHE_SIZE = 1500


def check_image_size(image_size: object) -> int:
    """Image sizes are positive ints; anything else is a caller's mistake worth a clear message."""
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 1:
        raise ValueError(f"image_size must be a positive int (e.g. 64, 128, 256, 336), got {image_size!r}")
    return int(image_size)


@lru_cache(maxsize=8192)
def cut_sprite(category: int, instance: int, box: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """A sprite ready to paste: RGB, boolean mask (h, w, 1), and its offset inside the ``box`` square.

    Alpha is thresholded (pasting must be a plain masked copy), so the rim gets an outline
    instead: darker for light objects, lighter for dark ones, which keeps a black mug visible
    on the black table and a white plate on a white counter.
    """
    rgba = sprite_rgba(category, instance, box)
    mask = rgba[..., 3] >= 128
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0, 1), bool), 0, 0
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    rgb = rgba[y0:y1, x0:x1, :3].copy()
    mask = mask[y0:y1, x0:x1]
    if box >= 14:
        padded = np.pad(mask, 1)
        inner = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        rim = mask & ~inner
        px = rgb[rim].astype(np.float32)
        dark = (px @ np.array([0.3, 0.59, 0.11], np.float32)) < 70
        px = np.where(dark[:, None], px * 0.4 + 150, px * 0.45)
        rgb[rim] = px.astype(np.uint8)
    rgb.setflags(write=False)
    mask = mask[..., None]
    mask.setflags(write=False)
    return rgb, mask, int(x0), int(y0)


def _paste(frame: np.ndarray, category: int, instance: int, box: int, left: int, top: int) -> None:
    """Paste a sprite whose ``box`` square has its top-left corner at (left, top); clips at the border."""
    rgb, mask, ox, oy = cut_sprite(category, instance, box)
    h, w = mask.shape[:2]
    x0, y0 = left + ox, top + oy
    size_y, size_x = frame.shape[:2]
    if x0 >= 0 and y0 >= 0 and x0 + w <= size_x and y0 + h <= size_y:
        np.copyto(frame[y0:y0 + h, x0:x0 + w], rgb, where=mask)
        return
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + w, size_x), min(y0 + h, size_y)
    if cx0 < cx1 and cy0 < cy1:
        sl = (slice(cy0 - y0, cy1 - y0), slice(cx0 - x0, cx1 - x0))
        np.copyto(frame[cy0:cy1, cx0:cx1], rgb[sl], where=mask[sl])


class _View:
    """A viewpoint's static background plus the object slots for each object count."""

    __slots__ = ("background", "spec", "camera", "size", "_layouts")

    def __init__(self, background: np.ndarray, spec: ViewSpec | None, camera: Camera, size: int) -> None:
        background.setflags(write=False)
        self.background, self.spec, self.camera, self.size = background, spec, camera, size
        self._layouts: dict[int, list[tuple[int, float, float, float]]] = {}

    def layout(self, n: int) -> list[tuple[int, float, float, float]]:
        """Slots for n objects as (object position in the list, x px, bottom y px, box px), far first."""
        out = self._layouts.get(n)
        if out is None:
            out = self._layouts[n] = _layout(self.spec, self.camera, self.size, n) if self.spec else []
        return out


def _layout(spec: ViewSpec, cam: Camera, size: int, n: int) -> list[tuple[int, float, float, float]]:
    """Spread n objects over as few rows as hold them; crowded receptacles shrink and overlap them."""
    if n == 0:
        return []
    cap = max(1, int(2 * spec.rows[0].half / (spec.obj * 0.9)) + 1)
    k = next((k for k in range(1, spec.max_rows + 1) if k * cap >= n), spec.max_rows)
    shrink = max(0.55, math.sqrt(k * cap / n)) if n > k * cap else 1.0
    rows = spec.row_set(k)
    counts = [n // k + (1 if j >= k - n % k else 0) for j in range(k)]  # extra objects go to the front
    slots, index = [], 0
    for row, m in zip(rows, counts):
        spacing = min(2 * row.half / max(m - 1, 1), spec.obj * 1.25 * shrink)
        for i in range(m):
            a = cam.a + row.a + (i - (m - 1) / 2) * spacing
            x, y, z = cam.project(a, row.d, row.h)
            slots.append((index, x * size, y * size, spec.obj * shrink * cam.focal / z * size))
            index += 1
    return slots


class EgocentricRenderer:
    """Renders :class:`WorldState` as the robot's head-camera RGB image for one scene.

    ``render`` returns a new (image_size, image_size, 3) uint8 array the caller owns. The
    picture depends only on the signature (robot_at, that receptacle's open state, the
    (category, instance) of the objects visible there, the held object's), plus, before the
    first navigation, the wall the robot faces and whether the fridge is open.
    """

    def __init__(self, scene: Scene, image_size: int = 256, frame_cache: int = 32) -> None:
        self.scene = scene
        self.image_size = check_image_size(image_size)
        self.frame_cache = frame_cache
        self._frames: "OrderedDict[tuple, np.ndarray]" = OrderedDict()
        self._scene_key = (scene.index, scene.width, scene.depth, scene.wall_colour, scene.floor_colour)
        self._arm: tuple[np.ndarray, np.ndarray] | None = None

    def render(self, state: WorldState) -> np.ndarray:
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
            key = (-1, _facing_wall(state.pose[2]), bool(state.opened[_FRIDGE_ID]), (), hk)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._compose(key)
            self._frames[key] = frame
            if len(self._frames) > self.frame_cache:
                self._frames.popitem(last=False)
        else:
            self._frames.move_to_end(key)
        return frame.copy()

    # --- composition ------------------------------------------------------------------------

    def _compose(self, key: tuple) -> np.ndarray:
        view = self._view(key[:-2])
        frame = view.background.copy()
        items = key[-2]
        for index, x, y, px in view.layout(len(items)):
            cat, inst = items[index]
            box = max(1, round(px * relative_size(cat, inst)))
            _paste(frame, cat, inst, box, round(x - box / 2), round(y - box * 0.97))
        if key[-1] is not None:
            self._paste_held(frame, *key[-1])
        return frame

    def _paste_held(self, frame: np.ndarray, cat: int, inst: int) -> None:
        """The arm reaches in from the lower right; the object hangs under its suction cup."""
        size = self.image_size
        if self._arm is None:
            self._arm = _arm_overlay(size)
        rgb, mask = self._arm
        np.copyto(frame, rgb, where=mask)
        box = max(1, round(_HELD_SIZE * size * relative_size(cat, inst)))
        oy = cut_sprite(cat, inst, box)[3]
        _paste(frame, cat, inst, box, round(_CUP[0] * size - box / 2), round(_CUP[1] * size) - oy)

    def _view(self, view_key: tuple) -> "_View":
        key = (self._scene_key, self.image_size, view_key)
        view = _VIEW_CACHE.get(key)
        if view is None:
            view = self._draw_view(view_key)
            _VIEW_CACHE[key] = view
            while len(_VIEW_CACHE) > VIEW_CACHE_SIZE:
                _VIEW_CACHE.popitem(last=False)
        else:
            _VIEW_CACHE.move_to_end(key)
        return view

    def _draw_view(self, view_key: tuple) -> "_View":
        scene, size = self.scene, self.image_size
        if view_key[0] == -1:  # episode start: a wide view of the wall the robot faces
            _, wall, fridge_open = view_key
            lo_hi = {0: scene.width, 1: scene.depth, 2: scene.width, 3: scene.depth}[wall] / 2
            centre = along(scene, wall, scene.width / 2, scene.depth / 2)
            cam = Camera(lo_hi + 1.0, START_CAMERA_HEIGHT, 0.18, 0.55, a=centre)
            painter = Painter(size, cam)
            draw_room(painter, scene, wall, wall_items(scene, wall, FRIDGE if fridge_open else None))
            return _View(painter.pixels(), None, cam, size)
        r, is_open = view_key
        name = RECEPTACLES[r]
        if name not in scene.placements:
            raise ValueError(f"robot_at={r} ({name}) is not a receptacle of scene {scene.index}")
        pl = scene.placements[name]
        spec = VIEWS["drawer" if name in DRAWERS else name]
        cam = Camera(spec.camera.dist, spec.camera.height, spec.camera.pitch, spec.camera.focal,
                     a=along(scene, pl.wall, pl.x, pl.y))
        painter = Painter(size, cam)
        draw_room(painter, scene, pl.wall, wall_items(scene, pl.wall, name if is_open else None))
        return _View(painter.pixels(), spec, cam, size)


def _facing_wall(heading: float) -> int:
    """The wall a robot with this heading looks at: 0 left (-x), 1 top (+y), 2 right (+x), 3 bottom (-y)."""
    c, s = math.cos(heading), math.sin(heading)
    if abs(c) >= abs(s):
        return 2 if c > 0 else 0
    return 1 if s > 0 else 3


def _arm_overlay(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A grey two-link arm with a black suction cup, as RGB plus mask at full image size."""
    ss = 3 if size < 160 else 2
    n = size * ss
    im = Image.new("RGBA", (n, n), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)

    def pts(*xy: float) -> list[tuple[float, float]]:
        return [(xy[i] * n, xy[i + 1] * n) for i in range(0, len(xy), 2)]

    cx, cy = _CUP
    d.polygon(pts(1.05, 0.86, 1.05, 1.05, 0.9, 1.05, 0.82, 0.93), fill=(92, 96, 104, 255))  # upper arm
    d.polygon(pts(1.05, 0.86, 0.82, 0.93, cx + 0.06, cy - 0.03, cx + 0.09, cy - 0.11), fill=(196, 200, 206, 255))
    d.polygon(pts(0.82, 0.93, 0.9, 1.05, cx + 0.1, cy + 0.02, cx + 0.06, cy - 0.03), fill=(150, 156, 164, 255))
    d.ellipse([v * n for v in (cx - 0.02, cy - 0.15, cx + 0.11, cy - 0.02)], fill=(70, 74, 80, 255))  # wrist
    d.polygon(pts(cx - 0.005, cy - 0.07, cx + 0.045, cy - 0.07, cx + 0.05, cy - 0.035, cx - 0.01, cy - 0.035),
              fill=(120, 124, 130, 255))
    d.polygon(pts(cx - 0.01, cy - 0.04, cx + 0.05, cy - 0.04, cx + 0.06, cy + 0.005, cx - 0.03, cy + 0.005),
              fill=(36, 36, 40, 255))  # suction cup
    arr = np.asarray(im.reduce(ss))
    return arr[..., :3].copy(), (arr[..., 3:] >= 128).copy()
