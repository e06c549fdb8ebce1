"""A labelled map of the apartment seen from above, for people (GIFs, debugging, docs).

The robot never sees this view. It shows every receptacle against its wall, which
containers are open, every object as a dot in its instance's colour with its category
name (hollow and in brackets when hidden inside a closed container), the robot as an
arrow at its pose, and what it holds.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gym_langrearrange.catalog import CATEGORIES, DRAWERS, RECEPTACLE_INDEX
from gym_langrearrange.render.appearance import mean_colour
from gym_langrearrange.render.egocentric import check_image_size
from gym_langrearrange.world.scene import Scene
from gym_langrearrange.world.state import WorldState

#: how far each receptacle reaches out from its wall, metres
_DEPTH = {"sofa": 0.9, "chair": 0.6, "black table": 0.72, "brown table": 0.72, "coffee table": 0.6,
          "TV stand": 0.46, "shelf": 0.42, "left counter": 0.62, "sink": 0.62, "right counter": 0.62, "fridge": 0.7}
_SHORT = {"black table": "black tbl", "brown table": "brown tbl", "coffee table": "coffee tbl",
          "left counter": "L counter", "right counter": "R counter"}
_INWARD = {0: (1.0, 0.0), 1: (0.0, -1.0), 2: (-1.0, 0.0), 3: (0.0, 1.0)}
_OPEN = (40, 200, 90)


@lru_cache(maxsize=8)
def _font(px: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _footprint(scene: Scene, name: str) -> tuple[float, float, float, float]:
    """World-space rectangle (x0, y0, x1, y1) of a receptacle; drawers are tabs in front of their counter."""
    pl = scene.placements[name]
    if name in DRAWERS:
        d0, d1, half = 0.62, 0.8, 0.24
    else:
        d0, d1, half = 0.0, _DEPTH[name], pl.width / 2
    nx, ny = _INWARD[pl.wall]
    tx, ty = -ny, nx  # along the wall
    xs = [pl.x + nx * d + tx * s for d in (d0, d1) for s in (-half, half)]
    ys = [pl.y + ny * d + ty * s for d in (d0, d1) for s in (-half, half)]
    return min(xs), min(ys), max(xs), max(ys)


def _object_lists(state: WorldState) -> dict[str, list[tuple[str, tuple[int, int, int], bool]]]:
    """(label, colour, visible) of each object per wall receptacle; drawer contents join their counter."""
    scene = state.scene
    lists: dict[str, list[tuple[str, tuple[int, int, int], bool]]] = {}
    for name in scene.receptacles:
        r = RECEPTACLE_INDEX[name]
        home = name
        if name in DRAWERS:  # the counter it sits under
            home = "left counter" if DRAWERS.index(name) < 2 else "right counter"
        for o in state.objects_at(r):
            text = CATEGORIES[state.category[o]]
            visible = state.visible(r)
            if name in DRAWERS:
                text = f"d{name[-1]}: {text}"
            lists.setdefault(home, []).append((text if visible else f"[{text}]",
                                               mean_colour(state.category[o], state.instance[o]), visible))
    return lists


def render_topdown(state: WorldState, size: int = 512) -> np.ndarray:
    """The map as a new (size, size, 3) uint8 array."""
    size = check_image_size(size)
    scene = state.scene
    margin = 0.05 * size
    k = (size - 2 * margin) / max(scene.width, scene.depth)
    ox = (size - k * scene.width) / 2
    oy = (size - k * scene.depth) / 2 + 0.02 * size

    def to_px(x: float, y: float) -> tuple[float, float]:
        return ox + x * k, oy + (scene.depth - y) * k

    def rect_px(x0: float, y0: float, x1: float, y1: float) -> list[float]:
        (ax, ay), (bx, by) = to_px(x0, y1), to_px(x1, y0)
        return [ax, ay, bx, by]

    image = Image.new("RGB", (size, size), (250, 250, 248))
    draw = ImageDraw.Draw(image)
    font, small = _font(max(8, size // 42)), _font(max(7, size // 52))
    line = max(1, size // 256)
    draw.rectangle(rect_px(0, 0, scene.width, scene.depth), fill=tuple(int(v * 0.35 + 160) for v in scene.floor_colour),
                   outline=tuple(int(v * 0.5) for v in scene.wall_colour), width=3 * line)
    draw.text((margin, 0.01 * size), f"scene {scene.index} ({scene.split})", fill=(40, 40, 40), font=font)

    occupied: list[tuple[float, float, float, float]] = []
    for name in scene.receptacles:  # receptacles and their labels
        r = RECEPTACLE_INDEX[name]
        box = rect_px(*_footprint(scene, name))
        occupied.append(tuple(box))
        is_open = bool(state.opened[r])
        colour = scene.palette[name]
        width = (2 if name in DRAWERS else 3) * line if is_open else line
        draw.rectangle(box, fill=colour, outline=_OPEN if is_open else (60, 60, 60), width=width)
        text_c = (255, 255, 255) if sum(colour) < 400 else (20, 20, 20)
        if name in DRAWERS:
            label, f = "d" + name[-1], small
        else:
            label, f = _SHORT.get(name, name) + ("\nopen" if is_open else ""), font
        side_wall = scene.placements[name].wall in (0, 2) and name not in DRAWERS
        _label(image, draw, box, label, text_c, f, vertical=side_wall)

    rad = max(2, size // 120)
    step = max(small.size * 1.2 if hasattr(small, "size") else 11, 2 * rad + 2)
    for name, lines in _object_lists(state).items():  # dots and names, listed inwards from the receptacle
        wall = scene.placements[name].wall
        x0, y0, x1, y1 = rect_px(*_footprint(scene, name))
        width = max(draw.textbbox((0, 0), text, font=small)[2] for text, _, _ in lines) + 3 * rad
        height = len(lines) * step
        bx, by = {1: ((x0 + x1) / 2 - width / 2, y1 + 3), 3: ((x0 + x1) / 2 - width / 2, y0 - 3 - height),
                  0: (x1 + 3, (y0 + y1) / 2 - height / 2), 2: (x0 - 3 - width, (y0 + y1) / 2 - height / 2)}[wall]
        nx, ny = _INWARD[wall]
        for _ in range(40):  # slide into the room until the list overlaps nothing drawn before
            block = (bx, by, bx + width, by + height)
            if not any(_overlap(block, o) for o in occupied):
                break
            bx, by = bx + nx * step * 0.5, by - ny * step * 0.5
        occupied.append(block)
        for i, (text, colour, visible) in enumerate(lines):
            cx, cy = bx + rad, by + (i + 0.5) * step
            draw.ellipse([cx - rad, cy - rad, cx + rad, cy + rad], fill=colour if visible else None,
                         outline=(30, 30, 30), width=line)
            draw.text((cx + 2 * rad, cy), text, fill=(20, 20, 20) if visible else (120, 120, 120), font=small,
                      anchor="lm")

    _draw_robot(draw, state, to_px, k, size, small)
    return np.asarray(image, dtype=np.uint8).copy()


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label(image: Image.Image, draw: ImageDraw.ImageDraw, box: list[float], text: str, colour: tuple[int, ...],
           font: ImageFont.ImageFont, vertical: bool) -> None:
    """Centre a (possibly two-line) label in a box; receptacles on side walls get it rotated."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if not vertical:
        draw.multiline_text((cx, cy), text, fill=colour, font=font, anchor="mm", align="center", spacing=0)
        return
    l, t, r, b = draw.multiline_textbbox((0, 0), text, font=font, spacing=0)
    tile = Image.new("RGBA", (int(r - l) + 2, int(b - t) + 2), (0, 0, 0, 0))
    ImageDraw.Draw(tile).multiline_text((1 - l, 1 - t), text, fill=colour, font=font, align="center", spacing=0)
    tile = tile.rotate(90, expand=True)
    image.paste(tile, (int(cx - tile.width / 2), int(cy - tile.height / 2)), tile)


