"""Expert demonstrations: a shard round-trips, replays reproduce the expert's episode, bad folders are clear errors."""
from __future__ import annotations

import json

import pytest

from agents.imitation.demos import FORMAT, load_demos, make_env, replay, write_demos
from gym_langrearrange.files import CorruptFileError


def test_a_shard_round_trips_and_replays_the_expert_s_episode(tmp_path):
    manifest = write_demos(tmp_path, "train", episodes=7, shard_size=3, progress=False)
    assert manifest["format"] == FORMAT and [s["episodes"] for s in manifest["shards"]] == [3, 3, 1]
    loaded, demos = load_demos(tmp_path, split="train")
    demos = list(demos)
    assert loaded == json.loads((tmp_path / "manifest.json").read_text())
    assert [d.index for d in demos] == list(range(7)) and all(d.success for d in demos)
    env = make_env("train", render=True, image_size=32)
    for demo in demos[:3]:
        steps = list(replay(env, demo))
        assert [a for _, _, a in steps] == list(demo.actions)
        assert steps[0][0]["rgb"].shape == (32, 32, 3)
        assert all(info["action_mask"][a] for _, info, a in steps)  # the expert's skills are valid where replayed
    # a second run finds every shard and writes nothing
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    write_demos(tmp_path, "train", episodes=7, shard_size=3, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir() if p.name != "manifest.json"} == \
        {k: v for k, v in before.items() if k != "manifest.json"}


def test_bad_demonstration_folders_are_one_line_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no demonstrations in .*manifest.json does not exist"):
        load_demos(tmp_path / "nowhere")
    write_demos(tmp_path, "train", episodes=4, shard_size=2, progress=False)
    with pytest.raises(ValueError, match="split 'train', not 'rephrasing'"):
        load_demos(tmp_path, split="rephrasing")
    shard = tmp_path / "shard-00001.jsonl"
    shard.write_text(shard.read_text().splitlines()[0] + "\n")  # truncated
    _, demos = load_demos(tmp_path)
    with pytest.raises(CorruptFileError, match="shard-00001.jsonl: 1 episodes, the manifest says 2"):
        list(demos)
    _, demos = load_demos(tmp_path)
    demo = next(demos)
    with pytest.raises(ValueError, match="demonstrations are of other episodes"):
        list(replay(make_env("rephrasing", render=False), demo))
    with pytest.raises(ValueError, match="shard_size is 2, this run asks for 3"):
        write_demos(tmp_path, "train", episodes=4, shard_size=3, progress=False)
