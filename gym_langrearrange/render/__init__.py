"""Rendering: object appearance, the robot's head-camera view, and a top-down map for people."""
from __future__ import annotations

import numpy as np

from gym_langrearrange.render.egocentric import EgocentricRenderer
from gym_langrearrange.render.topdown import render_topdown

__all__ = ["EgocentricRenderer", "render_topdown", "side_by_side"]


def side_by_side(*images: np.ndarray, gap: int = 0) -> np.ndarray:
    """Put RGB images next to each other, padding shorter ones at the bottom with black (for GIFs)."""
    if not images:
        raise ValueError("side_by_side needs at least one image")
    arrays = [np.asarray(im) for im in images]
    for i, im in enumerate(arrays):
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise ValueError(f"image {i} must be an (H, W, 3) uint8 array, got shape {im.shape} dtype {im.dtype}")
    height = max(im.shape[0] for im in arrays)
    parts = []
    for i, im in enumerate(arrays):
        if i and gap:
            parts.append(np.zeros((height, gap, 3), np.uint8))
        parts.append(np.pad(im, ((0, height - im.shape[0]), (0, 0), (0, 0))))
    return np.concatenate(parts, axis=1)
