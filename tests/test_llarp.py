import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import gym_langrearrange  # noqa: F401
from agents.core.agent import SB3Agent
from agents.nn.llm import load_tokenizer
from agents.llarp import LLaRP, StepContext, tiny_llama_config
from agents.llarp.diagnostics import rollout_update_gap
from gym_langrearrange.wrappers import ActionMaskObservation, TokenizeInstruction


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("smollm2-135m")


def make_venv(tokenizer, n=3, max_steps=5, cls=DummyVecEnv, action_mask=False):
    def fn():
        env = TokenizeInstruction(gym.make("LangRearrange-v0", image_size=32, max_steps=max_steps), tokenizer, 24)
        return ActionMaskObservation(env) if action_mask else env

    return cls([fn] * n)


def tiny_model(venv, prefix_context="recompute", **policy_kwargs):
    kwargs = dict(backbone_config=tiny_llama_config(), llm_dtype="float32")
    kwargs.update(policy_kwargs)
    return LLaRP("LLaRPPolicy", venv, n_steps=8, n_minibatches=2, seed=0, prefix_context=prefix_context,
                 policy_kwargs=kwargs)


@pytest.mark.parametrize("policy_kwargs", [{}, {"tokens_per_step": 2, "proprio": "token"}])
def test_cached_rollout_equals_parallel_update_pass(tokenizer, policy_kwargs):
    """Episodes of <= 5 steps in rollouts of 8 steps: chunks cross episode and rollout boundaries."""
    venv = make_venv(tokenizer)
    model = tiny_model(venv, **policy_kwargs)
    gap = rollout_update_gap(model, rollouts=3, minibatches=2)
    assert gap.continued > 0, "some episodes must continue from one rollout into the next"
    assert gap.log_prob <= 1e-4 and gap.value <= 1e-4


def test_action_mask_samples_only_valid_skills_in_rollout_and_update(tokenizer):
    """With ``action_mask`` observations every sampled skill is valid, and the update pass scores
    each step under the mask its rollout used (same log-probs), so PPO stays on-policy."""
    venv = make_venv(tokenizer, action_mask=True)
    model = tiny_model(venv)
    gap = rollout_update_gap(model, rollouts=2, minibatches=2)
    assert gap.log_prob <= 1e-4 and gap.value <= 1e-4
    buffer = model.rollout_buffer
    masks, actions = buffer.observations["action_mask"], buffer.actions.reshape(buffer.buffer_size, -1)
    taken = np.take_along_axis(masks, actions[..., None].astype(int), axis=2)
    assert taken.all(), "a masked-out skill was sampled"
    assert masks.sum(-1).max() < masks.shape[-1]  # the masks did rule skills out
    # control: without the mask the same policy puts most of its probability on invalid skills
    first = {k: torch.as_tensor(v[0]) for k, v in buffer.observations.items() if k != "action_mask"}
    with torch.no_grad():
        logits, _, _ = model.policy.act(first, StepContext.empty(3, torch.device("cpu")), torch.ones(3, dtype=torch.bool))
    assert (logits.softmax(-1) * torch.as_tensor(1 - masks[0])).sum(-1).min() > 0.5
    # agents.evaluate's SB3Agent hands the env's mask (from info) to a masked model
    env = gym.make("LangRearrange-v0", image_size=32, max_steps=5)
    agent = SB3Agent(model, obs_transform=venv.envs[0].get_wrapper_attr("instruction_tokenizer").transform)
    obs, info = env.reset(seed=0)
    agent.reset(obs, info)
    for _ in range(5):
        action = agent.act(obs, info)
        assert info["action_mask"][action]
        obs, _, _, _, info = env.step(action)


@pytest.mark.parametrize("context_steps", [32, 3])
def test_attention_never_crosses_episode_boundaries(tokenizer, context_steps):
    """Also with episodes longer than the context window (6 and 5 steps against 3)."""
    venv = make_venv(tokenizer, n=1)
    model = tiny_model(venv, context_steps=context_steps)
    policy = model.policy.eval()
    space = venv.observation_space

    def obs():
        o = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in space.sample().items()}
        o["instruction_mask"][:] = 0
        o["instruction_mask"][:, :6] = 1
        return o

    old_a, old_b = [obs() for _ in range(6)], [obs() for _ in range(6)]
    new_episode = [obs() for _ in range(5)]

    def later_outputs(old, boundary: bool):
        ctx = StepContext.empty(1, torch.device("cpu"))
        out = []
        with torch.no_grad():
            for t, o in enumerate(old + new_episode):
                start = torch.tensor([t == 0 or (boundary and t == len(old))])
                logits, values, ctx = policy.act(o, ctx, start)
                if t >= len(old):
                    out.append(torch.cat([logits, values[:, None]], 1))
        return torch.cat(out)

    assert not torch.equal(old_a[0]["rgb"], old_b[0]["rgb"])  # the earlier episodes differ
    assert torch.equal(later_outputs(old_a, True), later_outputs(old_b, True))
    # control: within one episode the earlier frames do reach the later outputs
    assert not torch.allclose(later_outputs(old_a, False), later_outputs(old_b, False))


