"""Build docs/robot_views.png: what the robot's head camera sees at several receptacles, plus the map.

Run from the repository root: ``python docs/make_robot_views.py [--scene N] [--size PX] [--out PATH]``.
The state is written by hand (no episode generator needed), so the picture shows every
kind of view: the episode start, surfaces with objects, the fridge closed and open, a
drawer closed and open, and the robot holding an object.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gym_langrearrange.catalog import CATEGORY_INDEX, CATEGORY_INFO, RECEPTACLE_INDEX  # noqa: E402
from gym_langrearrange.render import EgocentricRenderer, render_topdown  # noqa: E402
from gym_langrearrange.world import WorldState, get_scene  # noqa: E402

#: (category, instance name, receptacle)
OBJECTS = [
    ("apple", "red apple", "black table"), ("banana", "banana", "black table"), ("book", "blue book", "black table"),
    ("mug", "white mug", "black table"), ("cup", "red cup", "black table"),
    ("orange", "orange", "brown table"), ("peach", "peach", "brown table"), ("lemon", "lemon", "brown table"),
    ("pear", "green pear", "brown table"),
    ("ball", "soccer ball", "sofa"), ("ball", "tennis ball", "sofa"), ("toy airplane", "red toy airplane", "sofa"),
    ("plate", "blue plate", "sofa"),
    ("hammer", "claw hammer", "coffee table"), ("drill", "yellow drill", "coffee table"),
    ("wrench", "large wrench", "coffee table"), ("screwdriver", "flat screwdriver", "coffee table"),
    ("box", "cracker box", "left counter"), ("can", "tomato soup can", "left counter"),
    ("lego", "yellow lego", "left counter"), ("rubiks cube", "rubiks cube", "left counter"),
    ("sponge", "yellow sponge", "sink"), ("cleanser", "blue cleanser", "sink"), ("bowl", "white bowl", "sink"),
    ("strawberry", "strawberry", "fridge"), ("plum", "plum", "fridge"), ("can", "cola can", "fridge"),
    ("bowl", "red bowl", "fridge"), ("apple", "dark red apple", "fridge"),
    ("knife", "chef knife", "cabinet drawer 1"), ("spoon", "wooden spoon", "cabinet drawer 1"),
    ("scissors", "red scissors", "cabinet drawer 1"), ("spatula", "black spatula", "cabinet drawer 1"),
    ("padlock", "brass padlock", "TV stand"), ("clamp", "large clamp", "TV stand"),
    ("block", "green wood block", "TV stand"),
    ("lid", "pot lid", "shelf"), ("book", "orange book", "shelf"), ("cup", "green cup", "shelf"),
    ("mug", "black mug", "chair"),
]


def build_state(scene_index: int) -> WorldState:
    scene = get_scene(scene_index)
    objs = [o for o in OBJECTS if scene.has(o[2])]
    return WorldState(scene, category=tuple(CATEGORY_INDEX[c] for c, _, _ in objs),
                      instance=tuple(CATEGORY_INFO[c].instances.index(i) for c, i, _ in objs),
                      loc=[RECEPTACLE_INDEX[r] for _, _, r in objs], opened=[False] * 15,
                      pose=(scene.width / 2, scene.depth / 2, 1.2))


def panels(state: WorldState, size: int) -> list[tuple[str, np.ndarray]]:
    """(caption, head-camera image) for a walk through the apartment."""
    ren = EgocentricRenderer(state.scene, size)
    out = []

    def shot(caption: str, at: str | None, **opened: bool) -> None:
        state.robot_at = RECEPTACLE_INDEX[at] if at else -1
        for name, value in opened.items():
            state.opened[RECEPTACLE_INDEX[name.replace("_", " ")]] = value
        out.append((caption, ren.render(state)))

    shot("episode start (no receptacle)", None)
    for r in ("black table", "brown table", "sofa", "coffee table", "left counter", "sink", "TV stand", "shelf"):
        if state.scene.has(r):
            shot(r, r)
    shot("fridge, closed", "fridge")
    shot("fridge, open", "fridge", fridge=True)
    shot("cabinet drawer 1, closed", "cabinet drawer 1")
    shot("cabinet drawer 1, open", "cabinet drawer 1", cabinet_drawer_1=True)
    mug = next(o for o in range(state.num_objects) if state.category[o] == CATEGORY_INDEX["mug"]
               and state.instance[o] == CATEGORY_INFO["mug"].instances.index("white mug"))
    state.loc[mug], state.held = -1, mug  # picked up from the black table
    shot("chair, holding white mug", "chair")
    return out


def compose(items: list[tuple[str, np.ndarray]], topdown: np.ndarray, columns: int) -> Image.Image:
    size = items[0][1].shape[0]
    cap = max(14, size // 12)
    try:
        font = ImageFont.load_default(size=cap - 4)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    rows = -(-len(items) // columns)
    cell_w, cell_h = size + 6, size + cap + 6
    grid_h = rows * cell_h
    map_px = topdown.shape[0]
    sheet = Image.new("RGB", (columns * cell_w + map_px + 6, max(grid_h, map_px + cap + 6)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (caption, image) in enumerate(items):
        x, y = (i % columns) * cell_w + 3, (i // columns) * cell_h + 3
        draw.text((x + 2, y), caption, fill=(20, 20, 20), font=font)
        sheet.paste(Image.fromarray(image), (x, y + cap))
    x = columns * cell_w + 3
    draw.text((x + 2, 3), "top-down map (for people, not the robot)", fill=(20, 20, 20), font=font)
    sheet.paste(Image.fromarray(topdown), (x, 3 + cap))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", type=int, default=4)
    parser.add_argument("--size", type=int, default=256, help="head-camera image size in pixels")
    parser.add_argument("--out", default=str(Path(__file__).with_name("robot_views.png")))
    args = parser.parse_args()
    state = build_state(args.scene)
    items = panels(state, args.size)
    columns = 5
    rows = -(-len(items) // columns)
    map_px = rows * (args.size + max(14, args.size // 12) + 6) - max(14, args.size // 12) - 6
    compose(items, render_topdown(state, map_px), columns).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
