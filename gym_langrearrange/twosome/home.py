"""The VirtualHome house of TWOSOME's two household tasks: a symbolic world of rooms, objects and relations.

Plain world logic (no Gymnasium, no text). It keeps exactly what the two tasks touch of
VirtualHome's evolving-graph simulator: the character's room, what it is close to, faces, holds
(two hands) and sits on; each movable object's place and room; the microwave's door and the TV's
switch. An action names an object; one the character cannot observe is rejected, and a rejected
or impossible action changes nothing (the step still counts).

Facts: ``shared/spec/twosome.md`` §2 (visibility, walking, grabbing, the held-object room quirk).
"""
from __future__ import annotations

from dataclasses import dataclass, field

ROOMS = ("livingroom", "kitchen", "bathroom", "bedroom")
#: static objects: name -> (room, the surfaces it rests on)
FIXTURES = {
    "microwave": ("kitchen", ("kitchencounter",)),
    "kitchentable": ("kitchen", ()),
    "kitchencounter": ("kitchen", ()),
    "dishwasher": ("kitchen", ()),
    "tv": ("livingroom", ()),
    "sofa": ("livingroom", ()),
    "coffeetable": ("livingroom", ()),
}
#: movable objects: name -> where they start (on surfaces, in the kitchen)
MOVABLE_STARTS = {
    "pancake": ("kitchentable",),
    "chips": ("kitchencounter", "dishwasher"),
    "milk": ("kitchentable",),
}
HANDS = 2


@dataclass(frozen=True)
class Action:
    """One simulator action: ``verb`` in walk, grab, open, close, put_in, put_on, switch_on, switch_off, sit,
    stand_up; ``target`` a room or an object; ``place`` the container or surface of put_in/put_on."""

    verb: str
    target: str | None = None
    place: str | None = None


@dataclass
class House:
    """The mutable state of one episode and its dynamics."""

    movables: tuple[str, ...]
    room: str = "kitchen"
    close: set[str] = field(default_factory=set)
    held: list[str] = field(default_factory=list)  # right hand first, then left
    facing: set[str] = field(default_factory=set)
    sitting: bool = False
    on_sofa: bool = False  # the character-on-sofa relation (standing up leaves it)
    inside: dict[str, str] = field(default_factory=dict)  # movable -> container, when in one
    on: dict[str, tuple[str, ...]] = field(default_factory=dict)  # movable -> the surfaces it rests on
    room_of: dict[str, str] = field(default_factory=dict)  # movable -> its room (stale while held)
    microwave_open: bool = False
    tv_on: bool = False

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.room, self.close, self.held, self.facing = "kitchen", set(), [], set()
        self.sitting = self.on_sofa = self.microwave_open = self.tv_on = False
        self.inside = {}
        self.on = {m: MOVABLE_STARTS[m] for m in self.movables}
        self.room_of = {m: "kitchen" for m in self.movables}

    # --- what the character perceives ---------------------------------------------------------

    def room_of_object(self, name: str) -> str:
        return self.room_of[name] if name in self.room_of else FIXTURES[name][0]

    def observable(self, name: str) -> bool:
        """In the character's room and not shut in a closed container, or held. Rooms always are."""
        if name in ROOMS or name in self.held:
            return True
        if self.inside.get(name) == "microwave" and not self.microwave_open:
            return False
        return self.room_of_object(name) == self.room

    # --- dynamics -----------------------------------------------------------------------------

    def execute(self, action: Action) -> bool:
        """Apply ``action``; False (and no change) if the simulator rejects it."""
        target = action.target
        if target is not None and not self.observable(target):
            return False
        return getattr(self, f"_{action.verb}")(target, action.place)

    def _refile_held(self) -> None:
        """On every walk, each held object is filed under the room the character is leaving (the original's quirk)."""
        for name in self.held:
            self.room_of[name] = self.room

    def _walk(self, target: str, _place) -> bool:
        if self.sitting:
            return False
        self.on_sofa = False
        if target in ROOMS:
            self._refile_held()
            self.room, self.close, self.facing = target, set(self.held), set()
            return True
        room = self.room_of_object(target)  # read before re-filing: walking to a held object follows its stale room
        self._refile_held()
        near = {target, *self.held, *self.on.get(target, ()), *FIXTURES.get(target, ("", ()))[1]}
        if target in self.inside:
            near.add(self.inside[target])
        if target == "microwave":  # an openable container: close to what is inside it too
            near.update(m for m, container in self.inside.items() if container == "microwave")
        self.room, self.close, self.facing = room, near, set()
        return True

    def _grab(self, target: str, _place) -> bool:
        if target not in self.movables or target in self.held or target not in self.close or len(self.held) >= HANDS:
            return False
        if self.inside.get(target) == "microwave" and not self.microwave_open:
            return False
        self.held.append(target)
        self.inside.pop(target, None)
        self.on[target] = ()
        return True

    def _open(self, target: str, _place) -> bool:
        if target != "microwave" or target not in self.close or len(self.held) >= HANDS or self.microwave_open:
            return False
        self.microwave_open = True
        return True

    def _close(self, target: str, _place) -> bool:
        if target != "microwave" or target not in self.close or not self.microwave_open:
            return False
        self.microwave_open = False
        return True

    def _put_in(self, target: str, place: str) -> bool:
        if target not in self.held or place not in self.close or not self.microwave_open:
            return False
        self.held.remove(target)
        self.inside[target], self.room_of[target] = place, self.room_of_object(place)
        return True

    def _put_on(self, target: str, place: str) -> bool:
        if target not in self.held or place not in self.close:
            return False
        self.held.remove(target)
        self.on[target], self.room_of[target] = (place,), self.room_of_object(place)
        return True

    def _switch(self, target: str, on: bool) -> bool:
        if target != "tv" or target not in self.close or len(self.held) >= HANDS or self.tv_on == on:
            return False
        self.tv_on = on
        return True

    def _switch_on(self, target: str, _place) -> bool:
        return self._switch(target, True)

    def _switch_off(self, target: str, _place) -> bool:
        return self._switch(target, False)

    def _sit(self, target: str, _place) -> bool:
        if target != "sofa" or target not in self.close or self.sitting:
            return False
        self.sitting = self.on_sofa = True
        self.facing = {"tv"}  # the sofa faces the TV
        return True

    def _stand_up(self, _target, _place) -> bool:
        if not self.sitting:
            return False
        self.sitting = False
        return True
