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


def test_the_search_order_is_part_of_a_folder(tmp_path):
    nearest = write_demos(tmp_path / "nearest", "train", episodes=30, shard_size=30, progress=False)
    instruction = write_demos(tmp_path / "instruction", "train", episodes=30, shard_size=30, progress=False,
                              search="instruction")
    assert (nearest["search"], instruction["search"]) == ("nearest", "instruction")
    by_order = {name: list(load_demos(tmp_path / name)[1]) for name in ("nearest", "instruction")}
    assert all(d.success for demos in by_order.values() for d in demos)
    assert by_order["nearest"] != by_order["instruction"]  # another expert, other skills
    with pytest.raises(ValueError, match="search is 'instruction', this run asks for 'nearest'"):
        write_demos(tmp_path / "instruction", "train", episodes=30, shard_size=30, progress=False)
    # a folder written before the search order existed is the nearest-first expert's
    manifest = json.loads((tmp_path / "nearest" / "manifest.json").read_text())
    del manifest["search"]
    (tmp_path / "nearest" / "manifest.json").write_text(json.dumps(manifest))
    write_demos(tmp_path / "nearest", "train", episodes=30, shard_size=30, progress=False)  # resumes: nothing to do
    with pytest.raises(ValueError, match="search is 'nearest', this run asks for 'instruction'"):
        write_demos(tmp_path / "nearest", "train", episodes=30, shard_size=30, progress=False, search="instruction")
