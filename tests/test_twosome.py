"""TWOSOME's policy and PPO: exact action scores, masks, what learns, save/load, token boundaries, bad input."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

import gym_langrearrange  # noqa: F401  (registers the ids)
from agents.nn.backbone import tiny_llama_config
from agents.nn.llm import load_tokenizer
from agents.twosome.algorithm import TWOSOME, MacroRolloutBuffer
from agents.twosome.policy import TwosomePolicy
from agents.twosome.prefix_tree import pack_prefix_trees
from agents.twosome.prompts import TokenizedActions, read_text_task
from agents.twosome.retention import QUESTIONS, choice_accuracy, measure
from gym_langrearrange.twosome import TASKS

OPTIMAL = {"TWOSOME/TomatoSalad-v0": [0, 2, 4, 0, 1, 3], "TWOSOME/TomatoLettuceSalad-v0": [0, 4, 7, 1, 5, 7, 3, 1, 0, 6],
           "TWOSOME/FoodPreparation-v0": [4, 6, 5, 8, 7, 9],
           "TWOSOME/Entertainment-v0": [4, 9, 5, 10, 0, 6, 11, 7, 13, 8, 15]}


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer()


def tokenized(env_id, tokenizer, **kwargs):
    return TokenizedActions(gym.make(env_id, obs_mode="text"), tokenizer, **kwargs)


def observations(env_id, tokenizer, n=3):
    """A batch of tokenized observations along the optimal episode (the states vary, and so do the valid sets)."""
    env = tokenized(env_id, tokenizer)
    obs, _ = env.reset()
    batch = [obs]
    for a in OPTIMAL[env_id][:n - 1]:
        obs, *_ = env.step(a)
        batch.append(obs)
    return env, {k: np.stack([o[k] for o in batch]) for k in batch[0]}


def make_policy(env, **kwargs):
    torch.manual_seed(0)
    return TwosomePolicy(env.observation_space, env.action_space, lambda _: 1e-4, model_config=tiny_llama_config(),
                         llm_dtype="float32", **kwargs)


def reference_scores(policy, batch, normalisation):
    """Each candidate alone: its unpadded prompt + action through the LLM, no cache, no batching."""
    out = np.full(batch["valid"].shape, np.nan)
    for i in range(len(batch["valid"])):
        prompt = batch["prompt_ids"][i][batch["prompt_mask"][i] == 1]
        for a in np.flatnonzero(batch["valid"][i]):
            action = batch["action_ids"][i, a][batch["action_token_mask"][i, a] == 1]
            ids = torch.as_tensor(np.concatenate([prompt, action]))[None]
            with torch.no_grad():
                logp = torch.log_softmax(policy.llm(input_ids=ids).logits[0].float(), -1)
            total = sum(logp[len(prompt) - 1 + j, action[j]].item() for j in range(len(action)))
            out[i, a] = total / {"none": 1, "token": len(action), "word": batch["action_words"][i, a]}[normalisation]
    return out


def summed_tokens(batch, normalisation):
    """How many token log-probs each score adds up, after its normalisation (the fp32 error grows with it)."""
    n_tokens = batch["action_token_mask"].sum(-1)
    divisor = {"none": 1, "token": n_tokens, "word": batch["action_words"]}[normalisation]
    return n_tokens / np.maximum(divisor, 1)  # padded (invalid) slots have no tokens and no words


@pytest.mark.parametrize("normalisation", ["word", "token", "none"])
@pytest.mark.parametrize("env_id", ["TWOSOME/TomatoLettuceSalad-v0", "TWOSOME/Entertainment-v0"])
def test_scores_equal_an_independent_forward_pass_per_candidate(tokenizer, env_id, normalisation, monkeypatch):
    env, batch = observations(env_id, tokenizer)
    policy = make_policy(env, normalisation=normalisation)
    expected = reference_scores(policy, batch, normalisation)
    obs, _ = policy.obs_to_tensor(batch)
    valid = batch["valid"] == 1
    assert (~valid).any() == ("Entertainment" in env_id)  # the household tasks mask actions, the salads do not
    # packed prefix trees (one tree for the batch, then one per prompt), and one sequence per candidate
    for reuse, packed_nodes in ((True, 512), (True, 16), (False, 512)):
        policy.prompt_reuse = reuse
        monkeypatch.setattr("agents.twosome.policy.PACKED_NODES", packed_nodes)
        with torch.no_grad():
            got = policy.action_logits(obs).numpy()
        # 1e-5 for each token log-prob the score sums: the two paths add the same fp32 terms in another order
        tolerance = 1e-5 * np.maximum(summed_tokens(batch, normalisation), 1)
        assert (np.abs(got - expected)[valid] <= tolerance[valid]).all(), np.abs(got - expected)[valid].max()
        probs = policy.action_probabilities(batch)
        assert (probs[~valid] == 0).all() and np.allclose(probs.sum(1), 1)


def test_each_distinct_decision_is_scored_once_a_batch_and_once_a_rollout(tokenizer):
    env, batch = observations("TWOSOME/Entertainment-v0", tokenizer)  # 3 distinct decisions
    twice = {k: np.concatenate([v, v[::-1]]) for k, v in batch.items()}  # 6 rows: each decision twice
    policy = make_policy(env)
    scored, score_rows = [], policy._score_rows
    policy._score_rows = lambda obs: scored.append(len(obs["valid"])) or score_rows(obs)
    obs, _ = policy.obs_to_tensor(twice)
    logits = policy.action_logits(obs)  # with gradients, as in the update
    assert scored == [3]
    assert torch.equal(logits[:3], logits[3:].flip(0))
    every_row = score_rows(obs)  # no deduplication: all 6 rows through the LLM
    torch.testing.assert_close(logits, every_row, rtol=0, atol=1e-5)
    # the gradient of a loss over the batch is the same: a repeated decision adds its terms up in one row
    weights = torch.randn(logits.shape).masked_fill(obs["valid"] == 0, 0)
    lora = policy.lora_parameters()
    deduplicated = torch.autograd.grad((logits * weights).sum(), lora)
    direct = torch.autograd.grad((every_row * weights).sum(), lora)
    for got, want in zip(deduplicated, direct):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)
    with torch.no_grad(), policy.fixed_weights():
        kept = policy.action_logits(obs)
        again = policy.action_logits({k: v[:2] for k, v in obs.items()})
    assert scored == [3, 3] and torch.equal(kept, logits.detach()) and torch.equal(again, kept[:2])
    with torch.no_grad():
        policy.action_logits(obs)  # outside a rollout nothing is kept
    assert scored == [3, 3, 3]


def test_prefix_trees_hold_each_distinct_prefix_once():
    prompts = [[5, 6, 7, 8], [5, 6, 9], [5, 6, 7, 8]]  # the first and last are the same prompt
    branches = [(0, [1, 2]), (0, [1, 3]), (0, []), (1, [1, 2]), (2, [4])]
    forest = pack_prefix_trees(prompts, branches, max_nodes=64)
    assert forest.pack == [0] * 5
    # 5 6 7 8 | 1 2 | 3 | 9 | 1 2 | 4: shared openings and repeated prompts add no node
    assert forest.ids.tolist() == [[5, 6, 7, 8, 1, 2, 3, 9, 1, 2, 4]]
    assert forest.positions.tolist() == [[0, 1, 2, 3, 4, 5, 5, 2, 3, 4, 4]]
    assert forest.nodes == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 3, 4, 6], [0, 1, 2, 3], [0, 1, 7, 8, 9], [0, 1, 2, 3, 10]]
    for path in forest.nodes:  # a token sees exactly its own prefix
        last = path[-1]
        assert forest.sees[0, last].nonzero().flatten().tolist() == sorted(path)
    split = pack_prefix_trees(prompts, branches, max_nodes=8)  # a tree per prompt group that fits
    assert split.pack == [0, 0, 0, 1, 2] and split.ids.shape == (3, 7)
    assert split.ids[1, :5].tolist() == [5, 6, 9, 1, 2] and split.sees[1, 5:, 0].all()  # padding sees node 0


def test_learn_trains_lora_and_value_head_only_and_save_load_keeps_the_policy(tokenizer, tmp_path):
    venv = DummyVecEnv([lambda: tokenized("TWOSOME/TomatoSalad-v0", tokenizer)] * 2)
    model = TWOSOME("TwosomePolicy", venv, n_steps=8, learning_rate=1e-3, value_learning_rate=1e-3, seed=0,
                    policy_kwargs={"model_config": tiny_llama_config(), "llm_dtype": "float32"})
    before = {k: v.detach().clone() for k, v in model.policy.state_dict().items()}
    model.learn(32)
    after = model.policy.state_dict()
    frozen = [k for k in after if k.startswith("llm.") and "lora_" not in k]
    lora = [k for k in after if "lora_" in k]
    head = [k for k in after if k.startswith("value_net.")]
    assert frozen and lora and head
    assert all(torch.equal(before[k], after[k]) for k in frozen), "the frozen backbone changed"
    assert any(not torch.equal(before[k], after[k]) for k in lora), "no LoRA weight changed"
    assert all(not torch.equal(before[k], after[k]) for k in head), "the value head did not learn"
    assert model.logger.name_to_value["train/actor_steps"] >= 1
    model.save(tmp_path / "twosome.zip")
    loaded = TWOSOME.load(tmp_path / "twosome.zip", env=venv)
    obs = venv.reset()
    np.testing.assert_array_equal(model.policy.action_probabilities(obs), loaded.policy.action_probabilities(obs))
    actions, _ = loaded.predict(obs, deterministic=True)
    assert actions.shape == (2,) and obs["valid"][np.arange(2), actions].all()


DOORS = ("open the red door", "open the blue door", "open the green door")


class Doors(gym.Env):
    """One decision, three action texts; only the blue door pays."""

    observation_space = gym.spaces.Dict({"text": gym.spaces.Text(64)})
    action_space = gym.spaces.Discrete(3)
    PROMPT = "Three doors stand before you. You decide to"

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return {"text": self.PROMPT}, {"action_texts": DOORS, "action_mask": np.ones(3, bool)}

    def step(self, action):
        return ({"text": self.PROMPT}, float(action == 1), True, False,
                {"action_texts": DOORS, "action_mask": np.ones(3, bool)})


def test_the_update_moves_probability_to_the_rewarded_action_text(tokenizer):
    """The sign of the whole update (scores, advantages, clipped objective, LoRA step): PPO on a one-step
    choice raises the rewarded text's probability from about a third to over a half."""
    venv = DummyVecEnv([lambda: TokenizedActions(Doors(), tokenizer, max_prompt_tokens=16, max_action_tokens=8)] * 4)
    torch.manual_seed(0)
    model = TWOSOME("TwosomePolicy", venv, learning_rate=1e-2, value_learning_rate=1e-3, n_steps=8, seed=0,
                    anneal_lr=False, policy_kwargs=dict(model_config=tiny_llama_config(), llm_dtype="float32"))
    obs = model.policy.obs_to_tensor(venv.reset())[0]

    def probs():
        with torch.no_grad():
            return model.policy.distribution(obs).probs[0]

    before = probs()
    assert abs(before[1].item() - 1 / 3) < 0.05
    model.learn(32 * 15)  # 15 rollouts of 4 x 8, one actor step each
    after = probs()
    assert after[1] > 0.45 and after[1] > before[1] + 0.1 and after.argmax() == 1, (before, after)


