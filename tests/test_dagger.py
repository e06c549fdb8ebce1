"""DAgger relabelling: a learner's episodes labelled by the exploring expert, and behaviour cloning on them."""
from __future__ import annotations

import json

import numpy as np
import pytest

from agents.expert import ExploringExpert
from agents.imitation.bc import episode_batch
from agents.imitation.dagger import main as dagger_main
from agents.imitation.dagger import write_relabelled
from agents.imitation.demos import load_demos, make_env, write_demos
from agents.imitation.train import main as bc_main
from agents.nn.llm import load_tokenizer
from agents.rearrange import env_factory
from gym_langrearrange.files import read_json

TINY = ["--backbone", "tiny-llama", "--dtype", "float32", "--image-size", "32", "--threads", "1", "--no-progress"]


def test_the_expert_as_its_own_learner_relabels_nothing(tmp_path):
    write_demos(tmp_path / "demos", "train", episodes=5, shard_size=5, progress=False)
    manifest = write_relabelled(tmp_path / "dagger", "expert", "train", first=2, episodes=3, shard_size=2,
                                progress=False)
    assert manifest["learner"] == "expert" and [s["first"] for s in manifest["shards"]] == [2, 4]
    _, relabelled = load_demos(tmp_path / "dagger")
    _, demos = load_demos(tmp_path / "demos")
    expert = {d.index: d for d in demos}
    for d in relabelled:
        assert d.labels == d.actions == expert[d.index].actions and d.targets == d.labels


def test_labels_are_the_expert_s_skill_in_each_state_the_learner_reached(tmp_path):
    write_relabelled(tmp_path / "dagger", "random", "train", first=0, episodes=3, progress=False)
    _, relabelled = load_demos(tmp_path / "dagger")
    relabelled = list(relabelled)
    env = make_env("train", render=False)
    differs = 0
    for demo in relabelled:  # re-play the learner's skills; an expert that watched them must say each label
        env.reset(seed=0, options={"episode_index": demo.index})
        expert = ExploringExpert(env.episode.goal_expr)
        for action, label in zip(demo.actions, demo.labels, strict=True):
            expert.observe(env.state)
            assert expert.action(env.state) == label
            differs += action != label
            env.step(action)
    assert differs > 0  # the random learner strayed: these are not the expert's own episodes
    # behaviour cloning learns the labels, in the states the learner's skills lead to
    tokenized = env_factory(load_tokenizer("smollm2-135m"), 16, split="train", image_size=32, hard=False)()
    batch = episode_batch(tokenized, relabelled)
    for i, demo in enumerate(relabelled):
        assert batch.actions[i, :len(demo.labels)].tolist() == list(demo.labels)
        assert int(batch.step_mask[i].sum()) == len(demo.actions)


def test_bc_clones_expert_and_relabelled_folders_together(tmp_path):
    write_demos(tmp_path / "demos", "train", episodes=4, shard_size=4, progress=False)
    write_relabelled(tmp_path / "dagger", "random", "train", first=4, episodes=2, progress=False)
    folders = f"{tmp_path / 'demos'},{tmp_path / 'dagger'}"
    common = ["--batch-episodes", "2", *TINY]
    bc_main(["--demos", str(tmp_path / "demos"), "--demo-count", "4", "--episodes", "4", "--out",
             str(tmp_path / "il"), *common])
    # a DAgger round: a new run from the clone's weights, on other demonstrations (two expert + two relabelled)
    bc_main(["--demos", folders, "--demo-count", "2", "--episodes", "12", "--continue-from",
             str(tmp_path / "il" / "checkpoint"), "--out", str(tmp_path / "round1"), *common])
    meta = json.loads((tmp_path / "round1" / "checkpoint" / "agent.json").read_text())
    assert meta["bc"]["episodes"] == 12 and meta["continued_from"]["episodes"] == 4
    assert meta["demonstrations"].split(",") == [str((tmp_path / d).resolve()) for d in ("demos", "dagger")]
    assert [c[0] for c in read_json(tmp_path / "round1" / "bc_curve.json")] == [12]
    # a resumed run still refuses other demonstrations than it began with
    with pytest.raises(ValueError, match="--resume with other options than .*: demo_count 2 -> 3"):
        bc_main(["--demos", folders, "--demo-count", "3", "--episodes", "16", "--resume", "--out",
                 str(tmp_path / "round1"), *common])


def test_bad_dagger_input_is_named(tmp_path):
    write_demos(tmp_path / "demos", "train", episodes=2, shard_size=2, progress=False)
    write_demos(tmp_path / "other", "new_scenes", episodes=2, shard_size=2, progress=False)
    with pytest.raises(ValueError, match=r"--demos .*other: split 'new_scenes', but .*demos has 'train'"):
        bc_main(["--demos", f"{tmp_path / 'demos'},{tmp_path / 'other'}", "--episodes", "2", "--out",
                 str(tmp_path / "x"), *TINY])
    write_demos(tmp_path / "instr", "train", episodes=2, shard_size=2, progress=False, search="instruction")
    with pytest.raises(ValueError, match=r"--demos .*instr: search 'instruction', but .*demos has 'nearest'"):
        bc_main(["--demos", f"{tmp_path / 'demos'},{tmp_path / 'instr'}", "--episodes", "2", "--out",
                 str(tmp_path / "x"), *TINY])
    with pytest.raises(SystemExit):  # argparse names the choices
        dagger_main(["--agent", "expert", "--episodes", "1", "--search", "nearst", "--out", str(tmp_path / "d")])
    with pytest.raises(ValueError, match="--only-episodes picks from one --demos folder; got 2"):
        bc_main(["--demos", f"{tmp_path / 'demos'},{tmp_path / 'demos'}", "--only-episodes", "e.json",
                 "--episodes", "2", "--out", str(tmp_path / "x"), *TINY])
    with pytest.raises(ValueError, match="--first 149999 --episodes 2: split 'train' has 150000 episodes"):
        dagger_main(["--agent", "expert", "--first", "149999", "--episodes", "2", "--out", str(tmp_path / "d"),
                     "--no-progress"])
    write_relabelled(tmp_path / "d", "expert", "train", first=0, episodes=1, progress=False)
    with pytest.raises(ValueError, match=r"manifest.json: learner is 'expert', this run asks for 'random'"):
        write_relabelled(tmp_path / "d", "random", "train", first=0, episodes=2, progress=False)
    assert not (tmp_path / "x").exists() and np.all([p.name != "shard-00001.jsonl" for p in (tmp_path / "d").iterdir()])
