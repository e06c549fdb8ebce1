"""LSTM baselines: RecurrentPPO with each instruction encoder, caching, fine-tuning and checkpoints."""
import json
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.save_util import load_from_zip_file
from stable_baselines3.common.vec_env import DummyVecEnv
from transformers import T5Config

import gym_langrearrange  # noqa: F401
from agents.nn.llm import load_tokenizer
from agents.core.registry import load_agent
from agents.nn.backbone import load_backbone, tiny_llama_config
from agents.lstm import InstructionFrameExtractor, InstructionLstmPolicy, build_instruction_encoder, lstm_ppo_kwargs
from gym_langrearrange.wrappers import TokenizeInstruction

MAX_TOKENS = 24


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("smollm2-135m")


def make_venv(tokenizer, n=2, max_steps=6, image_size=32):
    def fn():
        env = gym.make("LangRearrange-v0", image_size=image_size, max_steps=max_steps)
        return TokenizeInstruction(env, tokenizer, MAX_TOKENS)

    return DummyVecEnv([fn] * n)


def tiny_config(encoder, tokenizer):
    if encoder == "t5":
        return T5Config(vocab_size=len(tokenizer), d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    return tiny_llama_config(hidden_size=32, layers=2, heads=2)


def tiny_model(venv, encoder, tokenizer, n_steps=8, **extractor):
    extractor = dict(encoder=encoder, encoder_config=tiny_config(encoder, tokenizer), **extractor)
    return RecurrentPPO(InstructionLstmPolicy, venv, **lstm_ppo_kwargs(venv.num_envs, n_steps=n_steps), seed=0,
                        policy_kwargs=dict(features_extractor_kwargs=extractor, lstm_hidden_size=32))


def rollout_actions(model, venv, steps=20):
    """Deterministic actions over `steps` vec-env steps, carrying the LSTM state across episodes."""
    state, starts = None, np.ones(venv.num_envs, dtype=bool)
    venv.seed(123)
    obs = venv.reset()
    actions = []
    for _ in range(steps):
        action, state = model.predict(obs, state=state, episode_start=starts, deterministic=True)
        actions.append(action.copy())
        obs, _, dones, _ = venv.step(action)
        starts = dones
    return np.stack(actions)


@pytest.mark.parametrize("encoder", ["llm-resampler", "llm-final", "t5"])
def test_learn_then_save_load_gives_identical_actions(tokenizer, encoder, tmp_path):
    venv = make_venv(tokenizer, n=4)
    model = tiny_model(venv, encoder, tokenizer, n_steps=16)
    model.learn(256)  # 4 rollouts of 4 x 16 steps: every env crosses an episode end (at most 32 steps)
    assert model.num_timesteps >= 256 and model._n_updates > 0
    model.save(tmp_path / "model.zip")
    loaded = RecurrentPPO.load(tmp_path / "model.zip", env=venv)
    np.testing.assert_array_equal(rollout_actions(model, venv), rollout_actions(loaded, venv))
    for (name, a), (_, b) in zip(model.policy.state_dict().items(), loaded.policy.state_dict().items()):
        assert torch.equal(a, b), name


class InstructionLog(BaseCallback):
    """Per rollout: how many instruction rows the language model encoded, and the distinct instructions seen."""

    def __init__(self, extractor):
        super().__init__()
        self.extractor, self.rollouts, self.rows = extractor, [], 0
        extractor.instruction.language_model.register_forward_pre_hook(self._count, with_kwargs=True)

    def _count(self, module, args, kwargs):
        if not torch.is_grad_enabled():  # rollouts run without gradients; PPO updates with them
            self.rows += int(kwargs["input_ids"].shape[0])

    def _seen(self, obs):
        self.instructions.update(row.tobytes() for row in obs["instruction"])

    def _on_rollout_start(self):
        self.rows, self.steps, self.instructions = 0, 0, set()
        self._seen(self.model._last_obs)

    def _on_step(self):
        self.steps += self.training_env.num_envs
        self._seen(self.locals["new_obs"])
        return True

    def _on_rollout_end(self):
        self.rollouts.append((self.rows, len(self.instructions), self.steps))


@pytest.mark.parametrize("encoder", ["llm-resampler", "llm-final"])
def test_instruction_is_encoded_once_per_episode_not_per_step(tokenizer, encoder):
    venv = make_venv(tokenizer, n=3, max_steps=4)
    model = tiny_model(venv, encoder, tokenizer, n_steps=12)
    log = InstructionLog(model.policy.features_extractor)
    model.learn(3 * 12 * 3, callback=log)
    assert len(log.rollouts) == 3
    for i, (rows, distinct, steps) in enumerate(log.rollouts):
        if encoder == "llm-final" or i == 0:
            # fine-tuned (or first rollout): every distinct instruction exactly once
            assert rows == distinct, log.rollouts
        else:
            # frozen LLM: its states are cached across updates too, only new instructions run
            assert rows <= distinct, log.rollouts
        assert rows < steps / 2  # 36 steps, episodes of 4 steps: at most 9 + 3 episodes


def test_update_pass_encodes_each_distinct_instruction_of_a_minibatch_once(tokenizer):
    venv = make_venv(tokenizer, n=2, max_steps=4)
    model = tiny_model(venv, "llm-final", tokenizer, n_steps=16)
    extractor = model.policy.features_extractor
    calls = []
    extractor.instruction.language_model.register_forward_pre_hook(
        lambda m, a, kw: calls.append(kw["input_ids"].shape[0]) if torch.is_grad_enabled() else None,
        with_kwargs=True)
    model.learn(32)
    assert calls, "the fine-tuned encoder must run with gradients in the update"
    assert max(calls) <= 2 * 32 // 4  # never the whole padded minibatch: distinct rows only


@pytest.mark.parametrize("encoder", ["t5", "llm-final"])
@pytest.mark.parametrize("finetune", [True, False])
def test_encoder_weights_change_only_when_fine_tuning(tokenizer, encoder, finetune):
    venv = make_venv(tokenizer)
    model = tiny_model(venv, encoder, tokenizer, finetune=finetune)
    extractor = model.policy.features_extractor
    before = {k: v.clone() for k, v in extractor.instruction.language_model.state_dict().items()}
    projection = extractor.instruction_proj[0].weight.clone()
    model.learn(64)
    after = extractor.instruction.language_model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    if finetune:
        assert len(changed) >= len(before) // 2, f"only {changed} changed"
    else:
        assert changed == []
    assert not torch.equal(projection, extractor.instruction_proj[0].weight)  # the rest trains either way


def test_pretrained_llm_is_neither_reinitialised_nor_checkpointed(tokenizer, tmp_path):
    """SB3's orthogonal init must not touch SmolLM2; a frozen SmolLM2 is reloaded, not saved."""
    venv = make_venv(tokenizer, n=1)
    model = RecurrentPPO(InstructionLstmPolicy, venv, **lstm_ppo_kwargs(1, n_steps=8), seed=0,
                         policy_kwargs=dict(features_extractor_kwargs=dict(encoder="llm-resampler"),
                                            lstm_hidden_size=32))
    fresh = load_backbone("smollm2-135m", dtype=torch.float32).decoder.state_dict()
    lm = model.policy.features_extractor.instruction.language_model.state_dict()
    assert fresh.keys() == lm.keys() and all(torch.equal(fresh[k], lm[k]) for k in fresh)
    model.learn(8)
    assert all(torch.equal(fresh[k], v) for k, v in lm.items())
    model.save(tmp_path / "model.zip")
    _, params, _ = load_from_zip_file(tmp_path / "model.zip")
    assert params["policy"] and not any("language_model" in k for k in params["policy"])
    assert (tmp_path / "model.zip").stat().st_size < 100e6  # adapters + Adam state; SmolLM2 alone is ~540 MB
    loaded = RecurrentPPO.load(tmp_path / "model.zip", env=venv)
    reloaded = loaded.policy.features_extractor.instruction.language_model.state_dict()
    assert all(torch.equal(fresh[k], reloaded[k]) for k in fresh)


def test_empty_instruction_rows_give_zeros_not_nans(tokenizer):
    encoder = build_instruction_encoder("llm-final", config=tiny_config("llm-final", tokenizer))
    tokens = torch.tensor([[5, 6, 7, 0], [0, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0]])
    out = encoder(tokens, mask)
    assert out.shape == (2, encoder.out_dim) and torch.isfinite(out).all()
    assert torch.equal(out[1], torch.zeros(encoder.out_dim)) and out[0].abs().sum() > 0
    out.sum().backward()  # gradients stay finite too
    assert all(torch.isfinite(p.grad).all() for p in encoder.parameters() if p.grad is not None)


@pytest.mark.parametrize("encoder", ["llm-resampler", "llm-final", "t5"])
def test_padding_columns_are_dropped_without_changing_the_encoding(tokenizer, encoder):
    """The language model runs only up to the last real token of the batch: the same encoding as over
    all columns, the same gradient when fine-tuning."""
    model = build_instruction_encoder(encoder, config=tiny_config(encoder, tokenizer)).eval()  # no dropout
    torch.manual_seed(0)
    tokens = torch.randint(5, 100, (3, 12))
    mask = (torch.arange(12)[None] < torch.tensor([[4], [7], [2]])).long()  # 5 columns of padding everywhere
    model.hidden_states = lambda t, m: model.language_model(input_ids=t, attention_mask=m).last_hidden_state
    full = model.encode(tokens, mask)
    del model.hidden_states  # back to the trimming method
    if encoder == "llm-resampler":
        model._states.clear()  # its frozen states are cached: compute them again
    calls = []
    hook = model.language_model.register_forward_pre_hook(lambda mod, args, kw: calls.append(kw["input_ids"].shape),
                                                          with_kwargs=True)
    trimmed = model.encode(tokens, mask)
    hook.remove()
    assert calls == [(3, 7)]
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=1e-5)
    assert model.hidden_states(tokens, mask).shape[1] == 12  # callers keep their (U, T, H) shape
    if encoder != "llm-resampler":  # fine-tuned: the gradient reaches the language model the same way
        trimmed.sum().backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.language_model.parameters())


