"""Train the LSTM baselines (sb3-contrib RecurrentPPO) on Language Rearrangement.

    python -m agents.lstm.train --encoder llm-resampler --out runs/lstm-llm-resampler   # LSTM-LLaMA (SmolLM2)
    python -m agents.lstm.train --encoder llm-final --out runs/lstm-llm-final           # fine-tuned LLM encoder
    python -m agents.lstm.train --encoder t5 --encoder-model path/to/flan-t5-base --out runs/lstm-flan
    python -m agents.lstm.train --resume --out runs/lstm-llm-resampler                  # continue a run

Same outputs as ``agents.llarp.train``: ``OUT/checkpoint/`` (atomic, periodic), ``OUT/tb/``,
``OUT/curve.json``, ``OUT/evals.json`` with ``--heldout``, final ``agents.evaluate`` in
``OUT/eval/``. Defaults are the paper's Table 3 for the LSTM baselines: Adam, lr 3e-4,
4 minibatches, 2 epochs, entropy 0.01, value 0.5, 32 rollout steps.

Run names say what the encoder really is: ``lstm-t5[MODEL]`` (LSTM-Flan when MODEL is
Flan-T5), ``lstm-llm-resampler[MODEL]`` (LSTM-LLaMA with MODEL in LLaMA's place) and
``lstm-llm-final[MODEL]`` (fine-tuned LLM, the offline stand-in for LSTM-Flan).
``--encoder-model tiny`` builds a tiny random T5/Llama (tests).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import torch
from sb3_contrib import RecurrentPPO

from agents.cli import run_main
from agents.rearrange import dataset_evaluation, heldout_evaluator, make_vec_env, training_arguments
from agents.training import init_policy_from, pick_device, run_training
from agents.lstm import ENCODERS, InstructionLstmPolicy, lstm_ppo_kwargs
from agents.lstm.setup import lstm_setup


PROG = "python -m agents.lstm.train"


def main(argv: list[str] | None = None) -> None:
    p = training_arguments(PROG, __doc__, out="runs/lstm", n_minibatches=4)
    p.add_argument("--encoder", default="llm-resampler", choices=ENCODERS)
    p.add_argument("--encoder-model", default=None,
                   help="t5: a local T5 folder or hub id (required); llm-*: smollm2-135m (default), gemma3-270m, "
                        "a .gguf file or HF folder; 'tiny': a tiny random model (tests)")
    p.add_argument("--freeze-encoder", action="store_true", help="keep the t5 / llm-final encoder frozen")
    p.add_argument("--lstm-hidden", type=int, default=512)
    p.add_argument("--visual-encoder", default="cnn", choices=["cnn", "resnet18"])
    p.add_argument("--init-from", default=None, metavar="CHECKPOINT",
                   help="start from an LSTM checkpoint's weights (a behaviour-cloned policy, or continual learning)")
    args = p.parse_args(argv)
    if args.encoder == "t5" and args.encoder_model is None:
        p.error("--encoder t5 needs --encoder-model PATH (a local Flan-T5 folder; none ships offline) or 'tiny'")
    if args.encoder == "llm-resampler" and args.freeze_encoder:
        p.error("--freeze-encoder is implied by llm-resampler (its LLM is always frozen)")
    if "RANK" in os.environ:
        p.error("DD-PPO (torchrun) is available for LLaRP only; run this script as one process")

    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    setup = lstm_setup(args.encoder, args.encoder_model, args.visual_encoder, args.freeze_encoder, args.lstm_hidden)
    model_name, tokenizer_name, tokenizer, name = (args.encoder_model or "smollm2-135m", setup.tokenizer_name,
                                                   setup.tokenizer, setup.name)
    meta = {"algorithm": "sb3_contrib:RecurrentPPO", "tokenizer": tokenizer_name, "max_tokens": args.max_tokens,
            "name": name, "encoder": args.encoder, "encoder_model": model_name}
    hyper = lstm_ppo_kwargs(args.envs, args.n_steps, args.n_minibatches)
    hyper["learning_rate"] = args.lr
    hyper["ent_coef"] = args.ent_coef

    def build(venv, tensorboard_log):
        model = RecurrentPPO(InstructionLstmPolicy, venv, seed=args.seed, device=device,
                             tensorboard_log=tensorboard_log, **hyper, policy_kwargs=setup.policy_kwargs)
        if args.init_from:
            init_policy_from(model, RecurrentPPO, args.init_from, device)
        return model

    evaluator = heldout_evaluator(args.heldout, tokenizer, args.max_tokens, Path(args.out), name) if args.heldout else None
    run_training(args, algorithm=RecurrentPPO, build=build, meta=meta, device=device,
                 make_venv=lambda rank: make_vec_env(args, tokenizer, rank), evaluator=evaluator,
                 final=dataset_evaluation(args, name))


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
