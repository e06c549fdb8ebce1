"""Behaviour cloning on expert demonstrations: LLaRP-IL, LLaRP-Scratch-IL and the LSTM baselines.

    python -m agents.imitation.demos --split train --episodes 150000 --out ~/demos/train   # once
    python -m agents.imitation.train --demos ~/demos/train --episodes 150000 --out runs/llarp-il
    python -m agents.imitation.train --demos ~/demos/train --episodes 150000 --out runs/llarp-il --resume
    python -m agents.imitation.train --demos ~/demos/train --episodes 50000 --continue-from zoo/llarp-il --out runs/il-50k
    python -m agents.imitation.train --method lstm-llm-resampler --demos ~/demos/train --episodes 150000 --out runs/lstm-il
    python -m agents.evaluate --agent runs/llarp-il/checkpoint --datasets all
    python -m agents.imitation.train --demos ~/demos/train --only-episodes subset-train.json --episodes 3000 --out runs/il-subset
    python -m agents.imitation.train --demos ~/demos/train,~/demos/dagger-1 --demo-count 2000 --episodes 60000 \
        --continue-from runs/llarp-il/checkpoint --out runs/llarp-il-dagger-1   # a DAgger round (agents.imitation.dagger)

``--episodes`` demonstrations are cloned in passes over the first ``--demo-count`` of each folder (all
by default; a folder of relabelled learner episodes contributes the expert's labels; with
``--only-episodes FILE``, only the demonstrations of the episodes in that episode file, matched by
episode id, e.g. a ``benchmarks/subsets.py`` training set), ``--batch-episodes`` whole
episodes per gradient step, through the policy's own PPO forward pass (LLaRP's masked episode pass;
RecurrentPPO's sequence pass for the LSTMs). Writes ``OUT/checkpoint/`` (an ordinary checkpoint:
``agents.evaluate`` plays it, and for LLaRP ``agents.llarp.train --init-from`` starts PPO from it),
``OUT/bc_curve.json`` ([episodes, loss, accuracy] per step, averaged between checkpoints). ``--resume``
continues from the checkpoint; ``--continue-from CHECKPOINT`` starts a new ``--out`` where another run
with the same model and optimiser options stopped, on the same or other demonstrations (e.g. a zoo
export: its weights, episode count and place in the demonstration order; Adam restarts, a zoo export
keeps no optimizer statistics); ``--time-budget`` counts training
seconds across resumes; a finished run is never retrained.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv
from tqdm import tqdm

from agents.checkpoints import recover_checkpoint, save_checkpoint
from agents.cli import positive_float, positive_int, run_main
from agents.core.registry import load_model, read_checkpoint_spec
from agents.imitation.bc import bc_loss, episode_batch, recurrent_bc_loss
from agents.imitation.demos import load_demos
from agents.llarp import LLaRP, tiny_llama_config
from agents.lstm import InstructionLstmPolicy
from agents.lstm.setup import lstm_setup
from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype
from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from agents.run_folder import code_version, file_digest, lock
from agents.training import pick_device, pick_threads
from gym_langrearrange.datasets import load_episodes
from gym_langrearrange.files import atomic_write_json, read_json

PROG = "python -m agents.imitation.train"
METHODS = ("llarp", "llarp-scratch", "lstm-llm-resampler", "lstm-llm-final", "lstm-t5")
#: options that say which demonstrations, not which model or optimiser: --continue-from may change them
DATA_OPTIONS = ("demo_count", "only_episodes_digest")


def arguments() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demos", required=True, metavar="DIR[,DIR...]",
                   help="folders written by agents.imitation.demos (or agents.imitation.dagger), cloned together")
    p.add_argument("--episodes", type=positive_int, required=True, help="demonstrated episodes to clone in all")
    p.add_argument("--demo-count", type=positive_int, default=None, help="use only the first N of each folder")
    p.add_argument("--only-episodes", default=None, metavar="FILE",
                   help="an episode file: clone only the demonstrations of its episodes")
    p.add_argument("--batch-episodes", type=positive_int, default=8)
    p.add_argument("--lr", type=positive_float, default=3e-4)
    p.add_argument("--method", default="llarp", choices=METHODS)
    p.add_argument("--backbone", default="smollm2-135m", help="LLaRP: smollm2-135m, gemma3-270m, ..., or tiny-llama")
    p.add_argument("--encoder-model", default=None, help="LSTM: as agents.lstm.train's (tiny: a random one)")
    add_dtype_argument(p, dest="llm_dtype")
    p.add_argument("--visual-encoder", default="cnn", choices=["cnn", "resnet18"])
    p.add_argument("--image-size", type=positive_int, default=64)
    p.add_argument("--max-tokens", type=positive_int, default=48)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", default="auto")
    p.add_argument("--out", required=True)
    p.add_argument("--checkpoint-every", type=positive_int, default=2000, metavar="EPISODES")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--continue-from", default=None, metavar="CHECKPOINT",
                   help="start a new --out from another run's checkpoint or a zoo export (same options): its "
                        "weights and episode count, a fresh optimizer if it kept none")
    p.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True)
    return p


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    device = pick_device(args.device)
    args.scratch = args.method == "llarp-scratch"
    lstm = args.method.startswith("lstm-")
    if args.scratch and args.llm_dtype == "auto":
        args.llm_dtype = "float32"  # weights that train stay fp32
    args.llm_dtype = resolve_llm_dtype(args.llm_dtype, device)
    folders = [str(Path(d.strip()).expanduser()) for d in args.demos.split(",") if d.strip()]
    manifest, demos = read_demo_folders(folders, args.demo_count, args.only_episodes)
    tiny = args.backbone == "tiny-llama"
    if lstm:
        setup = lstm_setup(args.method.removeprefix("lstm-"), args.encoder_model, args.visual_encoder)
        tokenizer_name, tokenizer, name = setup.tokenizer_name, setup.tokenizer, setup.name + "-il"
        algorithm = RecurrentPPO
    else:
        tokenizer_name = "smollm2-135m" if tiny else args.backbone
        tokenizer, name, algorithm = load_tokenizer(tokenizer_name), f"{args.method}-il", LLaRP
    make_env = env_factory(tokenizer, args.max_tokens, split=manifest["split"], image_size=args.image_size,
                           hard=manifest["hard"])
    # what defines the run (--resume refuses others); --episodes and --time-budget may grow on resume
    options = {k: getattr(args, k) for k in ("method", "demo_count", "batch_episodes", "lr", "backbone",
                                             "encoder_model", "llm_dtype", "visual_encoder", "image_size",
                                             "max_tokens", "seed")}
    options["only_episodes_digest"] = file_digest(args.only_episodes) if args.only_episodes else None
    meta = {"algorithm": "sb3_contrib:RecurrentPPO" if lstm else "agents.llarp:LLaRP", "tokenizer": tokenizer_name, "max_tokens": args.max_tokens,
            "name": name, "backbone": args.backbone, "split": manifest["split"], "options": options,
            "demonstrations": ",".join(str(Path(d).resolve()) for d in folders), "code_version": code_version()}
    out = Path(args.out)
    checkpoint = out / "checkpoint"
    with lock(out, "behaviour-cloning run"):
        recover_checkpoint(checkpoint)
        torch.set_num_threads(pick_threads(args.threads))
        torch.manual_seed(args.seed)
        venv = DummyVecEnv([make_env])
        done, seconds, curve = 0, 0.0, []
        source = None
        if (checkpoint / "model.zip").exists():
            if not args.resume:
                raise ValueError(f"{out} already holds a run (its checkpoint is {checkpoint}); pass --resume to "
                                 f"continue it, or choose another --out")
            source = checkpoint
        elif args.continue_from:
            source = Path(args.continue_from)
        if source is not None:
            saved = read_checkpoint_spec(source / "agent.json")
            # a new run from another's weights may clone other demonstrations (DAgger rounds, continual learning)
            kept = options if source == checkpoint else {k: v for k, v in options.items() if k not in DATA_OPTIONS}
            changed = {k: (saved["options"].get(k), v) for k, v in kept.items() if saved["options"].get(k) != v}
            if changed:
                flag = "--resume" if source == checkpoint else "--continue-from"
                raise ValueError(f"{flag} with other options than {source}: " + ", ".join(
                    f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items()))
            model = load_model(algorithm, source / "model.zip", source / "agent.json", env=venv, device=device)
            done, seconds = int(saved["bc"]["episodes"]), float(saved["bc"]["seconds"])
            curve = [c for c in read_json(out / "bc_curve.json", "curve") if c[0] <= done] \
                if source == checkpoint and (out / "bc_curve.json").exists() else []
            print(f"{'resumed' if source == checkpoint else 'continued'} from {source} at {done} episodes, "
                  f"{seconds:.0f} s of training")
            if source != checkpoint:
                meta["continued_from"] = {"checkpoint": str(source), "episodes": done}
        elif lstm:
            model = RecurrentPPO(InstructionLstmPolicy, venv, learning_rate=args.lr, seed=args.seed, device=device,
                                 policy_kwargs=setup.policy_kwargs)
        else:
            policy_kwargs = dict(llm_dtype=args.llm_dtype, pretrained=not args.scratch,
                                 visual_encoder=args.visual_encoder)
            if tiny:
                policy_kwargs["backbone_config"] = tiny_llama_config()
            else:
                policy_kwargs["backbone"] = args.backbone
            model = LLaRP("LLaRPPolicy", venv, learning_rate=args.lr, seed=args.seed, device=device,
                          policy_kwargs=policy_kwargs)
        if done >= args.episodes or (args.time_budget and seconds >= args.time_budget):
            print(f"{checkpoint} is finished ({done} of {args.episodes} episodes, {seconds:.0f} s): nothing to train")
            return
        loss = recurrent_bc_loss if lstm else bc_loss
        train(model, loss, make_env(), demos, args, out, checkpoint, meta, done, seconds, curve)


def read_demo_folders(folders: list[str], count: int | None, episode_file: str | None) -> tuple[dict, list]:
    """(the first folder's manifest, the first ``count`` demonstrations of each folder, in order): the folders must
    be of one split, variant and step cap; ``episode_file`` picks episodes from a single folder."""
    if not folders:
        raise ValueError("--demos: no folder given")
    if episode_file and len(folders) > 1:
        raise ValueError(f"--only-episodes picks from one --demos folder; got {len(folders)}: {','.join(folders)}")
    first, demos = None, []
    for folder in folders:
        manifest, these = load_demos(folder)
        these = list(these)
        if episode_file:
            these = only_episodes(these, episode_file, folder)
        if not these[:count]:
            raise ValueError(f"{folder}: no demonstrations")
        if first is None:
            first = manifest
        for key in ("split", "hard", "max_steps", "search"):
            if manifest.get(key) != first.get(key):
                raise ValueError(f"--demos {folder}: {key} {manifest.get(key)!r}, but {folders[0]} has "
                                 f"{first.get(key)!r}")
        demos += these[:count]
    return first, demos


def only_episodes(demos: list, episode_file: str, folder: str) -> list:
    """The demonstrations of the episodes in ``episode_file``, in the file's order; every one must be there."""
    wanted = [e.episode_id for e in load_episodes(episode_file, check_solvable=False)]
    by_id = {d.episode_id: d for d in demos}
    missing = [i for i in wanted if i not in by_id]
    if missing:
        raise ValueError(f"--only-episodes {episode_file}: {len(missing)} of its {len(wanted)} episodes have no "
                         f"demonstration in {folder} (first: {missing[0]!r})")
    return [by_id[i] for i in wanted]


def train(model, loss_of, env, demos, args, out: Path, checkpoint: Path, meta: dict, done: int, seconds: float,
          curve: list) -> None:
    policy = model.policy
    policy.set_training_mode(True)
    trainable = [p for p in policy.parameters() if p.requires_grad]
    rng = np.random.default_rng(args.seed)
    order = np.concatenate([rng.permutation(len(demos)) for _ in range(args.episodes // len(demos) + 1)])
    bar = tqdm(total=args.episodes, initial=done, unit="ep", desc="behaviour cloning", disable=not args.progress)
    losses, accuracies, last_saved, start = [], [], done, time.perf_counter() - seconds

    def save() -> None:
        model.num_timesteps = done
        if losses:
            curve.append([done, float(np.mean(losses)), float(np.mean(accuracies))])
            losses.clear()
            accuracies.clear()
        atomic_write_json(out / "bc_curve.json", curve)
        save_checkpoint(model, checkpoint, {**meta, "bc": {"episodes": done, "seconds": time.perf_counter() - start}})

    while done < args.episodes and not (args.time_budget and time.perf_counter() - start >= args.time_budget):
        take = order[done:min(done + args.batch_episodes, args.episodes)]
        batch = episode_batch(env, [demos[i] for i in take], model.device, model.observation_space)
        loss, accuracy = loss_of(policy, batch)
        policy.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 0.5)
        policy.optimizer.step()
        done += len(take)
        losses.append(loss.item())
        accuracies.append(accuracy)
        bar.update(len(take))
        bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{accuracy:.2f}")
        if done - last_saved >= args.checkpoint_every:
            save()
            last_saved = done
    save()
    bar.close()
    print(f"saved {checkpoint} ({done} episodes cloned, {time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
