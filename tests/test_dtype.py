"""LLaRP's LLM dtype ``auto``: bf16 on CUDA and on CPUs with bf16 units, fp32 elsewhere; one ``--dtype`` option."""
import argparse
import importlib.util
import json
import runpy
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import gym_langrearrange  # noqa: F401
from agents.nn import backbone
from agents.nn.backbone import add_dtype_argument, cpu_bf16_flag, cpu_flags, resolve_llm_dtype
from agents.run_folder import ResumeMismatch
from gym_langrearrange.wrappers import TokenizeInstruction

ROOT = Path(__file__).resolve().parents[1]

#: flags lines of real CPUs (abridged): Sapphire Rapids (AMX), Zen 4 (AVX512-BF16), Zen 3 and Skylake-SP (neither)
SAPPHIRE_RAPIDS = ("fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 avx512_fp16 amx_bf16 amx_tile "
                   "amx_int8").split()
ZEN4 = "fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 vaes".split()
ZEN3 = "fpu sse2 avx avx2 fma bmi2 adx sha_ni clzero xsaveerptr vaes vpclmulqdq".split()
SKYLAKE_SP = "fpu sse2 avx avx2 fma avx512f avx512bw avx512cd avx512dq avx512vl".split()


@pytest.fixture(autouse=True)
def no_cuda(monkeypatch):
    """Every test decides for itself whether there is a GPU; every test sees the choice announced."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    backbone._ANNOUNCED.clear()


@pytest.mark.parametrize("flags, flag, dtype", [
    (SAPPHIRE_RAPIDS, "amx_bf16", "bfloat16"),
    (["avx512f", "amx_tile"], "amx_tile", "bfloat16"),
    (ZEN4, "avx512_bf16", "bfloat16"),
    (ZEN3, None, "float32"),
    (SKYLAKE_SP, None, "float32"),
    ([], None, "float32"),
], ids=["sapphire-rapids-amx", "amx-tile-only", "zen4-avx512-bf16", "zen3-avx2", "skylake-avx512", "no-flags"])
def test_auto_on_cpu_follows_the_bf16_flags(flags, flag, dtype, capsys):
    assert cpu_bf16_flag(flags) == flag
    assert resolve_llm_dtype("auto", "cpu", flags=flags) == dtype
    why = f"CPU has {flag}" if flag else "CPU has no bf16 units: none of amx_bf16, amx_tile, avx512_bf16"
    assert f"LLM dtype auto -> {dtype} ({why})" in capsys.readouterr().err


def test_auto_on_cuda_is_bf16_where_the_gpu_has_it(monkeypatch):
    assert resolve_llm_dtype("auto", "cuda", flags=ZEN3) == "bfloat16"
    assert resolve_llm_dtype("auto", torch.device("cuda", 0), flags=ZEN3) == "bfloat16"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert resolve_llm_dtype("auto", flags=ZEN3) == "bfloat16"  # no device given: CUDA when there is one
    assert resolve_llm_dtype("auto", "auto", flags=ZEN3) == "bfloat16"
    assert resolve_llm_dtype("auto", "cpu", flags=ZEN3) == "float32"  # the CPU still decides for device cpu
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation)
    assert resolve_llm_dtype("auto", "cuda", flags=ZEN3) == "float32"  # e.g. a V100: bf16 only emulated


def test_explicit_dtypes_pass_and_bad_ones_are_refused():
    assert resolve_llm_dtype("float32", "cuda") == "float32"
    assert resolve_llm_dtype("bfloat16", "cpu", flags=ZEN3) == "bfloat16"
    with pytest.raises(ValueError, match="LLM dtype must be auto or one of bfloat16, float32, float16, got 'fp8'"):
        resolve_llm_dtype("fp8")


def test_choice_is_printed_once(capsys):
    for _ in range(3):
        resolve_llm_dtype("auto", "cpu", flags=ZEN4)
    assert capsys.readouterr().err.count("LLM dtype auto -> bfloat16 (CPU has avx512_bf16)") == 1
    resolve_llm_dtype("auto", "cpu", flags=ZEN3)  # a different answer is news
    assert "auto -> float32" in capsys.readouterr().err


def test_cpu_flags_from_cpuinfo_and_torch_fallback(tmp_path, monkeypatch):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu avx2 avx512_bf16\n\n"
                    "processor\t: 1\nflags\t\t: fpu avx2 avx512_bf16\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") is None
    (tmp_path / "arm").write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(tmp_path / "arm") is None
    # without /proc/cpuinfo flags (macOS, Windows, ARM), torch's own probes decide
    monkeypatch.setattr(backbone, "cpu_flags", lambda: None)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert cpu_bf16_flag() == "avx512_bf16"
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert cpu_bf16_flag() is None


def test_this_machine_gets_an_answer(capsys):
    flag = cpu_bf16_flag()
    assert resolve_llm_dtype("auto", "cpu") == ("bfloat16" if flag else "float32")


def test_dtype_option_with_hidden_old_spelling(capsys):
    p = argparse.ArgumentParser()
    add_dtype_argument(p, "--llm-dtype", dest="llm_dtype")
    assert p.parse_args([]).llm_dtype == "auto"
    assert p.parse_args(["--dtype", "float32"]).llm_dtype == "float32"
    assert p.parse_args(["--llm-dtype", "bfloat16"]).llm_dtype == "bfloat16"
    assert "--llm-dtype is deprecated; use --dtype" in capsys.readouterr().err
    assert "--dtype {auto,bfloat16,float32}" in p.format_help() and "--llm-dtype" not in p.format_help()
    with pytest.raises(SystemExit):
        p.parse_args(["--dtype", "float16"])


# --- the policy --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    from agents.nn.llm import load_tokenizer

    return load_tokenizer("smollm2-135m")


def _venv(tokenizer, n=2):
    return DummyVecEnv([lambda: TokenizeInstruction(gym.make("LangRearrange-v0", image_size=32, max_steps=5),
                                                    tokenizer, 24)] * n)


def _tiny(venv, **kwargs):
    from agents.llarp import LLaRP, tiny_llama_config

    return LLaRP("LLaRPPolicy", venv, n_steps=8, n_minibatches=2, seed=0, device="cpu",
                 policy_kwargs=dict(backbone_config=tiny_llama_config(), **kwargs))


@pytest.mark.parametrize("flags, dtype", [(SAPPHIRE_RAPIDS, torch.bfloat16), (ZEN4, torch.bfloat16),
                                          (ZEN3, torch.float32)], ids=["amx", "avx512-bf16", "avx2"])
def test_policy_auto_dtype_follows_the_cpu(tokenizer, monkeypatch, flags, dtype):
    monkeypatch.setattr(backbone, "cpu_flags", lambda: frozenset(flags))
    model = _tiny(_venv(tokenizer))  # llm_dtype defaults to auto
    policy = model.policy
    assert policy.llm_dtype == dtype and {p.dtype for p in policy.llm.parameters()} == {dtype}
    assert policy._get_constructor_parameters()["llm_dtype"] == str(dtype).removeprefix("torch.")
    assert {p.dtype for p in policy.action_net.parameters()} == {torch.float32}  # adapters stay fp32


def test_checkpoint_keeps_its_resolved_dtype_on_another_cpu(tokenizer, tmp_path, monkeypatch, capsys):
    """Saved on a bf16 CPU, loaded on one without: still bf16, with the same actions (the kwargs hold the
    resolved dtype, not "auto"); and agents.evaluate's loader takes the LLaRP checkpoint too."""
    from agents.core import load_agent
    from agents.llarp import LLaRP

    monkeypatch.setattr(backbone, "cpu_flags", lambda: frozenset(SAPPHIRE_RAPIDS))
    venv = _venv(tokenizer)
    model = _tiny(venv, llm_dtype="auto")
    model.learn(16)
    folder = tmp_path / "checkpoint"
    folder.mkdir()
    model.save(folder / "model.zip")
    (folder / "agent.json").write_text(json.dumps({"algorithm": "agents.llarp:LLaRP", "model": "model.zip",
                                                   "tokenizer": "smollm2-135m", "max_tokens": 24}))
    monkeypatch.setattr(backbone, "cpu_flags", lambda: frozenset(ZEN3))
    assert resolve_llm_dtype("auto", "cpu") == "float32"
    loaded = LLaRP.load(folder / "model.zip", env=venv, device="cpu")
    assert "LLM dtype bfloat16, as the checkpoint was trained (auto chose float32 here)" in capsys.readouterr().err
    assert loaded.policy.llm_dtype == torch.bfloat16
    assert {p.dtype for p in loaded.policy.llm.parameters()} == {torch.bfloat16}
    obs = venv.reset()
    state_a = state_b = None
    starts = np.ones(venv.num_envs, dtype=bool)
    for _ in range(6):
        a, state_a = model.predict(obs, state=state_a, episode_start=starts, deterministic=True)
        b, state_b = loaded.predict(obs, state=state_b, episode_start=starts, deterministic=True)
        assert np.array_equal(a, b)
        obs, _, starts, _ = venv.step(a)
    agent = load_agent(str(folder), device="cpu")
    assert agent.model.policy.llm_dtype == torch.bfloat16