def test_gae_discounts_each_macro_by_gamma_to_its_duration():
    space = gym.spaces.Dict({"x": gym.spaces.Box(0, 1, (1,))})
    buffer = MacroRolloutBuffer(3, space, gym.spaces.Discrete(2), gamma=0.9, gae_lambda=0.5, n_envs=1)
    buffer.reset()
    for t, (r, v, k, start) in enumerate([(1.0, 0.5, 2, 1.0), (0.0, 0.2, 3, 0.0), (2.0, 0.1, 1, 1.0)]):
        buffer.discounts[t] = 0.9 ** k
        buffer.add({"x": np.zeros((1, 1))}, np.zeros((1, 1)), np.array([r]), np.array([start]),
                   torch.tensor([v]), torch.zeros(1))
    buffer.compute_returns_and_advantage(torch.tensor([0.7]), np.array([False]))
    # by hand: step 2 bootstraps from 0.7 after 1 primitive step; step 1 ends its episode (step 2 starts one)
    a2 = 2.0 + 0.9 * 0.7 - 0.1
    a1 = 0.0 - 0.2
    d0 = 1.0 + 0.81 * 0.2 - 0.5
    a0 = d0 + 0.81 * 0.5 * a1
    np.testing.assert_allclose(buffer.advantages[:, 0], [a0, a1, a2], rtol=1e-6)


