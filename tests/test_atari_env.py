"""The Atari environments follow the Machado et al. (2018) protocol and report the raw game score."""
import numpy as np
import pytest
from gymnasium import spaces

from agents.atari.envs import MAX_FRAMES, ale_id, instruction_text, make_atari_env, title


def test_pong_follows_the_machado_protocol():
    env = make_atari_env("pong")
    ale = env.unwrapped.ale
    assert env.action_space == spaces.Discrete(18)  # the full action space, whatever the game
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)  # sticky actions
    assert env.unwrapped._frameskip == 4
    assert ale.getInt("max_num_frames_per_episode") == MAX_FRAMES == 108_000
    assert env.spec.id == "ALE/Pong-v5"
    obs, info = env.reset(seed=0)
    assert obs["rgb"].shape == (84, 84, 3) and obs["rgb"].dtype == np.uint8
    assert obs["instruction"] == "You are playing the Atari 2600 game Pong. Score as many points as you can."
    assert env.observation_space.contains(obs)
    obs, *_ = env.step(0)
    assert env.unwrapped.ale.getEpisodeFrameNumber() == 4  # one agent step is four frames


def test_losing_a_life_does_not_end_the_episode():
    env = make_atari_env("breakout")
    _, info = env.reset(seed=1)
    lives, losses, done = info["lives"], 0, False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated or truncated
        if info["lives"] < lives and not done:
            losses += 1
        lives = info["lives"]
    assert losses == 4 and info["lives"] == 0  # five lives: four losses go on, the last ends the game


def test_rewards_are_clipped_for_training_and_the_raw_score_is_kept():
    env = make_atari_env("space_invaders", clip_rewards=True)
    env.reset(seed=0)
    env.action_space.seed(0)
    clipped, done = [], False
    while not done:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        clipped.append(reward)
        done = terminated or truncated
    assert set(clipped) <= {-1.0, 0.0, 1.0}
    assert info["episode"]["r"] > sum(clipped) > 0  # aliens are worth 5-30 points each, clipped to 1


def test_instruction_options_and_names():
    assert ale_id("ms_pacman") == "ALE/MsPacman-v5" and ale_id("up_n_down") == "ALE/UpNDown-v5"
    assert title("ms_pacman") == "Ms. Pac-Man" and title("bank_heist") == "Bank Heist"
    assert instruction_text("pong", "none") == "Score as many points as you can."
    env = make_atari_env("pong", instruction="Hit the ball past the green paddle.", image_size=64)
    obs, _ = env.reset(seed=0)
    assert obs["instruction"] == "Hit the ball past the green paddle." and obs["rgb"].shape == (64, 64, 3)


@pytest.mark.parametrize("kwargs, message", [
    (dict(game="pacman"), "unknown Atari game 'pacman'; allowed: alien"),
    (dict(game="pong", image_size=4), "image_size must be an int >= 8"),
    (dict(game="pong", frameskip=1), "frameskip are fixed by the Machado protocol"),
    (dict(game="pong", instruction=""), "instruction must be 'name', 'none' or a non-empty text"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_atari_env(**kwargs)


def test_the_instruction_tokenizes_like_language_rearrangement():
    from agents.nn.llm import load_tokenizer
    from gym_langrearrange.wrappers import TokenizeInstruction

    env = TokenizeInstruction(make_atari_env("pong"), load_tokenizer("smollm2-135m"), max_tokens=32)
    obs, _ = env.reset(seed=0)
    assert obs["instruction"].shape == (32,) and obs["instruction_mask"].sum() > 10
    assert env.observation_space.contains(obs)


def test_the_training_command_names_a_bad_game_or_method(capsys):
    import subprocess
    import sys

    from agents.atari.train import main

    cases = [(["--game", "pongg"], "argument --game: unknown Atari game 'pongg'; allowed: alien,"),
             (["--game", "pong", "--method", "dqn"], "invalid choice: 'dqn'"),
             (["--game", "pong", "--envs", "0"], "argument --envs: expected an integer >= 1, got '0'")]
    argv, message = cases[0]  # the real command line once; the others through the same main, in this process
    run = subprocess.run([sys.executable, "-m", "agents.atari.train", *argv], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2 and message in run.stderr, (argv, run.stderr[-500:])
    for argv, message in cases[1:]:
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err, (argv, err[-500:])


def test_scores_of_a_finished_run_are_kept_not_recomputed(tmp_path):
    """score_checkpoint writes scores.json once per training length: asked again for the same steps it
    returns the file without playing; a longer-trained model is scored again."""
    from types import SimpleNamespace

    from agents.atari.evaluation import RunScores, score_checkpoint
    from agents.nn.llm import load_tokenizer

    rng = np.random.default_rng(0)
    played = []

    def predict(obs, state=None, episode_start=None, deterministic=False):
        played.append(1)
        return rng.integers(0, 18, len(episode_start)), None

    tokenizer = load_tokenizer("smollm2-135m")
    model = SimpleNamespace(num_timesteps=100, predict=predict)
    args = dict(game="breakout", method="llarp", seed=0, out=tmp_path, episodes=2, tokenizer=tokenizer, max_tokens=16,
                image_size=16, instruction="name", deterministic=False)
    first = score_checkpoint(model, **args)
    assert len(first.episodes) == 2 and first.steps == 100 and played
    assert RunScores.read(tmp_path / "scores.json") == first
    played.clear()
    assert score_checkpoint(model, **args) == first and not played  # kept, nothing played
    model.num_timesteps = 200
    assert score_checkpoint(model, **args).steps == 200 and played