# --- the scripts ------------------------------------------------------------------------------------------


def _script(relpath):
    spec = importlib.util.spec_from_file_location(Path(relpath).stem, ROOT / relpath)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_llarp_records_the_resolved_dtype_and_takes_both_spellings(tmp_path, monkeypatch):
    from agents.llarp import train
    monkeypatch.setattr(backbone, "cpu_flags", lambda: frozenset(ZEN3))
    out = tmp_path / "run"
    argv = ["--backbone", "tiny-llama", "--steps", "8", "--envs", "1", "--n-steps", "8", "--n-minibatches", "1",
            "--image-size", "32", "--max-tokens", "16", "--eval-episodes", "0", "--device", "cpu", "--threads", "1",
            "--out", str(out)]
    train.main(argv)  # --dtype auto on a CPU without bf16 units
    meta = json.loads((out / "checkpoint" / "agent.json").read_text())
    assert meta["options"]["llm_dtype"] == "float32"  # recorded by dest, resolved: resumable anywhere
    train.main(argv + ["--resume", "--steps", "16", "--llm-dtype", "float32"])  # the old spelling still works
    with pytest.raises(ResumeMismatch, match=r"--llm-dtype bfloat16 \(checkpoint: float32\)"):
        train.main(argv + ["--resume", "--steps", "24", "--dtype", "bfloat16"])