def test_act_never_modifies_the_context_it_extends(tokenizer):
    """``predict`` may reuse a state: extending a context twice gives the same outputs, and the context is
    intact; rollouts (``in_place=True``) write into their context and get the same outputs."""
    venv = make_venv(tokenizer, n=2)
    policy = tiny_model(venv).policy.eval()
    obs = [{k: torch.as_tensor(np.asarray(v)) for k, v in venv.reset().items()} for _ in range(3)]
    ctx = StepContext.empty(2, torch.device("cpu"))
    with torch.no_grad():
        for t, o in enumerate(obs[:2]):
            _, _, ctx = policy.act(o, ctx, torch.tensor([t == 0] * 2))
        before = ctx.clone()
        first = policy.act(obs[2], ctx, torch.tensor([False, True]))
        second = policy.act(obs[2], ctx, torch.tensor([False, True]))
        assert torch.equal(ctx.kv, before.kv) and torch.equal(ctx.count, before.count)
        in_place = policy.act(obs[2], ctx, torch.tensor([False, True]), in_place=True)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert torch.equal(first[0], in_place[0]) and torch.equal(first[1], in_place[1])
    assert in_place[2] is ctx and torch.equal(ctx.count, first[2].count)
    assert first[2].count[0] == before.count[0] + 1  # env 0 continued with one more token
    visible = first[2].visible.bool()  # kv is (layers, 2, envs, heads, columns, head_dim)
    assert torch.equal(ctx.kv.permute(2, 4, 0, 1, 3, 5)[visible], first[2].kv.permute(2, 4, 0, 1, 3, 5)[visible])


def test_context_capacity_grows_and_shrinks_keeping_every_episode(tokenizer):
    """Without a window, rollout buffers are reallocated in blocks: every env's columns survive both ways,
    and a longer instruction moves the step region without losing a step."""
    policy = tiny_model(make_venv(tokenizer, n=2), context_steps=None).policy
    ctx = StepContext.empty(2, torch.device("cpu"))
    policy._reserve(ctx, 8, 40)
    assert ctx.kv.shape[4] == 8 + 64 and ctx.kv.shape[2] == 2 and ctx.base == 8
    ctx.kv.normal_()
    ctx.pos[:, :8] = torch.arange(8)
    ctx.pos[:, 8:] = torch.arange(8, 72)
    grown = ctx.clone()
    policy._reserve(grown, 12, 150)  # a longer instruction and more steps
    assert grown.kv.shape[4] == 12 + 160 and grown.base == 12
    assert torch.equal(grown.kv[..., :8, :], ctx.kv[..., :8, :])
    assert torch.equal(grown.kv[..., 12:12 + 64, :], ctx.kv[..., 8:, :])
    assert torch.equal(grown.pos[:, 12:12 + 64], ctx.pos[:, 8:]) and (grown.pos[:, 8:12] == -1).all()
    policy._reserve(grown, 12, 6)  # far more room than needed: shrink to one block
    assert grown.kv.shape[4] == 12 + 32 and torch.equal(grown.kv[..., 12:17, :], ctx.kv[..., 8:13, :])


def window_model(tokenizer, n=2, max_steps=7, layers=2, **kwargs):
    venv = make_venv(tokenizer, n=n, max_steps=max_steps)
    return tiny_model(venv, backbone_config=tiny_llama_config(layers=layers), context_steps=3, **kwargs)


@pytest.mark.parametrize("prefix_context", ["recompute", "cached"])
@pytest.mark.parametrize("policy_kwargs", [{}, {"tokens_per_step": 2, "proprio": "token"}])
def test_rollout_equals_update_pass_with_episodes_longer_than_the_window(tokenizer, policy_kwargs, prefix_context):
    """Episodes of 7 steps, a window of 3, rollouts of 8: windows cross rollout boundaries (the rollout
    starts from a context rebuilt from the last 2 steps, or kept from the last rollout), segments are
    longer than the window (the update pass's banded mask), and the numbers still agree."""
    model = window_model(tokenizer, n=3, prefix_context=prefix_context, **policy_kwargs)
    gap = rollout_update_gap(model, rollouts=4, minibatches=2)
    assert gap.log_prob <= 1e-4 and gap.value <= 1e-4
    assert gap.continued > 0
    buffer = model.rollout_buffer
    if prefix_context == "recompute":
        assert max(len(p) for p in buffer.prefix) == 2  # the history is cut to the window minus one
    else:
        assert buffer.context is not None and not any(buffer.prefix)  # keys/values instead of frames
    assert buffer.prefix_first.max() > 0  # a prefix that starts inside its episode
    assert max(b - a for _, a, b in buffer.segments()) > 3  # a segment longer than the window


