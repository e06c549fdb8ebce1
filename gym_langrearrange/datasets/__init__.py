"""Instruction templates, the deterministic episode generator, and episode files."""
from gym_langrearrange.datasets.episode import (EpisodeError, EpisodeSpec, ObjectSpec, episode_from_json,
                                                load_episodes, save_episodes)
from gym_langrearrange.datasets.generator import (DATASET_SIZES, DATASETS, EVAL_DATASETS, EXTRA_SPLITS,
                                                  GENERATOR_VERSION, SPLITS, generate_episode)

__all__ = ["EpisodeError", "EpisodeSpec", "ObjectSpec", "episode_from_json", "load_episodes", "save_episodes",
           "DATASET_SIZES", "DATASETS", "EVAL_DATASETS", "EXTRA_SPLITS", "GENERATOR_VERSION", "SPLITS", "generate_episode"]
