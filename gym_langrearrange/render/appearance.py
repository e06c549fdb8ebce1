"""How every object instance looks: procedural RGBA sprites drawn with numpy, cached per size.

Each category has one short drawing function; instances of a category share the shape and
differ by the colours, labels and sizes in the per-instance tables next to it, following
the instance names of the catalog ("red cup", "tennis ball", "small wrench"). Objects are
seen from a camera slightly above them, so flat things (plates, books) are drawn
foreshortened. Drawings live in the unit square with the object's resting point at the
bottom centre; :func:`relative_size` says how large the object is compared with others.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np

from gym_langrearrange.catalog import CATEGORIES, CATEGORY_INDEX, CATEGORY_INFO
from gym_langrearrange.render.raster import (Canvas, Colour, bar, capsule, circle, ellipse, poly, rect, regular, ring,
                                             scale)

WHITE: Colour = (244, 244, 240)
BLACK: Colour = (34, 34, 38)
STEEL: Colour = (178, 184, 192)
WOOD: Colour = (186, 134, 80)
STEM: Colour = (110, 72, 36)
LEAF: Colour = (70, 150, 50)
RED: Colour = (206, 32, 36)
BLUE: Colour = (42, 96, 206)
GREEN: Colour = (52, 160, 70)
YELLOW: Colour = (246, 206, 40)
ORANGE: Colour = (246, 132, 20)

Draw = Callable[[Canvas, int], None]


def _highlight(c: Canvas, x: float, y: float, r: float, strength: float = 0.55) -> None:
    c.fill(ellipse(x, y, r, r * 0.7, angle=-0.6), (255, 255, 255), alpha=strength)


# --- fruit ---------------------------------------------------------------------------------

def _apple(c: Canvas, i: int) -> None:
    body = circle(0.37, 0.56, 0.31) | circle(0.63, 0.56, 0.31) | ellipse(0.5, 0.72, 0.34, 0.24)
    c.fill(body, ((206, 24, 34), (128, 14, 30))[i], shade=0.7)
    c.fill(ellipse(0.5, 0.3, 0.07, 0.04), scale(((206, 24, 34), (128, 14, 30))[i], 0.6))
    c.fill(capsule(0.5, 0.3, 0.54, 0.1, 0.025), STEM)
    c.fill(ellipse(0.68, 0.14, 0.13, 0.055, angle=-0.45), LEAF, shade=0.4)
    _highlight(c, 0.33, 0.45, 0.07)


def _peach(c: Canvas, i: int) -> None:
    body = circle(0.5, 0.55, 0.41)
    c.fill(body, (252, 188, 116), shade=0.5)
    for k in range(5):  # a soft pink-red blush
        c.fill(body & ellipse(0.38, 0.6, 0.14 + 0.04 * k, 0.18 + 0.045 * k), (236, 96, 90), alpha=0.22)
    c.fill(body & ring(0.9, 0.5, 0.44, 0.41), (200, 96, 70), alpha=0.8)  # the crease
    c.fill(ellipse(0.58, 0.13, 0.1, 0.045, angle=-0.3), LEAF)
    _highlight(c, 0.33, 0.38, 0.07, 0.35)


def _orange(c: Canvas, i: int) -> None:
    c.fill(circle(0.5, 0.54, 0.42), ORANGE, shade=0.6)
    for k in range(14):  # dimpled peel
        a, r = k * 2.4, 0.1 + 0.26 * ((k * 7) % 10) / 10
        c.fill(circle(0.5 + r * math.cos(a), 0.56 + r * math.sin(a), 0.018), (214, 100, 10), alpha=0.8)
    c.fill(regular(0.5, 0.16, 0.05, 5), (90, 120, 40))
    _highlight(c, 0.34, 0.38, 0.07, 0.45)


def _lemon(c: Canvas, i: int) -> None:
    body = ellipse(0.5, 0.6, 0.38, 0.29, angle=-0.2) | ellipse(0.13, 0.68, 0.07, 0.05, angle=-0.2) \
        | ellipse(0.87, 0.53, 0.07, 0.05, angle=-0.2)
    c.fill(body, (250, 222, 36), shade=0.5)
    _highlight(c, 0.38, 0.48, 0.08, 0.5)


def _banana(c: Canvas, i: int) -> None:
    xs = np.linspace(0.08, 0.86, 24)
    mid = 0.7 - 1.2 * (xs - 0.47) ** 2
    half = 0.11 * np.sqrt(np.clip(1 - ((xs - 0.47) / 0.4) ** 2, 0.05, 1))
    c.fill(poly(list(zip(xs, mid - half)) + list(zip(xs[::-1], (mid + half)[::-1]))), (248, 212, 48), shade=0.4)
    top, ridge = (mid - half * 0.75)[3:-3], (mid - half * 0.15)[3:-3]
    c.fill(poly(list(zip(xs[3:-3], top)) + list(zip(xs[3:-3][::-1], ridge[::-1]))), (255, 238, 130), alpha=0.8)
    c.fill(capsule(0.86, mid[-1], 0.94, mid[-1] - 0.1, 0.028), (120, 110, 40))
    c.fill(circle(0.08, mid[0], 0.028), (70, 50, 30))


def _pear(c: Canvas, i: int) -> None:
    body = circle(0.5, 0.69, 0.27) | circle(0.5, 0.36, 0.15) | poly([(0.35, 0.37), (0.65, 0.37), (0.76, 0.64),
                                                                       (0.24, 0.64)])
    c.fill(body, ((132, 186, 52), (188, 204, 64))[i], shade=0.55)
    c.fill(capsule(0.5, 0.22, 0.55, 0.05, 0.025), STEM)
    _highlight(c, 0.38, 0.6, 0.06, 0.4)


def _plum(c: Canvas, i: int) -> None:
    c.fill(ellipse(0.5, 0.56, 0.39, 0.41), (104, 34, 112), shade=0.6)
    c.fill(ellipse(0.5, 0.56, 0.39, 0.41) & ring(0.08, 0.5, 0.46, 0.43), (70, 20, 78))
    c.fill(capsule(0.5, 0.18, 0.53, 0.06, 0.025), STEM)
    _highlight(c, 0.36, 0.42, 0.08, 0.35)


def _strawberry(c: Canvas, i: int) -> None:
    body = ellipse(0.5, 0.42, 0.38, 0.26) | poly([(0.13, 0.44), (0.87, 0.44), (0.56, 0.93), (0.44, 0.93)])
    c.fill(body, (222, 30, 44), shade=0.5)
    for row, y in enumerate((0.4, 0.52, 0.64, 0.76)):
        n = 4 - row // 2
        for k in range(n):
            x = 0.5 + (k - (n - 1) / 2) * (0.15 - 0.02 * row)
            c.fill(ellipse(x, y, 0.02, 0.028), (250, 226, 100))
    for k in range(5):
        a = math.pi * (0.1 + 0.2 * k)
        c.fill(ellipse(0.5 + 0.15 * math.cos(a), 0.2 + 0.07 * math.sin(a), 0.13, 0.045, angle=a), (60, 150, 40))
    c.fill(capsule(0.5, 0.2, 0.5, 0.06, 0.025), (60, 130, 40))


# --- balls ---------------------------------------------------------------------------------

_BALL = ((WHITE, None), ((240, 232, 150), (210, 40, 40)), ((246, 244, 236), (210, 40, 40)),
         ((206, 226, 58), (250, 250, 246)), ((40, 92, 214), None))


def _ball(c: Canvas, i: int) -> None:
    colour, seam = _BALL[i]
    body = circle(0.5, 0.52, 0.45)
    c.fill(body, colour, shade=0.55)
    if i == 0:  # soccer ball: a black pentagon in the middle and five around it
        c.fill(regular(0.5, 0.52, 0.13, 5), BLACK)
        for k in range(5):
            a = -math.pi / 2 + 2 * math.pi * (k + 0.5) / 5
            c.fill(body & regular(0.5 + 0.38 * math.cos(a), 0.52 + 0.38 * math.sin(a), 0.13, 5, a), BLACK)
    if seam is not None:
        for sx in (-0.52, 1.52):
            c.fill(body & ring(sx, 0.52, 0.68, 0.63), seam)
            if i in (1, 2):  # stitches across the seam
                for k in range(-3, 4):
                    a = k * 0.17 + (0.0 if sx > 0 else math.pi)
                    x, y = sx + 0.655 * math.cos(math.pi - a), 0.52 + 0.655 * math.sin(math.pi - a)
                    c.fill(body & capsule(x - 0.04 * math.cos(a), y, x + 0.04 * math.cos(a), y, 0.012), seam)
    _highlight(c, 0.35, 0.34, 0.08, 0.5)


# --- tools ---------------------------------------------------------------------------------

def _screwdriver(c: Canvas, i: int) -> None:
    c.angle = 0.75
    handle = ((214, 40, 40), (40, 96, 210))[i]
    c.fill(bar(0.5, 0.1, 0.5, 0.58, 0.024), STEEL, shade=0.3)
    if i == 0:
        c.fill(bar(0.5, 0.04, 0.5, 0.12, 0.045, 0.024), STEEL)
    else:
        c.fill(poly([(0.47, 0.12), (0.53, 0.12), (0.5, 0.03)]), STEEL)
    c.fill(capsule(0.5, 0.62, 0.5, 0.92, 0.1), handle, shade=0.4)
    c.fill(bar(0.5, 0.58, 0.5, 0.64, 0.06), (60, 60, 60))
    for x in (0.46, 0.54):
        c.fill(bar(x, 0.68, x, 0.9, 0.012), scale(handle, 0.65))


def _hammer(c: Canvas, i: int) -> None:
    c.angle = -0.6
    c.fill(bar(0.5, 0.2, 0.5, 0.96, 0.045), WOOD, shade=0.3)
    if i == 0:  # claw hammer: steel head with a split claw, rubber grip
        c.fill(bar(0.5, 0.68, 0.5, 0.96, 0.055), BLACK)
        c.fill(rect(0.42, 0.08, 0.8, 0.22) | rect(0.74, 0.06, 0.84, 0.24), STEEL, shade=0.4)
        c.fill(poly([(0.42, 0.08), (0.42, 0.22), (0.24, 0.3), (0.14, 0.28), (0.3, 0.17)]), STEEL, shade=0.4)
        c.fill(poly([(0.16, 0.27), (0.33, 0.18), (0.35, 0.21)]), (60, 60, 64))
    else:  # mallet: a big rubber barrel
        c.fill(capsule(0.26, 0.16, 0.74, 0.16, 0.13), (44, 44, 50), shade=0.5)
        c.fill(ellipse(0.14, 0.16, 0.04, 0.12) | ellipse(0.86, 0.16, 0.04, 0.12), (90, 90, 96))


def _drill(c: Canvas, i: int) -> None:
    body = ((242, 190, 24), (22, 150, 152))[i]
    c.fill(bar(0.82, 0.33, 0.98, 0.33, 0.014), STEEL)
    c.fill(rect(0.7, 0.24, 0.84, 0.42), (50, 50, 54), shade=0.4)
    c.fill(bar(0.48, 0.4, 0.4, 0.78, 0.085), BLACK, shade=0.3)
    c.fill(capsule(0.22, 0.33, 0.68, 0.33, 0.12), body, shade=0.5)
    c.fill(ellipse(0.12, 0.33, 0.05, 0.1), BLACK)
    c.fill(rect(0.2, 0.76, 0.6, 0.95), (50, 50, 54), shade=0.3)
    c.fill(rect(0.24, 0.78, 0.56, 0.82), body)
    c.fill(capsule(0.5, 0.48, 0.55, 0.52, 0.025), (90, 90, 90))


def _wrench(c: Canvas, i: int) -> None:
    c.angle = 0.8
    head = circle(0.5, 0.18, 0.14) - poly([(0.44, 0.0), (0.56, 0.0), (0.55, 0.2), (0.45, 0.2)])
    c.fill(head | bar(0.5, 0.25, 0.5, 0.82, 0.055), STEEL, shade=0.4)
    c.fill(ring(0.5, 0.86, 0.12, 0.06), STEEL, shade=0.4)
    c.fill(bar(0.5, 0.4, 0.5, 0.7, 0.06), ((210, 50, 40), (40, 90, 200))[i])


def _clamp(c: Canvas, i: int) -> None:
    if i == 2:  # spring clamp: two jaws crossing at a coil, orange grips
        c.fill(bar(0.3, 0.1, 0.75, 0.82, 0.05), STEEL)
        c.fill(bar(0.7, 0.1, 0.25, 0.82, 0.05), STEEL)
        c.fill(bar(0.6, 0.62, 0.78, 0.92, 0.07), ORANGE, shade=0.3)
        c.fill(bar(0.4, 0.62, 0.22, 0.92, 0.07), ORANGE, shade=0.3)
        c.fill(ring(0.5, 0.46, 0.1, 0.05), (120, 120, 126))
        return
    frame = ((236, 112, 24), (204, 36, 36))[i]
    c.fill(ring(0.46, 0.48, 0.42, 0.27) - rect(0.46, 0.22, 1.0, 0.74), frame, shade=0.3)
    c.fill(rect(0.46, 0.06, 0.82, 0.21) | rect(0.46, 0.75, 0.82, 0.9), frame, shade=0.3)
    c.fill(bar(0.72, 0.26, 0.72, 0.98, 0.025), STEEL)
    c.fill(rect(0.64, 0.24, 0.8, 0.29), (90, 90, 96))
    c.fill(bar(0.6, 0.96, 0.84, 0.96, 0.02), STEEL)


# --- cutting and kitchen tools -------------------------------------------------------------

def _scissors(c: Canvas, i: int) -> None:
    handle = ((214, 36, 40), (40, 90, 210))[i]
    c.fill(bar(0.36, 0.66, 0.74, 0.06, 0.045, 0.01), STEEL, shade=0.3)
    c.fill(bar(0.64, 0.66, 0.26, 0.06, 0.045, 0.01), (150, 156, 164), shade=0.3)
    c.fill(ring(0.3, 0.8, 0.15, 0.085, squash=0.8), handle, shade=0.3)
    c.fill(ring(0.7, 0.8, 0.15, 0.085, squash=0.8), handle, shade=0.3)
    c.fill(circle(0.5, 0.43, 0.03), (60, 60, 66))


def _knife(c: Canvas, i: int) -> None:
    c.angle = -0.75
    length = (0.0, 0.22)[i]
    c.fill(poly([(0.44, 0.6), (0.44, 0.1 + length), (0.5, 0.04 + length), (0.6, 0.25 + length), (0.6, 0.6)]),
           STEEL, shade=0.35)
    c.fill(bar(0.44, 0.14 + length, 0.44, 0.6, 0.008), (220, 224, 230))
    c.fill(capsule(0.51, 0.64, 0.51, 0.94, 0.06), ((34, 34, 38), (150, 96, 52))[i], shade=0.4)
    for y in (0.7, 0.8, 0.9):
        c.fill(circle(0.51, y, 0.014), (200, 200, 200))


def _spoon(c: Canvas, i: int) -> None:
    c.angle = 0.6
    colour = (STEEL, (192, 140, 84))[i]
    c.fill(ellipse(0.5, 0.22, 0.14, 0.19), colour, shade=0.6)
    c.fill(ellipse(0.5, 0.23, 0.09, 0.13), scale(colour, 0.8))
    c.fill(bar(0.5, 0.38, 0.5, 0.95, 0.025, 0.04), colour, shade=0.3)


def _spatula(c: Canvas, i: int) -> None:
    c.angle = -0.55
    colour = ((40, 40, 44), (210, 40, 40))[i]
    head = rect(0.33, 0.04, 0.67, 0.38) - rect(0.4, 0.09, 0.43, 0.32) - rect(0.485, 0.09, 0.515, 0.32) \
        - rect(0.57, 0.09, 0.6, 0.32)
    c.fill(head | bar(0.5, 0.36, 0.5, 0.96, 0.03, 0.045), colour, shade=0.4)


def _plate(c: Canvas, i: int) -> None:
    colour = (WHITE, (62, 110, 206), (206, 52, 50))[i]
    c.fill(ellipse(0.5, 0.72, 0.48, 0.22), scale(colour, 0.8))
    c.fill(ellipse(0.5, 0.7, 0.47, 0.21), colour, shade=0.25)
    c.fill(ellipse(0.5, 0.72, 0.31, 0.13), scale(colour, 0.9))
    c.fill(ring(0.5, 0.72, 0.4, 0.37, squash=0.44), scale(colour, 1.1))


def _bowl(c: Canvas, i: int) -> None:
    colour = (WHITE, (206, 44, 44), (50, 92, 196))[i]
    c.fill(ellipse(0.5, 0.52, 0.46, 0.4) & rect(0, 0.52, 1, 1), colour, shade=0.5)
    c.fill(ellipse(0.5, 0.52, 0.46, 0.15), scale(colour, 1.05))
    c.fill(ellipse(0.5, 0.53, 0.4, 0.115), scale(colour, 0.7))
    c.fill(ellipse(0.5, 0.57, 0.26, 0.07), scale(colour, 0.6))


def _cup(c: Canvas, i: int) -> None:
    colour = (RED, BLUE, GREEN, YELLOW)[i]
    c.fill(poly([(0.21, 0.26), (0.79, 0.26), (0.68, 0.92), (0.32, 0.92)]) | ellipse(0.5, 0.92, 0.18, 0.05), colour,
           shade=0.5)
    c.fill(ellipse(0.5, 0.26, 0.29, 0.08), scale(colour, 1.15))
    c.fill(ellipse(0.5, 0.265, 0.25, 0.062), scale(colour, 0.6))
    c.fill(bar(0.23, 0.34, 0.77, 0.34, 0.012), scale(colour, 1.2))


def _mug(c: Canvas, i: int) -> None:
    colour = (WHITE, (44, 44, 48))[i]
    c.fill(ring(0.7, 0.58, 0.2, 0.11, squash=1.1), colour, shade=0.4)
    c.fill(rect(0.2, 0.3, 0.68, 0.88) | ellipse(0.44, 0.88, 0.24, 0.06), colour, shade=0.45)
    c.fill(ellipse(0.44, 0.3, 0.24, 0.07), scale(colour, 1.1 if i else 0.85))
    c.fill(ellipse(0.44, 0.305, 0.2, 0.055), (92, 54, 30))
    for k in range(2):  # steam: a hot drink
        x = 0.36 + 0.16 * k
        c.fill(ring(x + 0.06, 0.16, 0.07, 0.05) & rect(0, 0, x + 0.06, 1), (200, 200, 204), alpha=0.8)


def _lid(c: Canvas, i: int) -> None:
    if i == 0:  # pot lid: flat steel dome with a black knob
        c.fill(ellipse(0.5, 0.7, 0.47, 0.2), (140, 146, 152))
        c.fill(ellipse(0.5, 0.66, 0.42, 0.22) & rect(0, 0, 1, 0.7), STEEL, shade=0.5)
        c.fill(ellipse(0.5, 0.68, 0.42, 0.08) & rect(0, 0.68, 1, 1), STEEL)
        c.fill(rect(0.46, 0.4, 0.54, 0.48), (60, 60, 60))
        c.fill(ellipse(0.5, 0.38, 0.12, 0.06), BLACK, shade=0.4)
        return
    gold = (214, 172, 60)  # jar lid: short ridged gold cylinder
    c.fill(rect(0.2, 0.55, 0.8, 0.78) | ellipse(0.5, 0.78, 0.3, 0.1), scale(gold, 0.8))
    for k in range(9):
        x = 0.24 + 0.065 * k
        c.fill(rect(x, 0.6, x + 0.02, 0.84), scale(gold, 0.62))
    c.fill(ellipse(0.5, 0.55, 0.3, 0.1), gold, shade=0.4)


# --- boxes and blocks ----------------------------------------------------------------------

def _cuboid(c: Canvas, x0: float, y0: float, x1: float, y1: float, dx: float, dy: float, colour: Colour,
            top: Colour | None = None, side: Colour | None = None) -> None:
    """A box seen from the front-left-above: front face, top face, right face."""
    c.fill(poly([(x0, y0), (x0 + dx, y0 - dy), (x1 + dx, y0 - dy), (x1, y0)]), top or scale(colour, 1.18))
    c.fill(poly([(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)]), side or scale(colour, 0.72))
    c.fill(rect(x0, y0, x1, y1), colour)


_BOX = (((206, 36, 36), (0.2, 0.08, 0.66, 0.95)), ((246, 240, 228), (0.18, 0.32, 0.7, 0.95)),
        ((200, 40, 120), (0.2, 0.52, 0.66, 0.95)))


def _box(c: Canvas, i: int) -> None:
    colour, (x0, y0, x1, y1) = _BOX[i]
    _cuboid(c, x0, y0, x1, y1, 0.16, 0.07, colour)
    w, h = x1 - x0, y1 - y0
    if i == 0:  # cracker box: yellow banner and crackers
        c.fill(ellipse(x0 + w / 2, y0 + 0.22 * h, 0.4 * w, 0.09 * h), (250, 220, 60))
        for k in range(3):
            c.fill(rect(x0 + 0.12 * w + 0.27 * k * w, y0 + 0.55 * h, x0 + 0.35 * w + 0.27 * k * w, y0 + 0.72 * h),
                   (220, 170, 90))
    elif i == 1:  # sugar box: white with a yellow label and a blue stripe
        c.fill(rect(x0, y0 + 0.3 * h, x1, y0 + 0.65 * h), (250, 210, 40))
        c.fill(rect(x0, y0 + 0.72 * h, x1, y0 + 0.8 * h), (40, 80, 180))
    else:  # gelatin box: a white logo band
        c.fill(ellipse(x0 + w / 2, y0 + 0.45 * h, 0.42 * w, 0.18 * h), (250, 250, 250))
        c.fill(ellipse(x0 + w / 2, y0 + 0.45 * h, 0.3 * w, 0.08 * h), (40, 80, 190))


def _block(c: Canvas, i: int) -> None:
    colour = ((196, 52, 40), (48, 96, 186), (60, 150, 70))[i]
    _cuboid(c, 0.12, 0.38, 0.7, 0.96, 0.2, 0.2, colour)
    for k in range(3):  # wood grain
        y = 0.5 + 0.14 * k
        c.fill(bar(0.14, y, 0.68, y + 0.03, 0.007), scale(colour, 0.85))


def _lego(c: Canvas, i: int) -> None:
    colour = ((214, 30, 30), (250, 204, 20), (30, 90, 200))[i]
    _cuboid(c, 0.06, 0.56, 0.76, 0.92, 0.18, 0.2, colour)
    for row in range(2):
        for k in range(4):
            x = 0.15 + 0.165 * k + 0.08 + row * -0.07
            y = 0.43 + row * 0.08
            c.fill(rect(x - 0.055, y - 0.06, x + 0.055, y) | ellipse(x, y, 0.055, 0.025), scale(colour, 0.82))
            c.fill(ellipse(x, y - 0.06, 0.055, 0.025), scale(colour, 1.25))


_RUBIK = ((214, 30, 30), (250, 250, 250), (30, 80, 200), (40, 170, 60), (250, 210, 20), (250, 130, 20))


def _rubiks(c: Canvas, i: int) -> None:
    x0, y0, s, dx, dy = 0.1, 0.38, 0.58, 0.22, 0.2
    _cuboid(c, x0, y0, x0 + s, y0 + s, dx, dy, BLACK, BLACK, BLACK)
    g = s / 3
    for r in range(3):
        for k in range(3):
            col = _RUBIK[(r * 3 + k * 2) % 6]
            e = 0.012  # black gap between stickers
            c.fill(rect(x0 + k * g + e, y0 + r * g + e, x0 + (k + 1) * g - e, y0 + (r + 1) * g - e), col)
            # top face: rows go back, columns go right
            tx, ty = x0 + k * g + dx * (r / 3), y0 - dy * (r / 3)
            c.fill(poly([(tx + 0.02, ty - 0.01), (tx + g - 0.01, ty - 0.01), (tx + g + dx / 3 - 0.02, ty - dy / 3 + e),
                         (tx + dx / 3 + 0.01, ty - dy / 3 + e)]), _RUBIK[(r + k * 2 + 1) % 6])
            sx, sy = x0 + s + dx * (k / 3), y0 + r * g - dy * (k / 3)
            c.fill(poly([(sx + 0.01, sy + 0.015), (sx + dx / 3 - 0.01, sy - dy / 3 + 0.02),
                         (sx + dx / 3 - 0.01, sy - dy / 3 + g - 0.01), (sx + 0.01, sy + g - 0.015)]),
                   scale(_RUBIK[(r * 2 + k + 3) % 6], 0.8))


def _sponge(c: Canvas, i: int) -> None:
    colour, pad = (((248, 214, 60), (40, 140, 60)), ((244, 136, 176), (70, 110, 200)))[i]
    _cuboid(c, 0.08, 0.52, 0.8, 0.9, 0.14, 0.18, colour, top=pad, side=scale(colour, 0.78))
    c.fill(rect(0.08, 0.52, 0.8, 0.62), scale(pad, 0.85))
    for k in range(11):
        x, y = 0.13 + (k * 0.37) % 0.64, 0.67 + 0.08 * (k % 3)
        c.fill(circle(x, y, 0.018), scale(colour, 0.75))


def _book(c: Canvas, i: int) -> None:
    colour = ((200, 36, 40), (40, 78, 180), (40, 130, 64), (240, 130, 30))[i]
    cover = [(0.2, 0.36), (0.96, 0.36), (0.82, 0.72), (0.06, 0.72)]
    c.fill(poly([(0.06, 0.72), (0.82, 0.72), (0.96, 0.36), (0.96, 0.48), (0.82, 0.86), (0.06, 0.86)]), (246, 240, 220))
    for k in range(1, 4):  # page edges
        y = 0.72 + 0.035 * k
        c.fill(bar(0.1, y, 0.82, y, 0.005), (190, 180, 160))
    c.fill(poly(cover), colour, shade=0.2)
    c.fill(bar(0.13, 0.54, 0.06, 0.72, 0.04) | bar(0.13, 0.54, 0.2, 0.36, 0.04), scale(colour, 0.7))
    c.fill(poly([(0.08, 0.72), (0.08, 0.86), (0.04, 0.84), (0.04, 0.72)]), scale(colour, 0.6))
    c.fill(poly([(0.36, 0.44), (0.78, 0.44), (0.74, 0.54), (0.32, 0.54)]), (246, 236, 200))
    c.fill(bar(0.38, 0.49, 0.72, 0.49, 0.012), scale(colour, 0.8))


# --- the rest ------------------------------------------------------------------------------

def _padlock(c: Canvas, i: int) -> None:
    c.fill(ring(0.5, 0.42, 0.24, 0.15) & rect(0, 0, 1, 0.5), (200, 204, 210), shade=0.3)
    c.fill(rect(0.26, 0.42, 0.35, 0.55) | rect(0.65, 0.42, 0.74, 0.55), (200, 204, 210))
    c.fill(rect(0.18, 0.5, 0.82, 0.95), ((212, 164, 56), (150, 156, 166))[i], shade=0.45)
    c.fill(circle(0.5, 0.68, 0.055) | poly([(0.47, 0.7), (0.53, 0.7), (0.55, 0.84), (0.45, 0.84)]), (40, 36, 30))


_CAN = (((206, 32, 32), WHITE), ((196, 20, 34), WHITE), ((80, 180, 60), (250, 240, 120)), ((40, 84, 176), WHITE))


def _can(c: Canvas, i: int) -> None:
    body, accent = _CAN[i]
    x0, x1, y0, y1 = (0.26, 0.74, 0.18, 0.88) if i < 3 else (0.16, 0.84, 0.58, 0.86)
    cx, rx, ry = (x0 + x1) / 2, (x1 - x0) / 2, 0.06 if i < 3 else 0.09
    c.fill(rect(x0, y0, x1, y1) | ellipse(cx, y1, rx, ry), body, shade=0.5)
    if i == 0:  # tomato soup: red top half, white bottom half with a gold medal
        c.fill((rect(x0, 0.52, x1, y1) | ellipse(cx, y1, rx, ry)) & rect(0, 0.52, 1, 1), accent, shade=0.3)
        c.fill(circle(cx, 0.66, 0.06), (220, 180, 50))
    elif i == 1:  # cola: white wave
        c.fill(ring(0.12, 0.18, 0.5, 0.43) & rect(x0, y0, x1, y1), accent)
    elif i == 2:  # lime soda: pale band with a lime
        c.fill(rect(x0, 0.44, x1, 0.66), accent)
        c.fill(circle(cx, 0.55, 0.07), (120, 200, 40))
    else:  # tuna: white band
        c.fill(rect(x0, 0.66, x1, 0.76), accent)
    c.fill(ellipse(cx, y0, rx, ry), (206, 208, 212))
    c.fill(ring(cx, y0, rx * 0.92, rx * 0.78, squash=ry / rx), (160, 164, 170))


def _cleanser(c: Canvas, i: int) -> None:
    body, label = (((40, 110, 214), WHITE), (WHITE, (40, 150, 80)))[i]
    c.fill(capsule(0.5, 0.5, 0.5, 0.85, 0.2) | rect(0.3, 0.5, 0.7, 0.97), body, shade=0.45)
    c.fill(rect(0.32, 0.58, 0.68, 0.82), label)
    c.fill(rect(0.36, 0.66, 0.64, 0.7) | rect(0.36, 0.74, 0.56, 0.77), (RED, BLUE)[i])
    c.fill(rect(0.42, 0.26, 0.58, 0.37), (240, 240, 240) if i == 0 else (40, 110, 214))
    head = (240, 240, 240) if i == 0 else (40, 110, 214)
    c.fill(poly([(0.36, 0.1), (0.66, 0.1), (0.66, 0.28), (0.4, 0.28), (0.36, 0.2)]), head, shade=0.3)
    c.fill(rect(0.2, 0.12, 0.38, 0.19), head)
    c.fill(poly([(0.38, 0.22), (0.44, 0.22), (0.38, 0.38), (0.33, 0.36)]), (60, 60, 66))


def _airplane(c: Canvas, i: int) -> None:
    colour = ((214, 36, 40), (40, 92, 210))[i]
    c.fill(poly([(0.44, 0.5), (0.54, 0.5), (0.46, 0.2), (0.4, 0.2)]), scale(colour, 0.75))  # far wing
    c.fill(poly([(0.12, 0.5), (0.22, 0.5), (0.14, 0.22), (0.07, 0.22)]), colour, shade=0.3)  # tail fin
    c.fill(capsule(0.1, 0.52, 0.84, 0.54, 0.085), colour, shade=0.5)
    c.fill(ellipse(0.88, 0.54, 0.05, 0.075), (230, 230, 230))
    c.fill(ellipse(0.93, 0.54, 0.015, 0.14), (80, 80, 86))
    c.fill(ellipse(0.7, 0.48, 0.06, 0.035), (150, 210, 246))
    c.fill(poly([(0.42, 0.55), (0.58, 0.55), (0.46, 0.88), (0.34, 0.88)]), scale(colour, 1.1), shade=0.3)
    for k in range(3):
        c.fill(circle(0.32 + 0.1 * k, 0.51, 0.018), (230, 240, 250))
    c.fill(poly([(0.1, 0.55), (0.24, 0.55), (0.2, 0.64), (0.08, 0.64)]), scale(colour, 1.1))


# --- the table -----------------------------------------------------------------------------

#: category -> (drawing, size of each instance relative to a large object)
_SPRITES: dict[str, tuple[Draw, tuple[float, ...]]] = {
    "ball": (_ball, (0.9, 0.76, 0.66, 0.62, 0.56)), "clamp": (_clamp, (0.9, 0.62, 0.72)),
    "hammer": (_hammer, (0.95, 0.95)), "screwdriver": (_screwdriver, (0.85, 0.85)), "padlock": (_padlock, (0.64, 0.64)),
    "scissors": (_scissors, (0.8, 0.8)), "block": (_block, (0.6, 0.6, 0.6)), "drill": (_drill, (0.95, 0.95)),
    "spatula": (_spatula, (0.9, 0.9)), "knife": (_knife, (0.95, 0.8)), "spoon": (_spoon, (0.75, 0.75)),
    "plate": (_plate, (1.0, 1.0, 1.0)), "sponge": (_sponge, (0.66, 0.66)), "cleanser": (_cleanser, (0.9, 0.9)),
    "plum": (_plum, (0.54,)), "pear": (_pear, (0.72, 0.72)), "peach": (_peach, (0.66,)),
    "apple": (_apple, (0.66, 0.66)),
    "lemon": (_lemon, (0.64,)), "can": (_can, (0.72, 0.72, 0.72, 0.72)), "box": (_box, (0.95, 0.85, 0.75)),
    "banana": (_banana, (0.85,)), "strawberry": (_strawberry, (0.54,)), "lego": (_lego, (0.6, 0.6, 0.6)),
    "rubiks cube": (_rubiks, (0.6,)), "book": (_book, (0.9, 0.9, 0.9, 0.9)), "bowl": (_bowl, (0.8, 0.8, 0.8)),
    "cup": (_cup, (0.68, 0.68, 0.68, 0.68)), "mug": (_mug, (0.7, 0.7)), "orange": (_orange, (0.68,)),
    "lid": (_lid, (0.9, 0.55)), "toy airplane": (_airplane, (0.95, 0.95)), "wrench": (_wrench, (0.72, 0.95)),
}
assert set(_SPRITES) == set(CATEGORIES)
assert all(len(v[1]) == len(CATEGORY_INFO[k].instances) for k, v in _SPRITES.items())


def _check(category: int, instance: int) -> str:
    if not 0 <= category < len(CATEGORIES):
        raise ValueError(f"category must be a catalog index in 0..{len(CATEGORIES) - 1}, got {category!r}")
    name = CATEGORIES[category]
    n = len(CATEGORY_INFO[name].instances)
    if not 0 <= instance < n:
        raise ValueError(f"instance of {name} must be in 0..{n - 1}, got {instance!r}")
    return name


def relative_size(category: int, instance: int) -> float:
    """Size of an object relative to the largest ones (a plate is 1.0, a plum about half)."""
    return _SPRITES[_check(category, instance)][1][instance]


@lru_cache(maxsize=4096)
def sprite_rgba(category: int, instance: int, size: int) -> np.ndarray:
    """The object drawn in a ``size`` x ``size`` RGBA square (uint8, straight alpha); read-only.

    ``size`` is the box of the object itself: callers scale it by :func:`relative_size`.
    """
    name = _check(category, instance)
    if size < 1:
        raise ValueError(f"sprite size must be a positive int, got {size!r}")
    canvas = Canvas(size, ss=4 if size < 96 else 2)
    _SPRITES[name][0](canvas, instance)
    out = canvas.rgba()
    out.setflags(write=False)
    return out


def sprite_by_name(category: str, instance: int, size: int) -> np.ndarray:
    """Convenience for scripts: :func:`sprite_rgba` by category name."""
    return sprite_rgba(CATEGORY_INDEX[category], instance, size)


@lru_cache(maxsize=None)
def mean_colour(category: int, instance: int) -> tuple[int, int, int]:
    """The average colour of an instance, for map markers."""
    rgba = sprite_rgba(category, instance, 24).astype(np.float32)
    w = rgba[..., 3:] / 255.0
    return tuple(int(v) for v in (rgba[..., :3] * w).sum((0, 1)) / max(float(w.sum()), 1e-6))  # type: ignore
