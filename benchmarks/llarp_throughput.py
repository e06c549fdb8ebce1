"""LLaRP throughput on this machine: steps/s of rollout, of the update, end to end, and peak memory.

    python benchmarks/llarp_throughput.py [--backbone smollm2-135m] [--envs 16] [--updates 4] [--dtype float32]
    python benchmarks/llarp_throughput.py --task atari --game pong          # the C.6 recipe: ResNet-18, 64 envs
    python benchmarks/llarp_throughput.py --device cuda --envs 64          # on a GPU (the default where one is)

Rollout = collecting n_steps x envs transitions (policy decoding with the KV cache + env
stepping); update = the PPO pass over them; end to end = both, as in ``learn``. The first
update is a warm-up and not counted. Medians over the counted updates.

To tell a slow implementation from a slow machine, one more round runs under
``torch.utils.flop_counter.FlopCounterMode`` (not timed): FLOPs per environment step,
against the GFLOP/s this CPU reaches on a large matmul in the LLM's dtype with the same
threads (on a GPU: the GPU's), give the steps/s the hardware would allow if every FLOP ran
at matmul peak. At the small batches of decoding, the LLM is bound by memory bandwidth
instead (its weights are read once per decoded step), which is why more envs per process raise
steps/s.

Where the time goes: the share of rollout time spent stepping the environments, and the
operators that take the most time over one more rollout + update (``torch.profiler``; on a GPU,
ranked by their time on the GPU).
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from stable_baselines3.common.callbacks import CallbackList
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from agents.nn.backbone import add_dtype_argument, resolve_llm_dtype
from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from agents.llarp import LLaRP, tiny_llama_config
from agents.training import pick_device


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="langrearrange", choices=["langrearrange", "atari"])
    p.add_argument("--game", default="pong", help="--task atari: the game")
    p.add_argument("--backbone", default="smollm2-135m")
    add_dtype_argument(p, "--llm-dtype")
    p.add_argument("--envs", type=int, default=None, help="default 16 (langrearrange), 64 (atari)")
    p.add_argument("--n-steps", type=int, default=32)
    p.add_argument("--image-size", type=int, default=None, help="default 64 (langrearrange), 84 (atari)")
    p.add_argument("--max-tokens", type=int, default=None, help="default 48 (langrearrange), 32 (atari)")
    p.add_argument("--updates", type=int, default=4)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--prefix-context", default="recompute", choices=["recompute", "cached"])
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, or auto: cuda where present (as SB3)")
    args = p.parse_args()
    device = torch.device(pick_device(args.device))
    args.dtype = resolve_llm_dtype(args.dtype, device)
    if args.threads:
        torch.set_num_threads(args.threads)
    atari = args.task == "atari"
    defaults = (64, 84, 32) if atari else (16, 64, 48)
    args.envs, args.image_size, args.max_tokens = (given or default for given, default in
                                                   zip((args.envs, args.image_size, args.max_tokens), defaults))
    tiny = args.backbone == "tiny-llama"
    tokenizer = load_tokenizer("smollm2-135m" if tiny else args.backbone)
    kwargs = {"backbone_config": tiny_llama_config()} if tiny else {"backbone": args.backbone}
    if atari:
        fns = [atari_env_factory(args.game, tokenizer, args.max_tokens, args.image_size, i) for i in range(args.envs)]
        kwargs.update(visual_encoder="resnet18", proprio="none", visual_bf16=args.dtype == "bfloat16")
        extra = dict(value_loss="huber", max_grad_norm=0.5)
    else:
        fns = [env_factory(tokenizer, args.max_tokens, "train", image_size=args.image_size, seed=i)
               for i in range(args.envs)]
        extra = {}
    venv = TimedVecEnv(DummyVecEnv(fns))
    model = LLaRP("LLaRPPolicy", venv, n_steps=args.n_steps, seed=0, device=device, prefix_context=args.prefix_context,
                  policy_kwargs=dict(llm_dtype=args.dtype, **kwargs), **extra)
    model._setup_learn(10**9, callback=None)
    callback = CallbackList([])
    callback.init_callback(model)
    steps = args.n_steps * args.envs
    rollout, update = [], []
    env_seconds = []
    for i in range(args.updates + 1):
        venv.seconds = 0.0
        t0 = time.perf_counter()
        model.collect_rollouts(model.env, callback, model.rollout_buffer, args.n_steps)
        t1 = synchronized_clock(device)
        model.train()
        t2 = synchronized_clock(device)
        if i:  # the first round warms up caches and allocators
            rollout.append(t1 - t0)
            update.append(t2 - t1)
            env_seconds.append(venv.seconds)
    r, u = statistics.median(rollout), statistics.median(update)
    flops = count_flops(model, callback, args.n_steps)
    peak = matmul_gflops(getattr(torch, args.dtype), device)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{args.task}{' ' + args.game if atari else ''}: "
          f"backbone {args.backbone} ({args.dtype}), prefix {args.prefix_context}, {args.envs} envs x {args.n_steps} steps, "
          f"{args.image_size}px, {where}, torch threads {torch.get_num_threads()}")
    print("| phase | seconds per update | steps/s |\n|---|---:|---:|")
    print(f"| rollout (decode + env) | {r:.2f} | {steps / r:,.0f} |")
    print(f"| PPO update | {u:.2f} | {steps / u:,.0f} |")
    print(f"| end to end | {r + u:.2f} | {steps / (r + u):,.0f} |")
    print(f"peak memory (RSS): {peak_gib:.2f} GiB" + (f"; GPU {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
                                                     if device.type == "cuda" else ""))
    per_step = flops / steps / 1e9
    print(f"FLOPs per env step (rollout + update): {per_step:.2f} GFLOP; achieved {flops / (r + u) / 1e9:.1f} "
          f"GFLOP/s; this {where}'s {args.dtype} matmul peak {peak:.1f} GFLOP/s -> at most {peak / per_step:,.0f} steps/s "
          f"end to end if every FLOP ran at that peak")
    e = statistics.median(env_seconds)
    print(f"where the time goes: environments {e:.2f} s of the rollout's {r:.2f} s ({e / r:.0%}); policy "
          f"{r - e:.2f} s; update {u:.2f} s")
    print_top_operators(model, callback, args.n_steps, device)


class TimedVecEnv(VecEnvWrapper):
    """Counts the seconds spent stepping the environments."""

    def __init__(self, venv) -> None:
        super().__init__(venv)
        self.seconds = 0.0

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        t0 = time.perf_counter()
        out = self.venv.step_wait()
        self.seconds += time.perf_counter() - t0
        return out


def atari_env_factory(game: str, tokenizer, max_tokens: int, image_size: int, seed: int):
    from agents.atari.envs import make_atari_env
    from gym_langrearrange.wrappers import TokenizeInstruction

    def make():
        env = make_atari_env(game, image_size, clip_rewards=True)
        env.reset(seed=seed)
        return TokenizeInstruction(env, tokenizer, max_tokens)

    return make


def synchronized_clock(device: torch.device) -> float:
    """``perf_counter`` once the GPU's queued work is done (CUDA runs asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def print_top_operators(model: LLaRP, callback: CallbackList, n_steps: int, device: torch.device,
                        top: int = 12) -> None:
    """The operators with the most self time over one rollout + update: CPU time, or GPU time on a GPU."""
    from torch.profiler import ProfilerActivity, profile

    gpu = device.type == "cuda"
    with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])) as prof:
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_steps)
        model.train()
    self_time = (lambda ev: ev.self_device_time_total) if gpu else (lambda ev: ev.self_cpu_time_total)
    events = sorted(prof.key_averages(), key=self_time, reverse=True)
    total = sum(self_time(ev) for ev in events)
    print(f"| operator (one rollout + update) | self {'GPU' if gpu else 'CPU'} s | share |\n|---|---:|---:|")
    for ev in events[:top]:
        print(f"| {ev.key} | {self_time(ev) / 1e6:.2f} | {self_time(ev) / total:.0%} |")


def count_flops(model: LLaRP, callback: CallbackList, n_steps: int) -> float:
    """FLOPs of one rollout + one update (matmuls, convolutions, attention)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        model.collect_rollouts(model.env, callback, model.rollout_buffer, n_steps)
        model.train()
    return float(counter.get_total_flops())


def matmul_gflops(dtype: torch.dtype, device: torch.device, repeats: int = 20) -> float:
    """Median GFLOP/s of an n x n matmul in ``dtype`` (bf16 runs on AMX where the CPU has it) with the
    current torch threads; n = 1024 on a CPU, 8192 on a GPU (after a warm-up). The LLM's matmuls run in
    this dtype; the adapters' (a small share) in fp32."""
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    torch.mm(a, b)
    times = []
    for _ in range(repeats):
        t0 = synchronized_clock(device)
        torch.mm(a, b)
        times.append(synchronized_clock(device) - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


if __name__ == "__main__":
    main()