@pytest.mark.parametrize("model", ["smollm2-135m", "gemma3-270m"])
def test_action_tokens_are_exactly_the_action_text(model):
    """For every prompt and valid action along the four optimal episodes, the scored tokens decode to the text."""
    tok = load_tokenizer(model)
    checked = 0
    for env_id in TASKS:
        env = tokenized(env_id, tok)
        obs, info = env.reset()
        for a in [*OPTIMAL[env_id], None]:
            texts, valid = info["action_texts"], obs["valid"]
            for b in np.flatnonzero(valid):
                ids = obs["action_ids"][b][obs["action_token_mask"][b] == 1]
                assert tok.decode(ids).strip() == texts[b]
                checked += 1
            if a is not None:
                obs, _, _, _, info = env.step(a)
    assert checked > 100


class _MergingTokenizer:
    """A tokenizer that glues the last prompt word to the first action word (no token boundary)."""

    name_or_path = "merging"

    def __init__(self):
        self.vocabulary: dict[str, int] = {}  # word -> id, in order of first use: distinct words, distinct ids

    def __len__(self):
        return 10_000

    def __call__(self, text):
        words = text.replace("to pick", "topick").split()
        return {"input_ids": [self.vocabulary.setdefault(w, len(self.vocabulary)) for w in words]}


