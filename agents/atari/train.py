"""Train LLaRP or LLaRP-Scratch on one Atari game (paper §5.2, appendix C.6).

    python -m agents.atari.train --game pong --steps 1000000 --out runs/atari/pong-llarp-0
    python -m agents.atari.train --game pong --method llarp-scratch --out runs/atari/pong-scratch-0
    python -m agents.atari.train --game pong --resume --out runs/atari/pong-llarp-0   # continue a run

The C.6 recipe, as defaults: a fully trainable ResNet-18 (group norm) on 84 px colour frames,
the LLM's context window of the last 32 steps plus the instruction, Huber value loss,
gradient-norm clipping 0.5, clipped rewards, 64 envs x 32 steps per update, 6 minibatches.
``llarp`` keeps the pretrained LLM frozen; ``llarp-scratch`` is the same network with a
randomly initialised LLM that is trained too (its weights stay fp32 while they train).

Writes ``OUT/checkpoint/`` (atomic, resumable), ``OUT/curve.json`` (mean raw score of recent
training episodes by step), ``OUT/tb/`` and, once training is done, ``OUT/scores.json``: the
raw score of ``--eval-episodes`` episodes of the final policy with sticky actions on.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from agents.atari.envs import make_atari_env
from agents.atari.evaluation import score_checkpoint
from agents.atari.scores import ATARI_57, check_game
from agents.cli import nonnegative_int, positive_int, run_main
from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype
from agents.nn.llm import load_tokenizer
from agents.core.registry import load_model
from agents.callbacks import EpisodeMetric
from agents.training import pick_device, run_arguments, run_training
from agents.llarp import LLaRP, tiny_llama_config
from agents.llarp.algorithm import PREFIX_CONTEXTS
from gym_langrearrange.wrappers import TokenizeInstruction

PROG = "python -m agents.atari.train"
METHODS = ("llarp", "llarp-scratch")
#: the raw game score of each finished training episode (``RecordEpisodeStatistics`` sits below the clipping)
SCORE = EpisodeMetric("score", lambda info: float(info["episode"]["r"]) if "episode" in info else None,
                      "rollout/score")


def game_name(text: str) -> str:
    """``--game``: a game of the score table, by its name there (``ms_pacman``)."""
    try:
        return check_game(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def arguments():
    p = run_arguments(PROG, __doc__, out="runs/atari", n_minibatches=6, envs=64)
    p.set_defaults(steps=1_000_000, checkpoint_every=50_000)
    p.add_argument("--game", type=game_name, required=True, help=f"one of the 57: {', '.join(ATARI_57)}")
    p.add_argument("--method", default="llarp", choices=METHODS)
    p.add_argument("--backbone", default="smollm2-135m", help="smollm2-135m, gemma3-270m, a .gguf file, an HF "
                   "folder, or tiny-llama (random, tests)")
    add_dtype_argument(p, "--llm-dtype", dest="llm_dtype")
    p.add_argument("--context-steps", type=positive_int, default=32, help="steps in the LLM's context window")
    p.add_argument("--prefix-context", default="recompute", choices=PREFIX_CONTEXTS,
                   help="a rollout's context of earlier steps: recompute (default, exact gradients) or cached "
                        "(the last rollout's keys/values, detached; ~2x faster, see LLaRP)")
    p.add_argument("--image-size", type=positive_int, default=84)
    p.add_argument("--instruction", default="name",
                   help="'name' (the game's name and the goal, default), 'none' (the goal only) or a text")
    p.add_argument("--max-tokens", type=positive_int, default=32, help="instruction length in tokens")
    p.add_argument("--eval-episodes", type=nonnegative_int, default=8,
                   help="episodes of the final policy scored into OUT/scores.json (0: none)")
    p.add_argument("--eval-deterministic", action="store_true", help="greedy actions when scoring (default: sampled)")
    return p


def main(argv: list[str] | None = None) -> None:
    p = arguments()
    args = p.parse_args(argv)
    if args.context_steps < 2:
        p.error(f"--context-steps must be >= 2, got {args.context_steps}")
    device = pick_device(args.device)
    scratch = args.method == "llarp-scratch"
    if scratch and args.llm_dtype == "auto":
        args.llm_dtype = "float32"  # weights that train stay fp32
    args.llm_dtype = resolve_llm_dtype(args.llm_dtype, device)
    torch.manual_seed(args.seed)
    tiny = args.backbone == "tiny-llama"
    tokenizer_name = "smollm2-135m" if tiny else args.backbone
    tokenizer = load_tokenizer(tokenizer_name)
    # the ResNet trains in mixed precision wherever bf16 is fast (both methods alike)
    visual_bf16 = resolve_llm_dtype("auto", device, announce=False) == "bfloat16"
    policy_kwargs = dict(llm_dtype=args.llm_dtype, pretrained=not scratch, visual_encoder="resnet18",
                         visual_bf16=visual_bf16, proprio="none", context_steps=args.context_steps)
    if tiny:
        policy_kwargs["backbone_config"] = tiny_llama_config()
    else:
        policy_kwargs["backbone"] = args.backbone
    meta = {"algorithm": "agents.llarp:LLaRP", "tokenizer": tokenizer_name, "max_tokens": args.max_tokens,
            "name": args.method, "backbone": args.backbone, "task": "atari", "game": args.game}

    def make_venv(rank: int):
        def make(i: int):
            def build():
                env = make_atari_env(args.game, args.image_size, args.instruction, clip_rewards=True)
                env.reset(seed=args.seed * 1000 + i)
                return TokenizeInstruction(env, tokenizer, args.max_tokens)
            return build

        fns = [make(i) for i in range(args.envs)]
        return SubprocVecEnv(fns) if args.subproc else DummyVecEnv(fns)

    def build(venv, tensorboard_log):
        return LLaRP("LLaRPPolicy", venv, learning_rate=args.lr, ent_coef=args.ent_coef, n_steps=args.n_steps,
                     n_minibatches=args.n_minibatches, seed=args.seed, device=device, value_loss="huber",
                     max_grad_norm=0.5, prefix_context=args.prefix_context, policy_kwargs=policy_kwargs,
                     tensorboard_log=tensorboard_log)

    def final(checkpoint: Path) -> None:
        if args.eval_episodes == 0:
            return
        model = load_model(LLaRP, checkpoint / "model.zip", checkpoint / "agent.json", device=device)
        result = score_checkpoint(model, args.game, args.method, args.seed, Path(args.out), args.eval_episodes,
                                  tokenizer, args.max_tokens, args.image_size, args.instruction,
                                  args.eval_deterministic)
        print(f"{args.game} {args.method} seed {args.seed}: mean raw score {result.mean:.1f} over "
              f"{len(result.episodes)} episodes ({result.steps} training steps)")

    run_training(args, algorithm=LLaRP, build=build, meta=meta, make_venv=make_venv, device=device,
                 final=final, metric=SCORE)


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
