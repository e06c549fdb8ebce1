"""How much the untrained TWOSOME policy already favours each task's optimal episode, per normalisation.

    python benchmarks/twosome_prior.py --to docs/results/twosome          # SmolLM2-135M, bf16 where fast
    python benchmarks/twosome_prior.py --model gemma3-270m --to /tmp/prior

Plays the spec's optimal macro sequence of each of TWOSOME's four tasks and records, at every step,
the probability the LLM policy (LoRA at zero, i.e. before any training) gives the optimal macro, with
``word``, ``token`` and ``none`` normalisation, beside the uniform policy over the valid macros. Their
product is the chance that the policy plays the optimal episode from start to end: the prior that
PPO starts from. Writes ``prior.md`` (per task and normalisation: that product, the smallest step
probability and the step it occurs at, the same for the uniform policy).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: the spec's optimal macro sequences (shared/spec/twosome.md; tests/test_twosome_env.py plays them)
OPTIMAL_MACROS = {"tomato-salad": [0, 2, 4, 0, 1, 3],
                  "tomato-lettuce-salad": [0, 4, 7, 1, 5, 7, 3, 1, 0, 6],
                  "food-preparation": [4, 6, 5, 8, 7, 9],
                  "entertainment": [4, 9, 5, 10, 0, 6, 11, 7, 13, 8, 15]}


def step_probabilities(policy, env, macros: list[int]) -> tuple[dict[str, list[float]], list[str]]:
    """Per normalisation (and ``uniform``): the probability of each optimal macro along the episode;
    and the macros' texts."""
    from agents.twosome.policy import NORMALISATIONS

    probs: dict[str, list[float]] = {n: [] for n in (*NORMALISATIONS, "uniform")}
    texts: list[str] = []
    obs, info = env.reset(seed=0)
    for i, macro in enumerate(macros):
        valid = np.flatnonzero(info["action_mask"])
        if macro not in valid:
            raise RuntimeError(f"optimal macro {macro} at step {i} is not among the valid ones {valid.tolist()}")
        texts.append(info["action_texts"][macro])
        probs["uniform"].append(1.0 / len(valid))
        for name in NORMALISATIONS:
            policy.normalisation = name
            probs[name].append(float(np.ravel(policy.action_probabilities(obs))[macro]))
        obs, _, terminated, _, info = env.step(macro)
    if not terminated or not info.get("success"):
        raise RuntimeError("the optimal sequence did not succeed")
    return probs, texts


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="auto", choices=["auto", "bfloat16", "float32"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--to", default=None, help="folder for prior.md (default: print only)")
    args = p.parse_args(argv)

    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.nn.backbone import tiny_llama_config
    from agents.nn.llm import load_tokenizer
    from agents.twosome import TWOSOME
    from agents.twosome.recipes import RECIPES
    from agents.twosome.train import task_env

    torch.set_num_threads(args.threads)
    tiny = args.model == "tiny-llama"
    tokenizer = load_tokenizer("smollm2-135m" if tiny else args.model)
    model_kwargs = {"model_config": tiny_llama_config()} if tiny else {"model": args.model}
    rows = ["| task | policy | P(optimal episode) | lowest step probability | at step (macro) |",
            "|---|---|---:|---:|---|"]
    for task, macros in OPTIMAL_MACROS.items():
        recipe = RECIPES[task]
        env = task_env(recipe, tokenizer)
        torch.manual_seed(0)  # the value head's init; the action probabilities do not depend on it
        policy = TWOSOME("TwosomePolicy", DummyVecEnv([lambda: task_env(recipe, tokenizer)]),
                         policy_kwargs={"llm_dtype": args.dtype, **model_kwargs}).policy
        probs, texts = step_probabilities(policy, env, macros)
        for name, values in probs.items():
            low = int(np.argmin(values))
            rows.append(f"| {task} | {name} | {np.prod(values):.2e} | {values[low]:.3f} | "
                        f"{low + 1} ({texts[low]}) |")
    header = (f"Untrained TWOSOME policy ({args.model}, LoRA at zero) along each task's optimal episode: the "
              f"chance it plays that episode, and its least likely step.\n\n")
    text = header + "\n".join(rows) + "\n"
    print(text)
    if args.to:
        Path(args.to).mkdir(parents=True, exist_ok=True)
        (Path(args.to) / "prior.md").write_text(text)


if __name__ == "__main__":
    main()
