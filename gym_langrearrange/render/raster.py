"""A tiny numpy rasteriser for object sprites.

A shape is a boolean test of sample coordinates plus a bounding box; shapes combine with
``|``, ``&`` and ``-``. A :class:`Canvas` paints shapes at supersampling and box-filters
them down, so sprites get anti-aliased edges without any drawing library. All sprite
coordinates are in the unit square (x right, y down); the canvas maps them to pixels.
Speed is irrelevant here: every sprite is drawn once and cached.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

Test = Callable[[np.ndarray, np.ndarray], np.ndarray]
Colour = tuple[int, int, int]


class Shape:
    """A region of the plane: ``test(x, y)`` says which samples are inside; ``box`` bounds it."""

    __slots__ = ("test", "box")

    def __init__(self, test: Test, box: tuple[float, float, float, float]) -> None:
        self.test = test
        self.box = box

    def __or__(self, other: "Shape") -> "Shape":
        a, b = self.box, other.box
        return Shape(lambda x, y: self.test(x, y) | other.test(x, y),
                     (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])))

    def __and__(self, other: "Shape") -> "Shape":
        a, b = self.box, other.box
        return Shape(lambda x, y: self.test(x, y) & other.test(x, y),
                     (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))

    def __sub__(self, other: "Shape") -> "Shape":
        return Shape(lambda x, y: self.test(x, y) & ~other.test(x, y), self.box)


def ellipse(cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> Shape:
    """Ellipse with semi-axes rx, ry, rotated by ``angle`` radians (clockwise on screen)."""
    c, s = math.cos(angle), math.sin(angle)
    r = max(rx, ry) if angle else 0.0
    box = (cx - r, cy - r, cx + r, cy + r) if angle else (cx - rx, cy - ry, cx + rx, cy + ry)
    return Shape(lambda x, y: (((x - cx) * c + (y - cy) * s) / rx) ** 2
                 + ((-(x - cx) * s + (y - cy) * c) / ry) ** 2 <= 1.0, box)


def circle(cx: float, cy: float, r: float) -> Shape:
    return ellipse(cx, cy, r, r)


def rect(x0: float, y0: float, x1: float, y1: float) -> Shape:
    return Shape(lambda x, y: (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1), (x0, y0, x1, y1))


def poly(points: Sequence[tuple[float, float]]) -> Shape:
    """Any simple polygon (even-odd rule)."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]

    def test(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        inside = np.zeros(np.broadcast_shapes(x.shape, y.shape), dtype=bool)
        for i in range(len(xs)):
            xi, yi, xj, yj = xs[i], ys[i], xs[i - 1], ys[i - 1]
            if yi == yj:
                continue
            crosses = (yi > y) != (yj > y)
            inside ^= crosses & (x < (xj - xi) * (y - yi) / (yj - yi) + xi)
        return inside

    return Shape(test, (min(xs), min(ys), max(xs), max(ys)))


def capsule(x0: float, y0: float, x1: float, y1: float, r: float) -> Shape:
    """A thick segment with round ends: handles, shafts, stems."""
    dx, dy = x1 - x0, y1 - y0
    ll = dx * dx + dy * dy or 1e-12

    def test(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = np.clip(((x - x0) * dx + (y - y0) * dy) / ll, 0.0, 1.0)
        return (x - x0 - t * dx) ** 2 + (y - y0 - t * dy) ** 2 <= r * r

    return Shape(test, (min(x0, x1) - r, min(y0, y1) - r, max(x0, x1) + r, max(y0, y1) + r))


def bar(x0: float, y0: float, x1: float, y1: float, half: float, half_end: float | None = None) -> Shape:
    """A straight band along a segment, optionally tapering from ``half`` to ``half_end``."""
    he = half if half_end is None else half_end
    length = math.hypot(x1 - x0, y1 - y0) or 1e-12
    nx, ny = -(y1 - y0) / length, (x1 - x0) / length
    return poly([(x0 + nx * half, y0 + ny * half), (x1 + nx * he, y1 + ny * he),
                 (x1 - nx * he, y1 - ny * he), (x0 - nx * half, y0 - ny * half)])


def ring(cx: float, cy: float, r_out: float, r_in: float, squash: float = 1.0) -> Shape:
    """An annulus (squash < 1 flattens it vertically)."""
    return ellipse(cx, cy, r_out, r_out * squash) - ellipse(cx, cy, r_in, r_in * squash)


def regular(cx: float, cy: float, r: float, n: int, phase: float = -math.pi / 2) -> Shape:
    """A regular polygon (pentagons of a soccer ball, star-like calyx points)."""
    return poly([(cx + r * math.cos(phase + 2 * math.pi * k / n), cy + r * math.sin(phase + 2 * math.pi * k / n))
                 for k in range(n)])


def scale(colour: Sequence[float], f: float) -> Colour:
    """A lighter (f > 1) or darker (f < 1) version of a colour."""
    return tuple(int(max(0, min(255, round(v * f)))) for v in colour)  # type: ignore[return-value]


def mix(a: Sequence[float], b: Sequence[float], t: float) -> Colour:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


class Canvas:
    """A square RGBA surface of ``size`` pixels, drawn in unit coordinates at ``ss``x supersampling.

    ``angle`` rotates everything painted afterwards about the centre (screen-clockwise radians),
    so tools can be drawn upright and shown lying diagonally.
    """

    def __init__(self, size: int, ss: int = 4) -> None:
        self.size, self.ss = size, ss
        n = size * ss
        self.rgb = np.zeros((n, n, 3), np.float32)  # premultiplied colour
        self.alpha = np.zeros((n, n), np.float32)
        self.centres = (np.arange(n, dtype=np.float32) + 0.5) / n
        self.angle = 0.0

    def fill(self, shape: Shape, colour: Sequence[float], alpha: float = 1.0, shade: float = 0.0) -> None:
        """Paint ``shape``; ``shade`` > 0 lights it from the upper left for a rounded look."""
        n = self.size * self.ss
        if self.angle:
            i0, j0, i1, j1 = 0, 0, n, n
        else:
            x0, y0, x1, y1 = shape.box
            j0, j1 = max(0, int(x0 * n) - 1), min(n, int(math.ceil(x1 * n)) + 1)
            i0, i1 = max(0, int(y0 * n) - 1), min(n, int(math.ceil(y1 * n)) + 1)
            if j0 >= j1 or i0 >= i1:
                return
        x = self.centres[None, j0:j1]
        y = self.centres[i0:i1, None]
        if self.angle:  # sample the unrotated drawing: rotate sample points the other way
            c, s = math.cos(self.angle), math.sin(self.angle)
            x, y = 0.5 + (x - 0.5) * c + (y - 0.5) * s, 0.5 - (x - 0.5) * s + (y - 0.5) * c
        mask = np.broadcast_to(shape.test(x, y), (i1 - i0, j1 - j0))
        if not mask.any():
            return
        col = np.asarray(colour, np.float32)[None, :]
        if shade:
            bx0, by0, bx1, by1 = shape.box
            u = (np.broadcast_to(x, mask.shape)[mask] - (bx0 + bx1) / 2) / max((bx1 - bx0) / 2, 1e-6)
            v = (np.broadcast_to(y, mask.shape)[mask] - (by0 + by1) / 2) / max((by1 - by0) / 2, 1e-6)
            f = 1.0 + shade * (0.3 - 0.45 * np.sqrt((u + 0.45) ** 2 + (v + 0.45) ** 2))
            col = np.clip(col * f[:, None], 0, 255)
        rgb, a = self.rgb[i0:i1, j0:j1], self.alpha[i0:i1, j0:j1]
        rgb[mask] = col * alpha + rgb[mask] * (1 - alpha)
        a[mask] = alpha + a[mask] * (1 - alpha)

    def rgba(self) -> np.ndarray:
        """Box-filter down to (size, size, 4) uint8 with straight (not premultiplied) alpha."""
        s, ss = self.size, self.ss
        rgb = self.rgb.reshape(s, ss, s, ss, 3).mean(axis=(1, 3))
        a = self.alpha.reshape(s, ss, s, ss).mean(axis=(1, 3))
        out = np.zeros((s, s, 4), np.uint8)
        out[..., :3] = np.clip(rgb / np.maximum(a, 1e-6)[..., None] + 0.5, 0, 255)
        out[..., 3] = np.clip(a * 255 + 0.5, 0, 255)
        return out
