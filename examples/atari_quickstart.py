"""LLaRP on one Atari game through the Python API: the same algorithm and policy as on Language
Rearrangement, with the Atari recipe (ResNet-18, Huber value loss, clipped rewards). The full
command line is ``python -m agents.atari.train``; the 55-game comparison ``python -m agents.atari.sweep``.

    python examples/atari_quickstart.py --game breakout           # SmolLM2-135M, 8 envs, 2,048 steps
    python examples/atari_quickstart.py --game breakout --tiny    # a random tiny LLM, 32 px frames
"""
import argparse

from stable_baselines3.common.vec_env import DummyVecEnv

from agents.atari.envs import make_atari_env
from agents.atari.evaluation import play_episodes
from agents.llarp import LLaRP, tiny_llama_config
from agents.nn.llm import load_tokenizer
from gym_langrearrange.wrappers import TokenizeInstruction

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--game", default="breakout")
p.add_argument("--steps", type=int, default=2048)
p.add_argument("--tiny", action="store_true")
args = p.parse_args()
size = 32 if args.tiny else 84

tokenizer = load_tokenizer("smollm2-135m")
venv = DummyVecEnv([lambda: TokenizeInstruction(make_atari_env(args.game, size, clip_rewards=True), tokenizer, 32)
                    for _ in range(8)])
backbone = {"backbone_config": tiny_llama_config()} if args.tiny else {"backbone": "smollm2-135m"}
model = LLaRP("LLaRPPolicy", venv, value_loss="huber", max_grad_norm=0.5,
              policy_kwargs=dict(visual_encoder="resnet18", proprio="none", **backbone))
model.learn(args.steps, progress_bar=True)
print("raw scores of 2 episodes:", play_episodes(model, args.game, 2, seed=0, tokenizer=tokenizer, max_tokens=32,
                                                 image_size=size))
