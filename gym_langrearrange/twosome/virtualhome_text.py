"""The words of the household tasks: the prompt and the valid actions, from the observation vector alone.

As in the original, the valid subset is what the prompt's state makes sensible (its quirks kept:
they decide what TWOSOME and the masked PPO baseline can do); the wording is ours.
"""
from __future__ import annotations

import numpy as np

FOOD_PREPARATION_TEXTS = (
    "walk to the living room", "walk to the kitchen", "walk to the bathroom", "walk to the bedroom",
    "walk to the pancake", "walk to the microwave", "grab the pancake", "put the pancake in the microwave",
    "open the microwave", "close the microwave")
ENTERTAINMENT_TEXTS = (
    "walk to the living room", "walk to the kitchen", "walk to the bathroom", "walk to the bedroom",
    "walk to the chips", "walk to the milk", "walk to the coffee table", "walk to the TV", "walk to the sofa",
    "grab the chips", "grab the milk", "put the chips on the coffee table", "put the milk on the coffee table",
    "turn on the TV", "turn off the TV", "sit on the sofa", "stand up from the sofa")
#: the observation vectors' fields, in order
FOOD_PREPARATION_FIELDS = ("in_kitchen", "in_bathroom", "in_bedroom", "in_livingroom", "see_pancake",
                           "close_to_pancake", "hold_pancake", "see_microwave", "close_to_microwave",
                           "is_microwave_open", "pancake_in_microwave")
ENTERTAINMENT_FIELDS = ("in_kitchen", "in_bathroom", "in_bedroom", "in_livingroom", "see_chips", "close_to_chips",
                        "hold_chips", "chips_on_coffeetable", "see_milk", "close_to_milk", "hold_milk",
                        "milk_on_coffeetable", "see_tv", "close_to_tv", "is_face_tv", "is_tv_on", "see_sofa",
                        "close_to_sofa", "is_sit_sofa", "see_coffeetable", "close_to_coffeetable")
_HOUSE = "The house has four rooms: a kitchen, a bathroom, a bedroom and a living room."
_ROOM_NAMES = {"in_kitchen": "kitchen", "in_bathroom": "bathroom", "in_bedroom": "bedroom",
               "in_livingroom": "living room"}


def _fields(vector: np.ndarray, names: tuple[str, ...]) -> dict[str, bool]:
    return {name: bool(vector[i]) for i, name in enumerate(names)}


def _room(o: dict[str, bool]) -> str:
    return next(name for key, name in _ROOM_NAMES.items() if o[key])


def describe_food_preparation(vector: np.ndarray) -> tuple[str, tuple[int, ...]]:
    """(prompt, valid action ids) of Food Preparation (heat the pancake in the microwave)."""
    o = _fields(vector, FOOD_PREPARATION_FIELDS)
    room = _room(o)
    parts = [_HOUSE, f"You are in the {room}."]
    if room != "kitchen":
        parts.append("Nothing here is of use.")
        parts.append("You hold the pancake." if o["hold_pancake"] else "Your hands are empty.")
        valid = {"bathroom": (0, 1, 3), "bedroom": (0, 1, 2), "living room": (1, 2, 3)}[room]
    elif not o["see_pancake"]:
        parts.append("The pancake is inside the microwave, whose door is shut.")
        valid = (0, 2, 3)
    else:
        parts.append("You see the pancake and the microwave.")
        pancake_close, microwave_close = o["close_to_pancake"], o["close_to_microwave"]
        if o["hold_pancake"]:
            parts.append("You hold the pancake.")
            parts.append("The microwave is within reach." if microwave_close else "The microwave is out of reach.")
            valid = (0, 2, 3, 4, 7, 8, 9) if microwave_close else (0, 2, 3, 4, 5)
        else:
            parts.append("Your hands are empty.")
            if pancake_close and microwave_close:
                valid = (0, 2, 3, 8, 9) if o["is_microwave_open"] else (0, 2, 3, 9)
            elif pancake_close:
                parts.append("The pancake is within reach.")
                valid = (0, 2, 3, 5, 6)
            elif microwave_close:
                parts.append("The microwave is within reach.")
                valid = (0, 2, 3, 4, 8, 9)
            else:
                parts.append("Neither the pancake nor the microwave is within reach.")
                valid = (0, 2, 3, 4, 5)
        parts.append("The microwave door is open." if o["is_microwave_open"] else "The microwave door is shut.")
    parts.append("To heat the pancake in the microwave, your next step is to")
    return " ".join(parts), valid


def _is(name: str) -> str:
    return "are" if name == "chips" else "is"


