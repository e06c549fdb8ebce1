"""LLaRP on Language Rearrangement in a few lines of the Python API (the full command line with
checkpoints, resume and evaluation is ``python -m agents.llarp.train``).

    python examples/llarp_quickstart.py              # SmolLM2-135M, 8 envs, 2,048 steps
    python examples/llarp_quickstart.py --tiny       # a random tiny LLM: seconds, for a first look
"""
import argparse

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.llarp import LLaRP, tiny_llama_config
from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--steps", type=int, default=2048)
p.add_argument("--tiny", action="store_true")
args = p.parse_args()

tokenizer = load_tokenizer("smollm2-135m")
venv = DummyVecEnv([env_factory(tokenizer, max_tokens=48, image_size=64, seed=i) for i in range(8)])
backbone = {"backbone_config": tiny_llama_config()} if args.tiny else {"backbone": "smollm2-135m"}
model = LLaRP("LLaRPPolicy", venv, policy_kwargs=backbone)  # the paper's Table 3 defaults
model.learn(args.steps, progress_bar=True)

obs, state, starts = venv.reset(), None, np.ones(venv.num_envs, dtype=bool)
for _ in range(32):  # one episode per env with the trained policy
    actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
    obs, rewards, starts, infos = venv.step(actions)
print("successes:", sum(bool(i.get("success")) for i in infos), "of", venv.num_envs)
