import json
import re

import pytest

from gym_langrearrange.catalog import CATEGORY_INFO, HELDOUT_CATEGORIES, RECEPTACLES
from gym_langrearrange.datasets import (DATASET_SIZES, DATASETS, SPLITS, EpisodeError, generate_episode,
                                        load_episodes, save_episodes)
from gym_langrearrange.datasets.phrasings import EVAL, TRAIN
from gym_langrearrange.world import scene_ids

#: datasets whose instructions are new phrasings (new_scenes and novel_objects reuse training phrasings by design)
NEW_PHRASING_DATASETS = [d for d in DATASETS if d not in ("train", "new_scenes", "novel_objects")]


def test_sizes():
    assert DATASET_SIZES["train"] == 150_000
    assert all(DATASET_SIZES[d] == 100 for d in DATASETS if d != "train") and len(DATASETS) == 11


@pytest.mark.parametrize("dataset", DATASETS)
def test_episode_is_a_pure_function_of_dataset_and_index(dataset):
    a = [generate_episode(dataset, i) for i in (7, 3, 5)]
    b = [generate_episode(dataset, i) for i in (3, 5, 7)]
    assert a[0] == b[2] and a[1] == b[0] and a[2] == b[1]
    assert a[0][0] != a[1][0]
    spec, plan = a[0]
    assert 1 <= len(plan) <= 32 and 20 <= len(spec.objects) <= 40
    split = "train" if dataset == "train" else "test"
    assert spec.scene in scene_ids(split)


def _normal(s):
    return " ".join(re.sub(r"[^a-z0-9{} ]", " ", s.lower()).split())


def test_evaluation_phrasings_are_not_training_phrasings():
    train = {_normal(p) for ps in TRAIN.values() for p in ps}
    for dataset, concepts in EVAL.items():
        for concept, phrasings in concepts.items():
            for p in phrasings:
                assert _normal(p) not in train, (dataset, concept, p)


def _alternatives(field):
    """Every value the generator may put into a placeholder of a training phrasing."""
    kind = field.rstrip("0123456789")
    if kind == "a_obj":
        values = [c.with_article for c in CATEGORY_INFO.values()]
    elif kind == "obj":
        values = list(CATEGORY_INFO)
    elif kind == "objs":
        values = [c.plural_name for c in CATEGORY_INFO.values()]
    else:
        values = list(RECEPTACLES)
    return "(?:" + "|".join(re.escape(v) for v in values) + ")"


def _train_patterns():
    out = []
    for ps in TRAIN.values():
        for p in ps:
            pieces = re.split(r"\{([a-z_0-9]+)\}", p)
            regex = "".join(re.escape(x) if i % 2 == 0 else _alternatives(x) for i, x in enumerate(pieces))
            out.append(re.compile("^" + regex + "$", re.IGNORECASE))
    return out


def test_generated_evaluation_instructions_never_use_a_training_phrasing():
    patterns = _train_patterns()
    assert all(any(p.match(generate_episode("train", i)[0].instruction) for p in patterns) for i in range(50))
    train_texts = {generate_episode("train", i)[0].instruction for i in range(0, 150_000, 150)}
    for dataset in NEW_PHRASING_DATASETS:
        for i in range(DATASET_SIZES[dataset]):
            text = generate_episode(dataset, i)[0].instruction
            assert text not in train_texts
            assert not any(p.match(text) for p in patterns), (dataset, i, text)


