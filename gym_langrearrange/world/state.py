"""The mutable symbolic state of one episode: where every object is, what is open, where the robot is.

Receptacles and categories are stored as catalog indices (ints) because skills, goals and
the renderer read this state on every step.
"""
from __future__ import annotations

from gym_langrearrange.catalog import CATEGORIES, OPENABLE, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.world.scene import Scene

HELD = -1  #: ``loc`` of the object in the gripper
NOWHERE = -1  #: ``robot_at`` before the first navigation
OPENABLE_IDS: frozenset[int] = frozenset(RECEPTACLE_INDEX[r] for r in OPENABLE)


class WorldState:
    """Objects are numbered 0..n-1; ``category[o]``/``instance[o]`` never change during an episode."""

    __slots__ = ("scene", "category", "instance", "loc", "held", "robot_at", "opened", "pose", "start_pose")

    def __init__(self, scene: Scene, category: tuple[int, ...], instance: tuple[int, ...], loc: list[int],
                 opened: list[bool], pose: tuple[float, float, float]) -> None:
        self.scene = scene
        self.category = category
        self.instance = instance
        self.loc = loc
        self.opened = opened  # indexed by receptacle id; only openable receptacles are ever True
        self.held = HELD
        self.robot_at = NOWHERE
        self.pose = pose
        self.start_pose = pose

    @property
    def num_objects(self) -> int:
        return len(self.category)

    def visible(self, receptacle: int) -> bool:
        """Contents of a closed fridge or drawer are hidden and cannot be picked."""
        return self.opened[receptacle] or receptacle not in OPENABLE_IDS

    def objects_at(self, receptacle: int) -> list[int]:
        """Objects on/in a receptacle, lowest object index first (the fixed pick order)."""
        return [o for o, r in enumerate(self.loc) if r == receptacle]

    def copy(self) -> "WorldState":
        out = WorldState(self.scene, self.category, self.instance, list(self.loc), list(self.opened), self.pose)
        out.held, out.robot_at, out.start_pose = self.held, self.robot_at, self.start_pose
        return out

    def describe(self) -> str:
        """A readable dump for debugging and error messages."""
        where = {}
        for o, r in enumerate(self.loc):
            where.setdefault("gripper" if r == HELD else RECEPTACLES[r], []).append(CATEGORIES[self.category[o]])
        opened = [RECEPTACLES[r] for r, v in enumerate(self.opened) if v]
        at = RECEPTACLES[self.robot_at] if self.robot_at != NOWHERE else "start"
        return f"robot at {at}; open: {opened or 'nothing'}; objects: {where}"
