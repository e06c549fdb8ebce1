"""Pictures of the TWOSOME tasks for people (``render_mode="rgb_array"``): they read the world, never change it."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from gym_langrearrange.twosome.home import ROOMS, House
from gym_langrearrange.twosome.kitchen import Kitchen

CELL = 48
_COLOURS = {"floor": (236, 228, 210), "counter": (150, 120, 90), "board": (205, 170, 110), "delivery": (90, 160, 90),
            "agent": (60, 90, 200), "tomato": (215, 40, 40), "lettuce": (90, 190, 60), "onion": (160, 90, 170),
            "bowl": (250, 250, 250)}


def draw_kitchen(kitchen: Kitchen) -> np.ndarray:
    """A top-down picture of the kitchen: counters, boards (tan), delivery (green), items and the agent (blue)."""
    layout = kitchen.layout
    image = Image.new("RGB", (layout.size * CELL, layout.size * CELL))
    draw = ImageDraw.Draw(image)
    for x in range(layout.size):
        for y in range(layout.size):
            kind = ("floor" if layout.is_floor((x, y)) else "board" if (x, y) in layout.boards
                    else "delivery" if (x, y) == layout.delivery else "counter")
            draw.rectangle(_box((x, y)), fill=_COLOURS[kind], outline=(90, 80, 70))
    ax, ay = kitchen.agent
    draw.ellipse(_box((ax, ay), 8), fill=_COLOURS["agent"])
    bx, by = kitchen.position("bowl")
    draw.ellipse(_box((bx, by), 10), fill=_COLOURS["bowl"], outline=(40, 40, 40), width=2)
    for i, food in enumerate(layout.foods):
        fx, fy = kitchen.position(food)
        in_bowl = kitchen.place[food] in ("bowl",) or (fx, fy) == (bx, by)
        inset = 18 if in_bowl else 14
        left, top, right, bottom = _box((fx, fy), inset)
        shift = (i - 1) * 6 if in_bowl else 0
        shape = draw.rectangle if kitchen.chopped(food) else draw.ellipse  # chopped foods are drawn as squares
        shape((left + shift, top, right + shift, bottom), fill=_COLOURS[food])
    draw.text((4, 2), f"steps {kitchen.steps}", fill=(255, 255, 255))
    return np.asarray(image)


def _box(cell: tuple[int, int], inset: int = 2) -> tuple[int, int, int, int]:
    x, y = cell
    return y * CELL + inset, x * CELL + inset, (y + 1) * CELL - inset, (x + 1) * CELL - inset


def draw_house(house: House, title: str) -> np.ndarray:
    """Four rooms side by side: where the character is, what it holds, and the state of the appliances."""
    width, height = 4 * 150, 220
    image = Image.new("RGB", (width, height), (245, 245, 240))
    draw = ImageDraw.Draw(image)
    draw.text((6, 4), title, fill=(0, 0, 0))
    for i, room in enumerate(ROOMS):
        left = i * 150
        active = room == house.room
        draw.rectangle((left + 4, 20, left + 146, height - 6), outline=(30, 30, 30), width=3 if active else 1,
                       fill=(220, 232, 250) if active else (250, 250, 250))
        lines = [room]
        lines += [f"{name}{' (open)' if name == 'microwave' and house.microwave_open else ''}"
                  f"{' (on)' if name == 'tv' and house.tv_on else ''}"
                  for name in ("microwave", "tv", "sofa", "coffeetable") if house.room_of_object(name) == room]
        lines += [f"{m}: {'in the microwave' if m in house.inside else 'on the ' + house.on[m][0]}"
                  for m in house.movables if m not in house.held and house.room_of[m] == room]
        if active:
            lines += ["", "YOU" + (" (sitting)" if house.sitting else "")]
            lines += [f"holding {m}" for m in house.held]
            lines += [f"near {n}" for n in sorted(house.close - set(house.held))]
        for j, line in enumerate(lines):
            draw.text((left + 10, 28 + 14 * j), line, fill=(0, 0, 0))
    return np.asarray(image)