def test_bad_input_is_a_clear_error(tokenizer):
    env = TokenizedActions(gym.make("TWOSOME/TomatoSalad-v0", obs_mode="text"), _MergingTokenizer())
    with pytest.raises(ValueError, match="do not begin with the prompt's own tokens"):
        env.reset()
    env = tokenized("TWOSOME/TomatoSalad-v0", tokenizer)
    with pytest.raises(ValueError, match="normalisation must be one of word, token, none; got 'chars'"):
        make_policy(env, normalisation="chars")
    obs, info = env.env.reset()
    with pytest.raises(ValueError, match="no valid action"):
        env.tokens.encode(*read_text_task(obs, {**info, "action_mask": np.zeros(5, bool)}))
    _, batch = observations("TWOSOME/TomatoSalad-v0", tokenizer, n=2)
    batch["valid"][1] = 0
    policy = make_policy(env)
    with pytest.raises(ValueError, match="row 1 .* no valid action"):
        policy.action_logits(policy.obs_to_tensor(batch)[0])
    with pytest.raises(ValueError, match="max_prompt_tokens=8"):
        tokenized("TWOSOME/TomatoSalad-v0", tokenizer, max_prompt_tokens=8).reset()


def test_training_cli_runs_resumes_and_scores(tmp_path, capsys):
    from agents.twosome.train import main

    out = tmp_path / "ts"
    common = ["--task", "tomato-salad", "--model", "tiny-llama", "--dtype", "float32", "--steps", "64",
              "--n-steps", "8", "--eval-episodes", "2", "--threads", "1", "--out", str(out)]
    main(common)
    scores = __import__("json").loads((out / "scores.json").read_text())
    assert scores["episodes"] == 2 and scores["steps"] == 64 and 0 <= scores["success"] <= 1
    main([*common, "--resume"])
    assert "nothing to train" in capsys.readouterr().out
    main(["--task", "food-preparation", "--method", "ppo", "--steps", "512", "--eval-episodes", "2", "--threads", "1",
          "--out", str(tmp_path / "ppo")])
    assert __import__("json").loads((tmp_path / "ppo" / "scores.json").read_text())["method"] == "ppo"


def test_uniform_reference_draws_only_valid_actions(tmp_path):
    import json

    import numpy as np

    from agents.twosome.baseline import UniformValidActions
    from agents.twosome.train import main

    policy, mask = UniformValidActions(seed=1), np.array([0, 1, 0, 1, 1, 0], dtype=bool)
    drawn = {policy.predict(None, action_masks=mask)[0] for _ in range(200)}
    assert drawn == {1, 3, 4}  # every valid action, and nothing else
    with pytest.raises(ValueError, match="at least one valid action"):
        policy.predict(None, action_masks=np.zeros(6, dtype=bool))
    main(["--task", "food-preparation", "--method", "random", "--eval-episodes", "40", "--out", str(tmp_path / "r")])
    scores = json.loads((tmp_path / "r" / "scores.json").read_text())
    assert scores["method"] == "random" and scores["steps"] == 0 and scores["episodes"] == 40
    assert 0 <= scores["success"] <= 1 and 1 <= scores["length"] <= 50  # the 50-step cap
    with pytest.raises(ValueError, match="--method random is a reference on TWOSOME's own tasks"):
        main(["--task", "langrearrange", "--method", "random", "--out", str(tmp_path / "lr")])