def test_a_cached_prefix_gets_no_gradient_and_learning_works(tokenizer):
    """prefix_context="cached" trains (adapters change) and its stored context carries no graph."""
    model = window_model(tokenizer, n=2, prefix_context="cached")
    before = {k: v.detach().clone() for k, v in model.policy.named_parameters() if not k.startswith("llm.")}
    model.learn(48)
    assert model.rollout_buffer.context is not None and not model.rollout_buffer.context.kv.requires_grad
    assert all(not torch.equal(dict(model.policy.named_parameters())[k], v) for k, v in before.items())
    with pytest.raises(ValueError, match="prefix_context must be one of recompute, cached, got 'stale'"):
        tiny_model(make_venv(tokenizer), prefix_context="stale")


def test_the_window_bounds_what_a_step_sees_and_the_memory(tokenizer):
    """With one LLM layer, a step's output depends on the instruction and its last 3 frames only (with
    more layers older frames reach it through the keys, as in any sliding-window transformer); the
    cache stays at instruction + 3 steps over a 60-step episode."""
    space = make_venv(tokenizer, n=1).observation_space
    rng = np.random.default_rng(0)

    def frames(k):
        return [torch.as_tensor(rng.integers(0, 256, (1, *space["rgb"].shape), dtype=np.uint8)) for _ in range(k)]

    fixed = {k: torch.as_tensor(np.asarray(v)[None]) for k, v in space.sample().items() if k != "rgb"}
    fixed["instruction_mask"][:] = 0
    fixed["instruction_mask"][:, :5] = 1

    def outputs(policy, episode):
        ctx = StepContext.empty(1, torch.device("cpu"))
        with torch.no_grad():
            for t, rgb in enumerate(episode):
                logits, values, ctx = policy.act({**fixed, "rgb": rgb}, ctx, torch.tensor([t == 0]))
        return torch.cat([logits, values[:, None]], 1), ctx

    shallow = window_model(tokenizer, n=1, layers=1).policy.eval()
    recent = frames(3)
    a, ctx = outputs(shallow, frames(57) + recent)
    b, _ = outputs(shallow, frames(57) + recent)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)  # the 57 frames before the window do not matter
    assert ctx.kv.shape[4] == ctx.base + 3 and int(ctx.count[0]) == int(ctx.instruction[0]) + 60
    # control: a frame inside the window does matter
    c, _ = outputs(shallow, frames(57) + frames(1) + recent[1:])
    assert not torch.allclose(a, c)
    # with two layers, older frames reach the output through the keys of the window's steps
    deep = window_model(tokenizer, n=1, layers=2).policy.eval()
    assert not torch.allclose(outputs(deep, frames(57) + recent)[0], outputs(deep, frames(57) + recent)[0])


def test_bad_instruction_layouts_are_refused_with_a_clear_error(tokenizer):
    venv = make_venv(tokenizer, n=1)
    policy = tiny_model(venv).policy.eval()
    ids, mask = torch.randint(0, 1000, (1, 6)), torch.tensor([[0, 0, 1, 1, 1, 1]])
    with pytest.raises(ValueError, match="instruction_mask must be left-aligned"):
        policy.encode_instruction(ids, mask)
    # an episode longer than a sliding-window LLM's window (Gemma-3: 512) would differ from the update pass
    policy.llm.config.sliding_window = 4
    obs = {k: torch.as_tensor(np.asarray(v)) for k, v in venv.reset().items()}
    with torch.no_grad(), pytest.raises(ValueError, match="exceeds the LLM's sliding window of 4 tokens"):
        policy.act(obs, StepContext.empty(1, torch.device("cpu")), torch.tensor([True]))