def test_bad_encoder_options_are_named(tokenizer):
    with pytest.raises(ValueError, match="must be one of t5, llm-resampler, llm-final, got 'flan'"):
        build_instruction_encoder("flan")
    with pytest.raises(ValueError, match="keeps the LLM frozen"):
        build_instruction_encoder("llm-resampler", finetune=True)
    with pytest.raises(ValueError, match="must divide into 4 minibatches"):
        lstm_ppo_kwargs(n_envs=3, n_steps=3)
    raw_space = gym.make("LangRearrange-v0", image_size=32).observation_space
    with pytest.raises(ValueError, match="no 'instruction_mask'.*TokenizeInstruction"):
        InstructionFrameExtractor(raw_space, encoder="t5", encoder_config=tiny_config("t5", tokenizer))


def test_train_script_resumes_and_its_checkpoint_evaluates(tmp_path):
    out = tmp_path / "run"
    common = [sys.executable, "-m", "agents.lstm.train", "--encoder", "t5", "--encoder-model", "tiny", "--envs", "2",
              "--n-steps", "16", "--image-size", "32", "--max-tokens", "24", "--ent-coef", "0.05", "--out", str(out)]
    subprocess.run(common + ["--steps", "128", "--eval-episodes", "0"], check=True, capture_output=True)
    meta = json.loads((out / "checkpoint" / "agent.json").read_text())
    assert meta["num_timesteps"] == 128 and meta["name"] == "lstm-t5[tiny]" and meta["train_seconds"] > 0
    zip_before = (out / "checkpoint" / "model.zip").read_bytes()
    clash = subprocess.run(common + ["--steps", "192", "--resume", "--ent-coef", "0.01", "--lr", "0.001"],
                           capture_output=True, text=True)
    assert clash.returncode == 2 and "Traceback" not in clash.stderr  # one line, as every refused command
    assert clash.stderr.strip().splitlines()[-1].startswith("python -m agents.lstm.train: error: resuming ")
    assert "--ent-coef 0.01 (checkpoint: 0.05)" in clash.stderr and "--lr 0.001 (checkpoint: 0.0003)" in clash.stderr
    assert (out / "checkpoint" / "model.zip").read_bytes() == zip_before
    done = subprocess.run(common + ["--steps", "192", "--resume", "--eval-episodes", "2", "--eval-datasets", "train"],
                          check=True, capture_output=True, text=True)
    assert "resumed from" in done.stdout and "at 128 steps" in done.stdout
    assert json.loads((out / "checkpoint" / "agent.json").read_text())["num_timesteps"] == 192
    summary = json.loads((out / "eval" / "summary.json").read_text())
    assert summary["summary"]["train"]["episodes"] == 2
    agent = load_agent(str(out / "checkpoint"))
    assert agent.name == "lstm-t5[tiny]" and agent.needs_rgb
    assert load_from_zip_file(out / "checkpoint" / "model.zip")[0]["ent_coef"] == 0.05