def test_twosome_on_langrearrange_is_evaluated_like_every_agent(tmp_path):
    """Trained on LangRearrange's text observation and action mask, the checkpoint plays through agents.evaluate."""
    import json

    from agents.evaluate import main as evaluate_main
    from agents.twosome.rearrange import SKILL_PHRASES
    from agents.twosome.train import main

    assert len(set(SKILL_PHRASES)) == 70 and "pick up the apple" in SKILL_PHRASES
    out = tmp_path / "lr"
    main(["--task", "langrearrange", "--model", "tiny-llama", "--dtype", "float32", "--steps", "32", "--n-steps", "8",
          "--eval-episodes", "0", "--threads", "1", "--out", str(out)])
    assert json.loads((out / "checkpoint" / "agent.json").read_text())["agent"] == "agents.twosome.agent:TwosomeAgent"
    evaluate_main(["--agent", str(out / "checkpoint"), "--datasets", "rephrasing", "--episodes", "2",
                   "--out", str(tmp_path / "eval")])
    rows = [json.loads(line) for line in (tmp_path / "eval" / "episodes.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all("error" not in r and r["steps"] >= 1 for r in rows)


def test_twosome_trains_on_an_episode_file_and_its_zero_shot_policy_is_an_agent(tmp_path):
    """``--episodes-file`` trains on a subset; ``twosome-zero-shot`` plays the untrained policy greedily."""
    import json

    import gymnasium as gym

    from agents.core.registry import load_agent
    from agents.twosome.rearrange import read_rearrange
    from agents.twosome.train import main
    from gym_langrearrange.datasets import generate_episode, save_episodes

    episodes = tmp_path / "subset.json"
    save_episodes([generate_episode("train", i)[0] for i in (3, 5)], episodes)
    out = tmp_path / "lr"
    main(["--task", "langrearrange", "--episodes-file", str(episodes), "--model", "tiny-llama", "--dtype", "float32",
          "--steps", "16", "--n-steps", "4", "--eval-episodes", "0", "--threads", "1", "--out", str(out)])
    meta = json.loads((out / "checkpoint" / "agent.json").read_text())
    assert meta["episodes"] == str(episodes.resolve())
    with pytest.raises(ValueError, match="--episodes-file is for --task langrearrange, not 'tomato-salad'"):
        main(["--task", "tomato-salad", "--episodes-file", str(episodes), "--out", str(tmp_path / "ts")])

    agent = load_agent("twosome-zero-shot", model="tiny-llama", dtype="float32")
    env = gym.make("LangRearrange-v0", episodes=str(episodes), render=False, obs_mode="text")
    obs, info = env.reset(seed=0)
    probs = agent.model.policy.action_probabilities(agent.tokens.encode(*read_rearrange(obs, info)))
    probs = np.asarray(probs).reshape(-1)
    assert np.all(probs[~info["action_mask"]] == 0) and abs(probs.sum() - 1) < 1e-5
    assert agent.act(obs, info) == int(np.argmax(probs))  # greedy by default
    with pytest.raises(ValueError, match="deterministic must be true or false, got 'maybe'"):
        load_agent("twosome-zero-shot", model="tiny-llama", deterministic="maybe")


def test_retention_with_the_adapters_off_is_the_base_model_exactly(tokenizer, monkeypatch):
    env, _ = observations("TWOSOME/FoodPreparation-v0", tokenizer, n=1)
    fresh = make_policy(env)  # LoRA's B matrices start at zero: its adapters change nothing yet
    trained = make_policy(env)  # the same seed: the same backbone
    with torch.no_grad():
        for p in trained.lora_parameters():
            p.add_(0.05 * torch.randn_like(p))
    on, off = measure(trained)
    assert off == measure(fresh)[0]  # bit for bit: NLL and answers
    assert on.nll != off.nll
    # the answer is the scorer's first choice, counted against each question's right one
    right = torch.tensor([q.right for q in QUESTIONS])
    monkeypatch.setattr(trained, "action_logits", lambda obs: torch.nn.functional.one_hot(right, 4).float())
    assert choice_accuracy(trained) == 1.0
    monkeypatch.setattr(trained, "action_logits", lambda obs: torch.eye(4)[torch.zeros(len(QUESTIONS), dtype=int)])
    assert choice_accuracy(trained) == np.mean(right.numpy() == 0) == 0.25