def test_frozen_llm_encodes_each_distinct_instruction_once(tokenizer):
    """The cached instruction keys/values equal a fresh LLM pass, and repeats never reach the LLM."""
    venv = make_venv(tokenizer)
    policy = tiny_model(venv).policy.eval()
    ids = torch.randint(0, 1000, (4, 10))
    mask = torch.zeros(4, 10, dtype=torch.long)
    for row, length in enumerate([10, 3, 7, 3]):
        mask[row, :length] = 1
    ids[3] = ids[1]  # rows 1 and 3 are the same instruction
    with torch.no_grad():
        cached = policy.encode_instruction(ids, mask)
        assert policy._instruction_kv.computed_rows == 3
        again = policy.encode_instruction(ids[[3, 0]], mask[[3, 0]])
        policy.encode_instruction(ids[[1]], mask[[1]])  # the same instruction trimmed to 3 columns
        assert policy._instruction_kv.computed_rows == 3  # nothing new: the LLM did not run
        direct = policy._run_instruction(ids, mask)
    assert torch.equal(cached.visible, direct.visible) and torch.equal(cached.count, direct.count)
    visible = direct.visible.bool()  # (rows, columns); kv is (layers, 2, rows, heads, columns, head_dim)
    by_column = (2, 4, 0, 1, 3, 5)
    torch.testing.assert_close(cached.kv.permute(by_column)[visible], direct.kv.permute(by_column)[visible],
                               atol=1e-5, rtol=1e-5)
    # a hit returns the very same numbers: again's rows are instructions 3 (= 1, 3 tokens) and 0 (10 tokens)
    assert torch.equal(again.kv[:, :, 1], cached.kv[:, :, 0])
    assert torch.equal(again.kv[:, :, 0, :, :3], cached.kv[:, :, 1, :, :3])


def test_learn_changes_adapters_not_the_frozen_llm(tokenizer):
    venv = make_venv(tokenizer)
    model = tiny_model(venv)
    before = {k: v.detach().clone() for k, v in model.policy.named_parameters()}
    model.learn(48)
    llm = [k for k in before if k.startswith("llm.")]
    adapters = [k for k in before if not k.startswith("llm.")]
    params = dict(model.policy.named_parameters())
    assert llm and all(torch.equal(params[k], before[k]) for k in llm)
    assert all(not torch.equal(params[k], before[k]) for k in adapters)


def test_scratch_trains_every_weight(tokenizer):
    venv = make_venv(tokenizer)
    model = tiny_model(venv, pretrained=False)
    before = {k: v.detach().clone() for k, v in model.policy.named_parameters()}
    model.learn(48)
    params = dict(model.policy.named_parameters())
    unchanged = [k for k in before if torch.equal(params[k], before[k])]
    assert not unchanged, unchanged


def test_save_load_gives_identical_actions(tokenizer, tmp_path):
    venv = make_venv(tokenizer)
    model = tiny_model(venv)
    model.learn(24)
    model.save(tmp_path / "llarp")
    loaded = LLaRP.load(tmp_path / "llarp", env=venv)
    obs = venv.reset()
    state_a = state_b = None
    starts = np.ones(3, dtype=bool)
    for _ in range(6):
        a, state_a = model.predict(obs, state=state_a, episode_start=starts, deterministic=True)
        b, state_b = loaded.predict(obs, state=state_b, episode_start=starts, deterministic=True)
        assert np.array_equal(a, b)
        obs, _, dones, _ = venv.step(a)
        starts = dones


def test_subproc_vec_env(tokenizer):
    venv = make_venv(tokenizer, n=2, cls=SubprocVecEnv)
    model = tiny_model(venv)
    model.learn(32)
    assert model.num_timesteps >= 32
    venv.close()


def test_huber_value_loss_is_what_the_update_minimises(tokenizer, tmp_path):
    """value_loss="huber" (the paper's Atari recipe, C.6) is torch's Huber loss (below the squared error
    once errors exceed 1); a model trains with it, and keeps it through save/load."""
    import torch.nn.functional as F

    from agents.llarp.algorithm import VALUE_LOSSES

    errors = torch.tensor([0.5, 3.0, -10.0])
    huber = F.huber_loss(errors, torch.zeros(3)).item()
    assert VALUE_LOSSES["huber"](errors, torch.zeros(3)).item() == pytest.approx(huber)
    assert VALUE_LOSSES["huber"](errors, torch.zeros(3)) < VALUE_LOSSES["mse"](errors, torch.zeros(3))
    venv = make_venv(tokenizer)
    model = LLaRP("LLaRPPolicy", venv, n_steps=8, n_minibatches=2, seed=0, value_loss="huber",
                  policy_kwargs=dict(backbone_config=tiny_llama_config(), llm_dtype="float32", visual_dim=32,
                                     action_hidden=32))
    model.learn(24)
    model.save(tmp_path / "huber")
    assert LLaRP.load(tmp_path / "huber", env=venv).value_loss == "huber"
    with pytest.raises(ValueError, match="value_loss must be one of mse, huber, got 'l1'"):
        LLaRP("LLaRPPolicy", venv, value_loss="l1", policy_kwargs=dict(backbone_config=tiny_llama_config()))