def _draw_robot(draw: ImageDraw.ImageDraw, state: WorldState, to_px, k: float, size: int,
                font: ImageFont.ImageFont) -> None:
    """An orange arrow at the robot's pose; the held object as a dot at its tip and a caption."""
    x, y, heading = state.pose
    cx, cy = to_px(x, y)
    length = 0.45 * k
    c, s = math.cos(heading), -math.sin(heading)  # image y points down
    tip = (cx + c * length, cy + s * length)
    left = (cx - c * length * 0.5 - s * length * 0.45, cy - s * length * 0.5 + c * length * 0.45)
    right = (cx - c * length * 0.5 + s * length * 0.45, cy - s * length * 0.5 - c * length * 0.45)
    draw.polygon([tip, left, (cx - c * length * 0.2, cy - s * length * 0.2), right], fill=(245, 120, 20),
                 outline=(90, 40, 0))
    if state.held >= 0:
        o = state.held
        rad = max(3, size // 90)
        draw.ellipse([tip[0] - rad, tip[1] - rad, tip[0] + rad, tip[1] + rad],
                     fill=mean_colour(state.category[o], state.instance[o]), outline=(0, 0, 0))
        draw.text((cx, cy + length * 0.9), f"holding {CATEGORIES[state.category[o]]}", fill=(150, 60, 0), font=font,
                  anchor="mt")