def _holding(o: dict[str, bool]) -> str:
    held = [name for name in ("chips", "milk") if o[f"hold_{name}"]]
    return f"You hold the {' and the '.join(held)}." if held else "Your hands are empty."


def describe_entertainment(vector: np.ndarray) -> tuple[str, tuple[int, ...]]:
    """(prompt, valid action ids) of Entertainment (watch TV on the sofa with the chips and the milk)."""
    o = _fields(vector, ENTERTAINMENT_FIELDS)
    room = _room(o)
    parts = [_HOUSE, f"You are in the {room}."]
    if room == "kitchen":
        valid = _kitchen(o, parts)
    elif room == "living room":
        valid = _living_room(o, parts)
    else:
        parts.append(f"Nothing here is of use. {_holding(o)}")
        valid = (0, 1, 2) if room == "bedroom" else (0, 1, 3)
    parts.append("To enjoy the chips and the milk while watching TV, your next step is to")
    return " ".join(parts), valid


def _kitchen(o: dict[str, bool], parts: list[str]) -> tuple[int, ...]:
    chips, milk = o["see_chips"], o["see_milk"]
    if chips and milk:
        parts.append("You see the chips and the milk.")
        if o["hold_chips"] and o["hold_milk"]:
            parts.append(_holding(o))
            return 0, 2, 3
        if o["hold_chips"]:
            parts.append(f"The milk is {'within reach' if o['close_to_milk'] else 'out of reach'}. {_holding(o)}")
            return (0, 2, 3, 10) if o["close_to_milk"] else (0, 2, 3, 5)
        if o["hold_milk"]:
            parts.append(f"The chips are {'within reach' if o['close_to_chips'] else 'out of reach'}. {_holding(o)}")
            return (0, 2, 3, 9) if o["close_to_chips"] else (0, 2, 3, 4)
        near = [name for name in ("chips", "milk") if o[f"close_to_{name}"]]
        if len(near) == 1:
            parts.append(f"Only the {near[0]} {_is(near[0])} within reach.")
        else:
            parts.append("Both are within reach." if near else "Both are out of reach.")
        parts.append(_holding(o))
        return {(): (0, 2, 3, 4, 5), ("chips",): (0, 2, 3, 5, 9), ("milk",): (0, 2, 3, 4, 10),
                ("chips", "milk"): (0, 2, 3, 9, 10)}[tuple(near)]
    for name, walk, grab in (("chips", 5, 9), ("milk", 4, 10)):
        if o[f"see_{name}"]:
            parts.append(f"You see only the {name}.")
            if o[f"hold_{name}"]:
                parts.append(_holding(o))
                return 0, 2, 3
            if o[f"close_to_{name}"]:
                parts.append(f"The {name} {_is(name)} within reach, not yet in your hands.")
                return 0, 2, 3, grab
            parts.append(f"The {name} {_is(name)} out of reach.")
            return 0, 2, 3, walk
    parts.append("You see nothing of use.")
    return 0, 2, 3


def _living_room(o: dict[str, bool], parts: list[str]) -> tuple[int, ...]:
    parts.append("You see a coffee table, a TV and a sofa.")
    hold_chips, hold_milk = o["hold_chips"], o["hold_milk"]
    tv = "The TV is on. " if o["is_tv_on"] else "The TV is off. "
    holdings = _holding(o)
    if hold_chips != hold_milk:
        other = "milk" if hold_chips else "chips"
        if o[f"{other}_on_coffeetable"]:
            holdings += f" The {other} {_is(other)} on the coffee table."
    if o["close_to_coffeetable"]:
        parts.append(f"The coffee table is within reach. {holdings}")
        if hold_chips and hold_milk:
            return 1, 2, 3, 7, 8, 11, 12
        if hold_milk:
            return (1, 2, 3, 7, 8) if o["chips_on_coffeetable"] else (1, 2, 3, 7, 8, 12)
        if hold_chips:
            return (1, 2, 3, 7, 8) if o["milk_on_coffeetable"] else (1, 2, 3, 7, 8, 11)
        return 1, 2, 3
    if o["close_to_tv"]:
        parts.append(f"The TV is within reach. {tv}{holdings}")
        return (1, 2, 3, 6, 8) if o["is_tv_on"] else (1, 2, 3, 6, 8, 13, 14)
    if o["close_to_sofa"]:
        if o["is_sit_sofa"]:
            parts.append(f"You sit on the sofa. {tv}{holdings}")
            return 1, 2, 3
        parts.append(f"The sofa is within reach. {tv}{holdings}")
        return (1, 2, 3, 6, 7, 15, 16) if o["is_tv_on"] else (1, 2, 3, 6, 7)
    parts.append(f"None of them is within reach. {holdings}")
    return 1, 2, 3, 6, 7, 8
