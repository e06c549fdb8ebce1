"""LLaRP save -> load round trip with real pretrained backbones (the CI test only covers a tiny random Llama).

    python benchmarks/llarp_save_load.py [--backbones smollm2-135m,gemma3-270m,tiny-llama] [--steps 64]

Per backbone: train briefly (so adapters differ from their init), ``save``, ``LLaRP.load`` into a
new object, then play the same vec-env observations through both with ``predict`` and compare the
greedy actions and the action logits / values (captured by forward hooks on the heads). Also
checks that the zip holds no frozen LLM weight and that ``load`` restored them from the backbone
(``tiny-llama``, random, is stored in the zip instead),
and (in fp32, like tests/test_llarp.py) that rollout log-probs/values equal the update pass's.
Exits 1 if any check fails.
"""
from __future__ import annotations

import argparse
import gc
import glob
import os
import sys
import tempfile
import time
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype
from agents.nn.llm import load_tokenizer, model_source
from agents.rearrange import env_factory
from agents.llarp import LLaRP, tiny_llama_config
from agents.llarp.diagnostics import rollout_update_gap

MAX_TOKENS = 48


def make_venv(tokenizer: Any, args: argparse.Namespace, seed: int, stagger: bool = False) -> DummyVecEnv:
    """``stagger``: env i > 0 truncates after 7 + 2i steps instead of 32, so episodes start at different
    steps in different envs (the cache splicing for a subset of envs; otherwise only successes do that)."""
    venv = DummyVecEnv([env_factory(tokenizer, MAX_TOKENS, "train", image_size=args.image_size, seed=seed + i)
                        for i in range(args.envs)])
    for i, env in enumerate(venv.envs[1:] if stagger else [], start=1):
        env.unwrapped.max_steps = 7 + 2 * i
    return venv


def make_model(backbone: str, venv: DummyVecEnv, llm_dtype: str, n_steps: int) -> LLaRP:
    llm = {"backbone_config": tiny_llama_config()} if backbone == "tiny-llama" else {"backbone": backbone}
    return LLaRP("LLaRPPolicy", venv, n_steps=n_steps, n_minibatches=2, seed=0, device="cpu",
                 policy_kwargs=dict(llm_dtype=llm_dtype, **llm))


def side_by_side(a: LLaRP, b: LLaRP, venv: DummyVecEnv, episodes: int) -> tuple[bool, float, float, int]:
    """Play ``episodes`` episodes per env (at least) with a's greedy actions; b sees the same observations.

    Returns (actions always identical, max |logit diff|, max |value diff|, steps compared).
    """
    heads: dict[str, list[torch.Tensor]] = {}
    hooks = [getattr(m.policy, net).register_forward_hook(
        lambda _m, _i, out, key=f"{name}.{net}": heads.setdefault(key, []).append(out.detach()))
        for name, m in (("a", a), ("b", b)) for net in ("action_net", "value_net")]
    obs, state_a, state_b = venv.reset(), None, None
    starts = np.ones(venv.num_envs, dtype=bool)
    done_eps, identical, steps = np.zeros(venv.num_envs, dtype=int), True, 0
    while (done_eps < episodes).any():
        act_a, state_a = a.predict(obs, state=state_a, episode_start=starts, deterministic=True)
        act_b, state_b = b.predict(obs, state=state_b, episode_start=starts, deterministic=True)
        identical &= bool(np.array_equal(act_a, act_b))
        obs, _, starts, _ = venv.step(act_a)
        done_eps += starts
        steps += 1
    for h in hooks:
        h.remove()
    diff = {net: max((x - y).abs().max().item() for x, y in zip(heads[f"a.{net}"], heads[f"b.{net}"]))
            for net in ("action_net", "value_net")}
    return identical, diff["action_net"], diff["value_net"], steps


def rollout_vs_update(backbone: str, tokenizer: Any, args: argparse.Namespace, llm_dtype: str = "float32"
                      ) -> tuple[float, int]:
    """tests/test_llarp.py's equivalence check (fp32): max |diff| of log-probs and values, rollout vs update,
    and how many rollouts began inside an episode (must be > 0 for the check to cover that case)."""
    venv = make_venv(tokenizer, args, seed=100, stagger=True)
    model = make_model(backbone, venv, llm_dtype, n_steps=args.equiv_n_steps)
    gap = rollout_update_gap(model, rollouts=args.equiv_rollouts, minibatches=2)
    return max(gap.log_prob, gap.value), gap.continued


def all_tensors(model: LLaRP) -> dict[str, torch.Tensor]:
    """Every parameter (the frozen LLM's included) and every buffer the checkpoint keeps."""
    return {**model.policy.state_dict(), **{k: p.detach() for k, p in model.policy.named_parameters()}}


def matches_source(model: LLaRP, backbone: str) -> bool:
    """The policy's LLM holds exactly the backbone's weights on disk (not, e.g., a seeded random init)."""
    from safetensors.torch import load_file

    if backbone == "tiny-llama":
        return True
    disk: dict[str, torch.Tensor] = {}
    for f in glob.glob(os.path.join(model_source(backbone), "*.safetensors")):
        disk.update(load_file(f))
    llm = model.policy.llm.state_dict()
    return bool(disk) and all(torch.equal(v, disk.get(f"model.{k}", disk.get(k, torch.empty(0))).to(v.dtype))
                              for k, v in llm.items())


