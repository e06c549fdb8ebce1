"""The symbolic world: procedural scenes and the mutable state of one episode."""
from gym_langrearrange.world.scene import NUM_SCENES, SCENE_SPLITS, Placement, Scene, get_scene, scene_ids
from gym_langrearrange.world.state import HELD, NOWHERE, WorldState

__all__ = ["NUM_SCENES", "SCENE_SPLITS", "Placement", "Scene", "get_scene", "scene_ids", "HELD", "NOWHERE",
           "WorldState"]