def test_the_continual_learning_split_is_three_object_moves_in_training_scenes():
    """``multiple_rearrangements_train`` (Figure 4b): the held-out dataset's behaviour and wordings, but in the
    training scenes with training categories only, so the held-out dataset still tests new scenes."""
    assert DATASET_SIZES["multiple_rearrangements_train"] == 10_000 and "multiple_rearrangements_train" in SPLITS
    assert "multiple_rearrangements_train" not in DATASETS
    templates = set(EVAL["multiple_rearrangements"])
    for i in range(0, 10_000, 500):
        spec, plan = generate_episode("multiple_rearrangements_train", i)
        assert spec.scene in scene_ids("train") and spec.template in templates, spec.episode_id
        assert not {o.category for o in spec.objects} & set(HELDOUT_CATEGORIES), spec.episode_id
        assert len(spec.goal["sub_exprs"]) == 4 and 1 <= len(plan) <= 32  # three placements and not_holding()
    heldout = generate_episode("multiple_rearrangements", 0)[0]
    assert heldout.scene in scene_ids("test") and heldout.template in templates


def test_heldout_categories_never_appear_in_train():
    for i in range(0, 150_000, 500):
        spec, _ = generate_episode("train", i)
        assert not {o.category for o in spec.objects} & set(HELDOUT_CATEGORIES), spec.episode_id
    novel = [generate_episode("novel_objects", i)[0] for i in range(20)]
    assert all(set(HELDOUT_CATEGORIES) & {o.category for o in s.objects} for s in novel)


def test_export_import_round_trip(tmp_path):
    specs = [generate_episode("context", i)[0] for i in range(5)]
    path = tmp_path / "eps.json"
    save_episodes(specs, path)
    loaded = load_episodes(path)
    assert [s.to_json() for s in loaded] == [s.to_json() for s in specs]


def _one_episode(**override):
    ep = {"episode_id": "mine-1", "scene": 71, "instruction": "On the brown table I need a clamp.",
          "objects": [{"category": "clamp", "instance": 1, "receptacle": "sink"},
                      {"category": "apple", "receptacle": "fridge"}],
          "goal": {"expr_type": "AND", "quantifier": "EXISTS", "inputs": [{"name": "X", "expr_type": "clamp"}],
                   "sub_exprs": ["on_top(X, brown table)", "not_holding()"]}}
    ep.update(override)
    return ep


def test_minimal_episode_gets_defaults_and_subgoals(tmp_path):
    path = tmp_path / "one.json"
    path.write_text(json.dumps([_one_episode()]))
    (spec,) = load_episodes(path)
    assert spec.subgoals == ("holding(clamp)", "robot_at(brown table)") and spec.open == ()
    assert 0 <= spec.objects[1].instance < 2


@pytest.mark.parametrize("override, message", [
    ({"scene": 300}, "episode 'mine-1': field 'scene' must be an int in 0..104"),
    ({"objects": [{"category": "unicorn", "receptacle": "sink"}]}, "field 'objects[0].category' is 'unicorn'"),
    ({"objects": [{"category": "apple", "receptacle": "moon"}]}, "field 'objects[0].receptacle' is 'moon'"),
    ({"objects": [{"category": "apple", "instance": 9, "receptacle": "sink"}]}, "objects[0].instance"),
    ({"open": ["sofa"]}, "field 'open'"),
    ({"robot_start": {"x": 1}}, "field 'robot_start'"),
    ({"goal": {"expr_type": "AND", "sub_exprs": ["on_top(apple, moon)"]}}, "field goal.sub_exprs[0]"),
    ({"goal": {"expr_type": "AND", "sub_exprs": ["on_top(banana, sofa)"]}}, "cannot be reached within 32"),
    ({"goal": {"expr_type": "AND", "sub_exprs": ["in(apple, fridge)"]}}, "already holds at the start"),
    ({"instruction": ""}, "field 'instruction'"),
])
def test_bad_episode_files_name_episode_and_field(tmp_path, override, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([_one_episode(**override)]))
    with pytest.raises(EpisodeError, match=re.escape(message)):
        load_episodes(path)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(EpisodeError, match="does not exist"):
        load_episodes(tmp_path / "nope.json")
    (tmp_path / "broken.json").write_text("[{")
    with pytest.raises(EpisodeError, match="not valid JSON"):
        load_episodes(tmp_path / "broken.json")
    (tmp_path / "noscene.json").write_text(json.dumps([{"episode_id": "x", "objects": [], "goal": {}}]))
    with pytest.raises(EpisodeError, match="episode 'x': field 'scene' is required"):
        load_episodes(tmp_path / "noscene.json")