def check(backbone: str, args: argparse.Namespace, folder: str) -> tuple[dict[str, Any], list[str]]:
    failures: list[str] = []
    tokenizer = load_tokenizer("smollm2-135m" if backbone == "tiny-llama" else backbone)
    model = make_model(backbone, make_venv(tokenizer, args, seed=0), args.dtype, args.n_steps)
    params = dict(model.policy.named_parameters())
    total, trainable = sum(p.numel() for p in params.values()), sum(p.numel() for p in params.values()
                                                                     if p.requires_grad)
    llm_mb = sum(p.numel() * p.element_size() for k, p in params.items() if k.startswith("llm.")) / 2**20
    before = {k: p.detach().clone() for k, p in params.items() if p.requires_grad}
    model.learn(args.steps)
    if any(torch.equal(params[k], v) for k, v in before.items()):
        failures.append("learn left some adapter weights unchanged")
    path = os.path.join(folder, f"{backbone}.zip")
    model.save(path)
    stored = model.policy.llm_is_stored
    _, saved, _ = load_from_zip_file(path, device="cpu")
    if any(k.startswith("llm.") for k in saved["policy"]) != stored:
        failures.append("LLM weights missing from the zip" if stored else "the zip holds frozen LLM weights")
    t0 = time.perf_counter()
    loaded = LLaRP.load(path, env=make_venv(tokenizer, args, seed=0), device="cpu")
    load_s = time.perf_counter() - t0
    mine, theirs = all_tensors(model), all_tensors(loaded)
    bad = sorted(mine.keys() ^ theirs.keys()) or [k for k in mine if not torch.equal(mine[k], theirs[k])]
    if bad:  # the LLM's weights must come back from the backbone, the adapters' from the zip
        failures.append(f"{len(bad)} tensors differ after load, e.g. {bad[0]}")
    if not matches_source(loaded, backbone):
        failures.append("the loaded LLM is not the backbone's pretrained weights")
    play = make_venv(tokenizer, args, seed=50, stagger=True)
    identical, logit_diff, value_diff, steps = side_by_side(model, loaded, play, args.episodes)
    if not identical or max(logit_diff, value_diff) > args.tol:
        failures.append(f"predict differs: actions identical {identical}, |logit diff| {logit_diff:.2e}, "
                        f"|value diff| {value_diff:.2e}")
    del model, loaded, params, before, mine, theirs
    gc.collect()
    equiv, prefixed = rollout_vs_update(backbone, tokenizer, args) if args.equiv_rollouts else (float("nan"), 1)
    if equiv > 1e-4:
        failures.append(f"rollout and update pass disagree by {equiv:.2e} in fp32")
    if not prefixed:
        failures.append("no rollout began inside an episode: raise --equiv-rollouts")
    return dict(backbone=backbone, params=f"{total / 1e6:.1f}M / {trainable / 1e6:.2f}M",
                zip=f"{os.path.getsize(path) / 2**20:.1f} (LLM {llm_mb:.0f}{'' if stored else ' not'} stored)",
                load=f"{load_s:.1f}",
                identical=f"{identical} ({steps} steps)", logit=f"{logit_diff:.1e} (value {value_diff:.1e})",
                equiv=f"{equiv:.1e}"), failures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backbones", default="smollm2-135m,gemma3-270m",
                   help="comma-separated: smollm2-135m, gemma3-270m, tiny-llama (random weights), ...")
    p.add_argument("--steps", type=int, default=64, help="learn() budget before saving (env steps, all envs)")
    p.add_argument("--n-steps", type=int, default=32, help="rollout steps per env per update")
    p.add_argument("--envs", type=int, default=2)
    p.add_argument("--image-size", type=int, default=64)
    add_dtype_argument(p, "--llm-dtype")
    p.add_argument("--episodes", type=int, default=2, help="episodes per env compared with predict")
    p.add_argument("--tol", type=float, default=0.0, help="allowed |logit/value diff| after load (default exact)")
    p.add_argument("--equiv-n-steps", type=int, default=16, help="rollout length of the fp32 equivalence check")
    p.add_argument("--equiv-rollouts", type=int, default=3, help="rollouts in that check (0: skip it)")
    args = p.parse_args(argv)
    args.dtype = resolve_llm_dtype(args.dtype, "cpu")
    print(f"torch threads {torch.get_num_threads()}, {args.envs} envs, learn {args.steps} steps, "
          f"llm {args.dtype}, {args.episodes} episodes/env compared", flush=True)
    header = ["backbone", "params total / trainable", "zip MB", "load s", "actions identical",
              "max |logit diff|", "rollout≡update max diff (fp32)"]
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as folder:
        for backbone in args.backbones.split(","):
            t0 = time.perf_counter()
            row, failed = check(backbone, args, folder)
            print(f"{backbone}: {time.perf_counter() - t0:.0f} s, " + ("; ".join(failed) or "all checks pass"),
                  flush=True)
            rows.append(list(row.values()))
            failures += [f"{backbone}: {f}" for f in failed]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