def test_learning_benchmark_passes_dtype_to_train_llarp(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    learning = _script("benchmarks/learning.py")
    args = argparse.Namespace(ranks=1, eval_every=10, budget=5.0, envs=2, checkpoint_every=5, seed=0, ent_coef=0.01,
                              out=tmp_path, action_mask=False, t5_model=None, dtype="auto", threads=1)
    cmd = learning.command("llarp", args, tmp_path / "t.json", tmp_path / "h.json")
    assert cmd[cmd.index("--dtype") + 1] == "auto"
    cmd = learning.command("llarp-scratch", args, tmp_path / "t.json", tmp_path / "h.json")
    assert cmd[cmd.index("--dtype") + 1] == "float32"  # LLaRP-Scratch trains its LLM: always fp32


@pytest.mark.parametrize("script", [["-m", "agents.llarp.train"], ["-m", "agents.atari.train"],
                                    ["benchmarks/llarp_throughput.py"], ["benchmarks/llarp_save_load.py"],
                                    ["benchmarks/learning.py"]])
def test_every_script_names_the_option_dtype(script, monkeypatch, capsys):
    """Each script's ``--help``, run as ``__main__`` in this process (a fresh interpreter costs ~5 s)."""
    monkeypatch.setattr(sys, "argv", [script[-1], "--help"])
    with pytest.raises(SystemExit) as exit_:
        if script[0] == "-m":
            monkeypatch.delitem(sys.modules, script[1], raising=False)  # `-m` runs a module not yet imported
            runpy.run_module(script[1], run_name="__main__", alter_sys=True)
        else:  # as `python benchmarks/x.py` would: its folder first on the path
            monkeypatch.syspath_prepend(str((ROOT / script[0]).parent))
            runpy.run_path(str(ROOT / script[0]), run_name="__main__")
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    assert "--dtype {auto,bfloat16,float32}" in help_text
    assert "--llm-dtype" not in help_text and "--llarp-dtype" not in help_text


def test_checkpoint_from_before_auto_keeps_the_old_default(tokenizer, monkeypatch, capsys):
    """A checkpoint without the dtype buffer, of a policy built with the default dtype, was bf16 (the default
    then); one built with an explicit dtype keeps it."""
    monkeypatch.setattr(backbone, "cpu_flags", lambda: frozenset(ZEN3))
    venv = _venv(tokenizer)
    old = {k: v for k, v in _tiny(venv, llm_dtype="bfloat16").policy.state_dict().items() if k != "llm_dtype_id"}
    auto = _tiny(venv).policy
    assert auto.llm_dtype == torch.float32
    auto.load_state_dict(old)
    assert auto.llm_dtype == torch.bfloat16 and {p.dtype for p in auto.llm.parameters()} == {torch.bfloat16}
    assert int(auto.llm_dtype_id) == 1
    assert "LLM dtype bfloat16, as the checkpoint was trained (auto chose float32 here)" in capsys.readouterr().err
    explicit = _tiny(venv, llm_dtype="float32").policy
    explicit.load_state_dict(old)
    assert explicit.llm_dtype == torch.float32 and {p.dtype for p in explicit.llm.parameters()} == {torch.float32}
