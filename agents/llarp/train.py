"""Train LLaRP (or LLaRP-Scratch / LLaRP-FT) on Language Rearrangement.

    python -m agents.llarp.train --steps 100000 --envs 8 --out runs/llarp
    python -m agents.llarp.train --scratch --out runs/llarp-scratch           # LLaRP-Scratch
    python -m agents.llarp.train --dtype float32 --out runs/llarp-fp32         # LLM dtype (default auto)
    python -m agents.llarp.train --resume --out runs/llarp                    # continue a run
    torchrun --nproc_per_node 2 -m agents.llarp.train --steps 100000 --out runs/llarp-ddp   # DD-PPO

Writes ``OUT/checkpoint/`` (model.zip + agent.json, atomically, every --checkpoint-every
steps and at the end), TensorBoard logs in ``OUT/tb/``, ``OUT/curve.json`` (success during
training) and, unless ``--eval-episodes 0``, a final ``agents.evaluate`` run in ``OUT/eval/``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from agents.cli import run_main
from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype
from agents.nn.llm import load_tokenizer
from agents.rearrange import dataset_evaluation, heldout_evaluator, make_vec_env, training_arguments
from agents.training import init_distributed, init_policy_from, pick_device, run_training
from agents.llarp import LLaRP, tiny_llama_config


PROG = "python -m agents.llarp.train"


def main(argv: list[str] | None = None) -> None:
    p = training_arguments(PROG, __doc__, out="runs/llarp", n_minibatches=6)
    p.add_argument("--backbone", default="smollm2-135m",
                   help="smollm2-135m, gemma3-270m, a .gguf file, an HF folder/hub id, or tiny-llama (random, tests)")
    # dest llm_dtype: agent.json records run options by dest, and resuming compares them
    add_dtype_argument(p, "--llm-dtype", dest="llm_dtype")
    p.add_argument("--scratch", action="store_true", help="LLaRP-Scratch: random LLM weights, all trained")
    p.add_argument("--finetune", action="store_true", help="LLaRP-FT: unfreeze the pretrained LLM")
    p.add_argument("--visual-encoder", default="cnn", choices=["cnn", "resnet18"])
    p.add_argument("--action-mask", action="store_true",
                   help="mask invalid skills in the policy (not in the paper; see LLaRPPolicy)")
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from a LLaRP checkpoint's weights (IL->RL: a behaviour-cloned policy)")
    p.add_argument("--value-warmup", type=int, default=0, metavar="UPDATES",
                   help="first updates that train the value head alone (use with --init-from)")
    p.add_argument("--value-loss", default="mse", choices=["mse", "huber"],
                   help="PPO value loss: mse (default) or huber (the paper's Atari recipe)")
    args = p.parse_args(argv)

    device = pick_device(args.device)
    args.llm_dtype = resolve_llm_dtype(args.llm_dtype, device)  # the concrete dtype is what the run records
    rank, world = init_distributed(device)
    torch.manual_seed(args.seed + rank)
    policy_kwargs = dict(llm_dtype=args.llm_dtype, pretrained=not args.scratch, freeze_llm=not args.finetune,
                         visual_encoder=args.visual_encoder)
    if args.backbone == "tiny-llama":
        policy_kwargs["backbone_config"] = tiny_llama_config()
        tokenizer_name = "smollm2-135m"
    else:
        policy_kwargs["backbone"] = args.backbone
        tokenizer_name = args.backbone
    name = "llarp-scratch" if args.scratch else "llarp-ft" if args.finetune else "llarp"
    meta = {"algorithm": "agents.llarp:LLaRP", "tokenizer": tokenizer_name, "max_tokens": args.max_tokens,
            "name": name, "backbone": args.backbone}

    def build(venv, tensorboard_log):
        model = LLaRP("LLaRPPolicy", venv, learning_rate=args.lr, ent_coef=args.ent_coef, n_steps=args.n_steps,
                      n_minibatches=args.n_minibatches, seed=args.seed + rank, device=device,
                      value_loss=args.value_loss, value_warmup_updates=args.value_warmup,
                      policy_kwargs=policy_kwargs, tensorboard_log=tensorboard_log)
        if args.init_from:
            init_policy_from(model, LLaRP, args.init_from, device)
        return model

    out = Path(args.out)
    on_ready = (lambda model: _write_rank_params(model, out, rank, "start")) if world > 1 else None
    tokenizer = load_tokenizer(tokenizer_name)
    evaluator = heldout_evaluator(args.heldout, tokenizer, args.max_tokens, out, name) if args.heldout else None
    model = run_training(args, algorithm=LLaRP, build=build, meta=meta, device=device, rank=rank, world=world,
                         make_venv=lambda r: make_vec_env(args, tokenizer, r), on_ready=on_ready,
                         evaluator=evaluator, final=dataset_evaluation(args, name))
    if world > 1:
        _write_rank_params(model, out, rank, "end")
        torch.distributed.destroy_process_group()


def _write_rank_params(model: LLaRP, out: Path, rank: int, when: str) -> None:
    """Every rank records its trainable parameters, so one can check the ranks stay in sync."""
    out.mkdir(parents=True, exist_ok=True)
    flat = torch.cat([p.detach().float().reshape(-1) for p in model.policy.parameters() if p.requires_grad])
    torch.save(flat, out / f"rank{rank}_params_{when}.pt")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
