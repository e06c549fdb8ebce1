"""Train LLaRP (or LLaRP-Scratch / LLaRP-FT) on Language Rearrangement.

    python examples/train_llarp.py --steps 100000 --envs 8 --out runs/llarp
    python examples/train_llarp.py --scratch --out runs/llarp-scratch           # LLaRP-Scratch
    python examples/train_llarp.py --resume --out runs/llarp                    # continue a run
    torchrun --nproc_per_node 2 examples/train_llarp.py --steps 100000 --out runs/llarp-ddp   # DD-PPO

Writes ``OUT/checkpoint/`` (model.zip + agent.json, atomically, every --checkpoint-every
steps and at the end), TensorBoard logs in ``OUT/tb/``, ``OUT/curve.json`` (success during
training) and, unless ``--eval-episodes 0``, a final ``agents.evaluate`` run in ``OUT/eval/``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from agents.core.training import (TrainingProgress, broadcast_parameters, env_factory, init_distributed, pick_device,
                                  save_checkpoint)
from agents.llarp import LLaRP, tiny_llama_config


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--split", default="train", help="dataset to train on (default train)")
    p.add_argument("--episodes", default=None, help="train on an episode JSON file instead of --split")
    p.add_argument("--backbone", default="smollm2-135m",
                   help="smollm2-135m, gemma3-270m, a .gguf file, an HF folder/hub id, or tiny-llama (random, tests)")
    p.add_argument("--llm-dtype", default="bfloat16", choices=["bfloat16", "float32"])
    p.add_argument("--scratch", action="store_true", help="LLaRP-Scratch: random LLM weights, all trained")
    p.add_argument("--finetune", action="store_true", help="LLaRP-FT: unfreeze the pretrained LLM")
    p.add_argument("--visual-encoder", default="cnn", choices=["cnn", "resnet18"])
    p.add_argument("--steps", type=int, default=100_000, help="environment steps in total (all ranks)")
    p.add_argument("--envs", type=int, default=8, help="environments per process/rank")
    p.add_argument("--subproc", action="store_true", help="SubprocVecEnv instead of DummyVecEnv")
    p.add_argument("--n-steps", type=int, default=32)
    p.add_argument("--n-minibatches", type=int, default=6)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/llarp")
    p.add_argument("--checkpoint-every", type=int, default=10_000)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint")
    p.add_argument("--time-budget", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--heldout", default=None, help="episode file evaluated every --eval-every steps (learning curve)")
    p.add_argument("--eval-every", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, default=20, help="final evaluation episodes per dataset (0: none)")
    p.add_argument("--eval-datasets", default="train,new_scenes,rephrasing")
    args = p.parse_args(argv)

    device = pick_device(args.device)
    rank, world = init_distributed(device)
    out = Path(args.out)
    checkpoint = out / "checkpoint"
    torch.manual_seed(args.seed + rank)
    policy_kwargs = dict(llm_dtype=args.llm_dtype, pretrained=not args.scratch, freeze_llm=not args.finetune,
                         visual_encoder=args.visual_encoder)
    if args.backbone == "tiny-llama":
        policy_kwargs["backbone_config"] = tiny_llama_config()
        tokenizer_name = "smollm2-135m"
    else:
        policy_kwargs["backbone"] = args.backbone
        tokenizer_name = args.backbone
    from agents.core.llm import load_tokenizer

    tokenizer = load_tokenizer(tokenizer_name)
    fns = [env_factory(tokenizer, args.max_tokens, args.split, args.episodes, args.image_size,
                       seed=args.seed + 1000 * rank + i) for i in range(args.envs)]
    venv = SubprocVecEnv(fns) if args.subproc else DummyVecEnv(fns)
    name = "llarp-scratch" if args.scratch else "llarp-ft" if args.finetune else "llarp"
    meta = {"algorithm": "agents.llarp:LLaRP", "tokenizer": tokenizer_name, "max_tokens": args.max_tokens,
            "name": name, "backbone": args.backbone}
    if args.resume and (checkpoint / "model.zip").exists():
        model = LLaRP.load(checkpoint / "model.zip", env=venv, device=device,
                           tensorboard_log=str(out / "tb") if rank == 0 else None)
        if rank == 0:
            print(f"resumed from {checkpoint} at {model.num_timesteps * world} steps")
    else:
        model = LLaRP("LLaRPPolicy", venv, learning_rate=args.lr, n_steps=args.n_steps,
                      n_minibatches=args.n_minibatches, seed=args.seed + rank, device=device,
                      policy_kwargs=policy_kwargs, tensorboard_log=str(out / "tb") if rank == 0 else None)
    broadcast_parameters(model.policy)
    if world > 1:
        _write_rank_params(model, out, rank, "start")
    per_rank = max(args.steps // world - model.num_timesteps, 0)
    evaluator = heldout_evaluator(args.heldout, tokenizer, args.max_tokens, out, name) if args.heldout else None
    progress = TrainingProgress(args.steps, checkpoint, meta, args.checkpoint_every, rank, world,
                                time_budget=args.time_budget, eval_every=args.eval_every, evaluator=evaluator)
    model.learn(per_rank, callback=progress, reset_num_timesteps=False)
    if rank == 0 and evaluator is not None:
        progress.run_evaluation()
        evals_path = out / "evals.json"
        previous = json.loads(evals_path.read_text()) if args.resume and evals_path.exists() else []
        evals_path.write_text(json.dumps(previous + progress.evals, indent=1))
    if rank == 0:
        save_checkpoint(model, checkpoint, meta)
        curve_path = out / "curve.json"
        previous = json.loads(curve_path.read_text()) if args.resume and curve_path.exists() else []
        curve_path.write_text(json.dumps(previous + progress.curve))
        print(f"saved {checkpoint} ({model.num_timesteps * world} steps)")
        if args.eval_episodes > 0:
            from agents.evaluate import main as evaluate

            evaluate(["--agent", str(checkpoint), "--name", name, "--datasets", args.eval_datasets, "--episodes",
                      str(args.eval_episodes), "--out", str(out / "eval"), "--no-progress"])
    if world > 1:
        _write_rank_params(model, out, rank, "end")
        torch.distributed.destroy_process_group()
    venv.close()


def heldout_evaluator(episodes: str, tokenizer, max_tokens: int, out: Path, name: str):
    """model -> greedy success on a held-out episode file, through the standard evaluation harness."""
    from agents.core.agent import SB3Agent
    from agents.evaluate import EvalConfig, evaluate
    from gym_langrearrange.wrappers import InstructionTokenizer

    transform = InstructionTokenizer(tokenizer, max_tokens).transform

    def run(model) -> float:
        agent = SB3Agent(model, name=name, obs_transform=transform)
        cfg = EvalConfig(agent=name, datasets=["heldout"], episodes=10**6, episodes_file=str(Path(episodes).resolve()),
                         name=name)
        folder = out / "heldout" / f"step{model.num_timesteps:09d}"
        report = evaluate(cfg, folder, progress=False, agent=agent)
        return float(next(iter(report["summary"].values()))["success"])

    return run


def _write_rank_params(model: LLaRP, out: Path, rank: int, when: str) -> None:
    """Every rank records its trainable parameters, so one can check the ranks stay in sync."""
    out.mkdir(parents=True, exist_ok=True)
    flat = torch.cat([p.detach().float().reshape(-1) for p in model.policy.parameters() if p.requires_grad])
    torch.save(flat, out / f"rank{rank}_params_{when}.pt")


if __name__ == "__main__":
    main()
