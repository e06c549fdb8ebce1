"""Episode videos for people: camera view beside the map, with the instruction and the skill written on."""
from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import Sequence

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw

from gym_langrearrange.files import atomic_write_bytes


def annotate(frame: np.ndarray, lines: Sequence[str], width_chars: int | None = None) -> np.ndarray:
    """A copy of ``frame`` with a caption band of text lines below it (long lines are wrapped)."""
    h, w, _ = frame.shape
    width_chars = width_chars or max(20, w // 7)
    wrapped = [piece for line in lines for piece in (textwrap.wrap(line, width_chars) or [""])]
    band = 14 * len(wrapped) + 8
    canvas = Image.new("RGB", (w, h + band), (24, 24, 28))
    canvas.paste(Image.fromarray(frame), (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(wrapped):
        draw.text((6, h + 4 + 14 * i), line, fill=(235, 235, 235))
    return np.asarray(canvas)


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float = 1.5) -> Path:
    """Write frames (padded to one size) as a looping GIF, atomically."""
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    padded = [np.pad(f, ((0, h - f.shape[0]), (0, w - f.shape[1]), (0, 0))) for f in frames]
    buffer = io.BytesIO()
    imageio.mimsave(buffer, padded, format="GIF", duration=1000.0 / fps, loop=0)
    return atomic_write_bytes(path, buffer.getvalue())
