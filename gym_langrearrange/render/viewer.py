"""The view people watch an episode in: the robot's camera, the top-down map and the episode's words.

:func:`compose_view` draws one picture from an env (it reads the env, never changes it); a
:class:`Viewer` shows it in a window where a display exists (matplotlib) and otherwise rewrites a PNG
file each time, so a headless machine can follow an episode with any image viewer.
``render_mode="human"`` and ``python -m gym_langrearrange play`` both use it.
"""
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

#: where a headless viewer writes its picture, unless told otherwise
DEFAULT_PNG = "langrearrange-view.png"
_PANEL = 256  # side of the camera and map panels, in pixels
_TEXT_WIDTH = 360


def compose_view(env: Any, feedback: str = "", reward: float | None = None) -> np.ndarray:
    """(H, W, 3) uint8: camera | map | instruction, feedback, reward and subgoals (done ones ticked)."""
    from gym_langrearrange.render import render_topdown

    env = env.unwrapped
    camera = Image.fromarray(env.camera()).resize((_PANEL, _PANEL))
    topdown = Image.fromarray(render_topdown(env.state)).resize((_PANEL, _PANEL))
    image = Image.new("RGB", (2 * _PANEL + _TEXT_WIDTH, _PANEL + 40), (250, 250, 248))
    image.paste(camera, (0, 0))
    image.paste(topdown, (_PANEL, 0))
    draw = ImageDraw.Draw(image)
    draw.text((4, _PANEL + 4), "robot's camera", fill=(40, 40, 40))
    draw.text((_PANEL + 4, _PANEL + 4), "map (for people)", fill=(40, 40, 40))
    lines = [f"{env.episode.episode_id}  step {env._t}/{env.max_steps}", ""]
    lines += textwrap.wrap(f"Instruction: {env.episode.instruction}", 56) + [""]
    if feedback:
        lines += textwrap.wrap(f"Feedback: {feedback}", 56)
    if reward is not None:
        lines.append(f"Reward: {reward:+.2f}")
    lines += ["", "Subgoals:"]
    lines += [f" [{'x' if done else ' '}] {goal}" for goal, done in zip(env.episode.subgoals, env._subgoal_done)]
    if env._success:
        lines += ["", "SUCCESS"]
    for i, line in enumerate(lines):
        draw.text((2 * _PANEL + 8, 6 + 14 * i), line, fill=(0, 0, 0))
    return np.asarray(image)


def display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or os.name == "nt"


class Viewer:
    """Shows frames in a matplotlib window, or (no display, or ``png`` given) rewrites ``png``."""

    def __init__(self, png: str | os.PathLike | None = None) -> None:
        self.window = png is None and display_available()
        self.png = Path(png or os.environ.get("GYM_LANGREARRANGE_VIEW", DEFAULT_PNG))
        self._figure = self._axes = None

    def show(self, frame: np.ndarray) -> None:
        if self.window:
            import matplotlib.pyplot as plt

            if self._figure is None:
                plt.ion()
                self._figure, self._axes = plt.subplots(figsize=(frame.shape[1] / 100, frame.shape[0] / 100))
                self._axes.axis("off")
                self._image = self._axes.imshow(frame)
            else:
                self._image.set_data(frame)
            self._figure.canvas.draw_idle()
            plt.pause(0.001)
            return
        tmp = self.png.with_name(f".{self.png.name}.tmp.png")
        Image.fromarray(frame).save(tmp)
        os.replace(tmp, self.png)  # a watcher never reads half a picture

    def close(self) -> None:
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = None