def test_episode_index_gives_the_same_episodes_as_solving(tmp_path, monkeypatch):
    from gym_langrearrange.datasets.cache import build_index, load_index

    monkeypatch.setenv("GYM_LANGREARRANGE_CACHE", str(tmp_path))
    assert load_index("irrelevant_text") is None
    build_index("irrelevant_text", workers=1, progress=False)
    table = load_index("irrelevant_text")
    for i in range(0, 100, 7):
        row = table[i].tolist()
        assert generate_episode("irrelevant_text", i, (row[0], row[2:2 + row[1]])) == generate_episode(
            "irrelevant_text", i)


def _damage(path, how):
    import numpy as np

    good = path.read_bytes()
    table = np.load(path)
    if how == "garbage":  # same size as the good file, so only reading it can tell
        path.write_bytes(bytes(range(256)) * (len(good) // 256) + b"x" * (len(good) % 256))
    elif how == "garbled_data":  # a valid header, scrambled rows
        path.write_bytes(good[:128] + bytes([200]) * (len(good) - 128))
    elif how == "truncated":
        path.write_bytes(good[:len(good) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "wrong_dtype":
        np.save(path, table.astype(np.int16))
    elif how == "wrong_shape":
        np.save(path, np.concatenate([table, table[:30]]))
    elif how == "pickled":
        np.save(path, table.astype(object), allow_pickle=True)
    elif how == "npz":
        with open(path, "wb") as f:
            np.savez(f, table=table)
    elif how == "directory":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize("how", ["garbage", "garbled_data", "truncated", "empty", "wrong_dtype", "wrong_shape",
                                 "pickled", "npz", "directory"])
def test_broken_episode_index_is_ignored_with_one_warning_and_rebuilt(tmp_path, monkeypatch, how):
    import warnings

    import gymnasium as gym

    import gym_langrearrange  # noqa: F401
    from gym_langrearrange.datasets.cache import build_index, cache_path, load_index

    monkeypatch.setenv("GYM_LANGREARRANGE_CACHE", str(tmp_path))
    path = build_index("context", workers=1, progress=False)
    assert path == cache_path("context") and load_index("context") is not None

    def episodes():
        env = gym.make("LangRearrange-v0", split="context", render=False)
        out = []
        for i in (0, 42, 99):
            obs, info = env.reset(seed=0, options={"episode_index": i})
            out.append((env.unwrapped.episode, env.unwrapped.plan, obs["instruction"], info["subgoals_total"]))
        return env.unwrapped.source._solved is not None, out

    cached, good = episodes()
    assert cached
    _damage(path, how)
    with pytest.warns(RuntimeWarning, match=re.escape(f"episode index cache {path} ") + ".*ignoring it: episodes "
                      "are solved on the fly"):
        cached, again = episodes()
    assert not cached and again == good  # solved on the fly: the same episodes as from a good cache
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once: the broken file was deleted (a directory stays, ignored)
        assert load_index("context") is None and episodes()[1] == good
    if how != "directory":
        assert not path.exists()
        build_index("context", workers=1, progress=False)
        assert load_index("context") is not None


def test_build_index_writes_atomically(tmp_path, monkeypatch):
    import numpy as np

    from gym_langrearrange.datasets import cache

    monkeypatch.setenv("GYM_LANGREARRANGE_CACHE", str(tmp_path))
    path = cache.build_index("context", workers=1, progress=False)
    before = path.read_bytes()

    def fail(f, table):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", fail)
    with pytest.raises(KeyboardInterrupt):
        cache.build_index("context", workers=1, progress=False)
    assert path.read_bytes() == before and sorted(p.name for p in path.parent.iterdir()) == ["context.npy"]
