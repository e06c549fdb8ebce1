"""The 70 skills of spec §3: ids, names, preconditions and kinematic effects.

Action ``i`` means the same skill in every scene. A valid skill jumps the world to its
post-condition; an invalid one changes nothing. ``SkillCatalog.execute`` is on the
environment's hot path, so it dispatches on precomputed integer tables.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from gym_langrearrange.catalog import (CATEGORIES, CATEGORY_INFO, CATEGORY_INDEX, FRIDGE, OPENABLE, PLACE_TARGETS,
                                       RECEPTACLE_INDEX, RECEPTACLES)
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState


class SkillKind(IntEnum):
    NAVIGATE = 0
    PICK = 1
    PLACE = 2
    OPEN = 3
    CLOSE = 4
    STOP = 5


@dataclass(frozen=True)
class Skill:
    id: int
    kind: SkillKind
    target: str | None  # receptacle name, category name, or None for stop
    text: str  # "navigate(sofa)", "pick(apple)", "stop"


def _build() -> tuple[Skill, ...]:
    skills: list[Skill] = []

    def add(kind: SkillKind, target: str | None, verb: str) -> None:
        skills.append(Skill(len(skills), kind, target, f"{verb}({target})" if target else verb))

    for r in RECEPTACLES:
        add(SkillKind.NAVIGATE, r, "navigate")
    for c in CATEGORIES:
        add(SkillKind.PICK, c, "pick")
    for r in PLACE_TARGETS:
        add(SkillKind.PLACE, r, "place")
    for r in OPENABLE:
        add(SkillKind.OPEN, r, "open")
    for r in OPENABLE:
        add(SkillKind.CLOSE, r, "close")
    add(SkillKind.STOP, None, "stop")
    return tuple(skills)


SKILLS: tuple[Skill, ...] = _build()
NUM_SKILLS = len(SKILLS)
STOP_ID = NUM_SKILLS - 1
assert NUM_SKILLS == 70
_FRIDGE = RECEPTACLE_INDEX[FRIDGE]
_NAME_RE = re.compile(r"^\s*([a-z_]+)\s*\(\s*(.*?)\s*\)\s*$")


def _the(receptacle: int) -> str:
    return "the " + RECEPTACLES[receptacle]


def _article(category: int) -> str:
    return CATEGORY_INFO[CATEGORIES[category]].with_article


class SkillCatalog:
    """id <-> text of the 70 skills, their preconditions (``valid_mask``/``check``) and effects (``execute``)."""

    skills = SKILLS

    def __init__(self) -> None:
        self._kind = [s.kind for s in SKILLS]
        # argument of each skill as a catalog index (receptacle or category); -1 for stop
        self._arg = [CATEGORY_INDEX[s.target] if s.kind == SkillKind.PICK else
                     RECEPTACLE_INDEX[s.target] if s.target else -1 for s in SKILLS]
        self._by_text = {s.text.lower(): s.id for s in SKILLS}
        self._place_id = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.PLACE}
        self._open_id = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.OPEN}
        self._close_id = {RECEPTACLE_INDEX[s.target]: s.id for s in SKILLS if s.kind == SkillKind.CLOSE}

    def __len__(self) -> int:
        return NUM_SKILLS

    def __getitem__(self, skill_id: int) -> Skill:
        return SKILLS[skill_id]

    def text(self, skill_id: int) -> str:
        return SKILLS[skill_id].text

    def id(self, text: str) -> int:
        """Skill id from its text, e.g. ``"pick(apple)"``; case and spacing are forgiven."""
        m = _NAME_RE.match(text.lower())
        key = text.strip().lower() if m is None else (f"{m.group(1)}({' '.join(m.group(2).split())})"
                                                      if m.group(2) else m.group(1))
        try:
            return self._by_text[key]
        except KeyError:
            raise KeyError(f"unknown skill {text!r}; skills look like navigate(sofa), pick(apple), "
                           f"place(black table), open(fridge), close(cabinet drawer 2), stop") from None

    # --- preconditions -----------------------------------------------------------------

    def valid_mask(self, state: WorldState) -> np.ndarray:
        """bool[70]: which skills would succeed in ``state`` (spec §3 'valid when')."""
        mask = np.zeros(NUM_SKILLS, dtype=bool)
        mask[:len(RECEPTACLES)] = state.scene.present_mask
        mask[STOP_ID] = True
        r = state.robot_at
        if r == NOWHERE:
            return mask
        opened = state.opened[r]
        if state.held < 0:
            if state.visible(r):
                cats = state.category
                for o, loc in enumerate(state.loc):
                    if loc == r:
                        mask[len(RECEPTACLES) + cats[o]] = True
        elif r in self._place_id and (r != _FRIDGE or opened):
            mask[self._place_id[r]] = True
        if r in self._open_id:
            mask[self._close_id[r] if opened else self._open_id[r]] = True
        return mask

    def check(self, state: WorldState, skill_id: int) -> str | None:
        """None if the skill is valid in ``state``, else why not (one short clause)."""
        kind, arg = self._kind[skill_id], self._arg[skill_id]
        r = state.robot_at
        if kind == SkillKind.NAVIGATE:
            return None if state.scene.has(RECEPTACLES[arg]) else f"there is no {RECEPTACLES[arg]} in this house"
        if kind == SkillKind.STOP:
            return None
        if r == NOWHERE:
            return "you are not at any receptacle yet"
        if kind == SkillKind.PICK:
            if state.held >= 0:
                return f"you are already holding {_article(state.category[state.held])}"
            if not state.visible(r):
                return f"{_the(r)} is closed"
            if not any(loc == r and state.category[o] == arg for o, loc in enumerate(state.loc)):
                return f"no {CATEGORIES[arg]} is visible here"
            return None
        if r != arg:
            return f"you are not at {_the(arg)}"
        if kind == SkillKind.PLACE:
            if state.held < 0:
                return "you are not holding anything"
            return f"{_the(r)} is closed" if r == _FRIDGE and not state.opened[r] else None
        if kind == SkillKind.OPEN:
            return f"{_the(r)} is already open" if state.opened[r] else None
        return None if state.opened[r] else f"{_the(r)} is already closed"  # CLOSE

    # --- effects -----------------------------------------------------------------------

    def execute(self, state: WorldState, skill_id: int) -> tuple[bool, str]:
        """Apply the skill to ``state`` in place. Returns (valid, one line of feedback)."""
        reason = self.check(state, skill_id)
        skill = SKILLS[skill_id]
        if reason is not None:
            return False, f"Could not {_FAILED[skill.kind].format(skill.target)}: {reason}."
        kind, arg = self._kind[skill_id], self._arg[skill_id]
        if kind == SkillKind.NAVIGATE:
            state.robot_at = arg
            state.pose = state.scene.placements[RECEPTACLES[arg]].stand
            return True, f"You are now at {_the(arg)}."
        if kind == SkillKind.PICK:
            r = state.robot_at
            obj = next(o for o, loc in enumerate(state.loc) if loc == r and state.category[o] == arg)
            state.loc[obj] = HELD
            state.held = obj
            return True, f"You picked up {_article(arg)} from {_the(r)}."
        if kind == SkillKind.PLACE:
            obj = state.held
            state.loc[obj] = arg
            state.held = -1
            prep = "in" if arg == _FRIDGE else "on"
            return True, f"You put the {CATEGORIES[state.category[obj]]} {prep} {_the(arg)}."
        if kind == SkillKind.OPEN:
            state.opened[arg] = True
            return True, f"You opened {_the(arg)}."
        if kind == SkillKind.CLOSE:
            state.opened[arg] = False
            return True, f"You closed {_the(arg)}."
        return True, "You stopped."


_FAILED = {SkillKind.NAVIGATE: "navigate to the {}", SkillKind.PICK: "pick {}", SkillKind.PLACE: "place on the {}",
           SkillKind.OPEN: "open the {}", SkillKind.CLOSE: "close the {}", SkillKind.STOP: "stop"}

SKILL_CATALOG = SkillCatalog()
