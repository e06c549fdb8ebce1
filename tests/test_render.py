"""Tests of gym_langrearrange.render: head-camera images, sprites and the top-down map."""
from __future__ import annotations


import numpy as np
import pytest

from gym_langrearrange.catalog import CATEGORIES, CATEGORY_INDEX, CATEGORY_INFO, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.render import EgocentricRenderer, render_topdown, side_by_side
from gym_langrearrange.render.appearance import relative_size, sprite_rgba
from gym_langrearrange.world import HELD, NOWHERE, WorldState, get_scene

FRIDGE = RECEPTACLE_INDEX["fridge"]
DRAWER = RECEPTACLE_INDEX["cabinet drawer 2"]
TABLE = RECEPTACLE_INDEX["black table"]


def make_state(objects: list[tuple[str, int, str]], scene_index: int = 0, robot_at: str | None = None) -> WorldState:
    """A hand-made state: objects as (category, instance, receptacle)."""
    scene = get_scene(scene_index)
    state = WorldState(scene, tuple(CATEGORY_INDEX[c] for c, _, _ in objects), tuple(i for _, i, _ in objects),
                       [RECEPTACLE_INDEX[r] for _, _, r in objects], [False] * len(RECEPTACLES),
                       scene.placements["sofa"].stand)
    state.robot_at = RECEPTACLE_INDEX[robot_at] if robot_at else NOWHERE
    return state


@pytest.fixture()
def state() -> WorldState:
    return make_state([("apple", 0, "black table"), ("book", 1, "black table"), ("banana", 0, "black table"),
                       ("can", 1, "fridge"), ("plum", 0, "fridge"), ("knife", 0, "cabinet drawer 2")],
                      robot_at="black table")


@pytest.mark.parametrize("size", [1, 17, 64, 128, 256, 336])
def test_shapes_and_dtype_at_every_viewpoint(state: WorldState, size: int) -> None:
    ren = EgocentricRenderer(state.scene, size)
    for r in [NOWHERE] + [RECEPTACLE_INDEX[n] for n in state.scene.receptacles]:
        for held in (-1, 0):
            s = state.copy()
            s.robot_at = r
            if held >= 0:
                s.loc[held], s.held = HELD, held
            image = ren.render(s)
            assert image.shape == (size, size, 3) and image.dtype == np.uint8
            assert image.flags.c_contiguous and image.flags.writeable


def test_deterministic_and_returns_a_new_array(state: WorldState) -> None:
    a = EgocentricRenderer(state.scene, 128).render(state)
    ren = EgocentricRenderer(state.scene, 128)
    b = ren.render(state)
    assert np.array_equal(a, b)
    b[:] = 0  # the caller owns the array: scribbling on it must not leak into the cache
    c = ren.render(state)
    assert c is not b and np.array_equal(a, c)
    state.robot_at = NOWHERE
    assert np.array_equal(ren.render(state), EgocentricRenderer(state.scene, 128).render(state))


def _fridge_views(state: WorldState, receptacle: int) -> dict[tuple[bool, bool], np.ndarray]:
    """Images at ``receptacle`` for (open?, with contents?)."""
    ren = EgocentricRenderer(state.scene, 128)
    out = {}
    for is_open in (False, True):
        for full in (False, True):
            s = state.copy()
            s.robot_at = receptacle
            s.opened[receptacle] = is_open
            if not full:
                s.loc = [TABLE if where == receptacle else where for where in s.loc]
            out[is_open, full] = ren.render(s)
    return out


@pytest.mark.parametrize("receptacle", [FRIDGE, DRAWER])
def test_closed_container_hides_contents_and_open_one_shows_them(state: WorldState, receptacle: int) -> None:
    views = _fridge_views(state, receptacle)
    assert np.array_equal(views[False, True], views[False, False])  # closed: contents hidden
    assert not np.array_equal(views[True, False], views[False, False])  # opening changes the picture
    diff = np.any(views[True, True] != views[True, False], axis=2)
    assert diff.sum() > 30  # open: contents visible
    ys, xs = np.nonzero(diff)
    assert 0.2 * 128 < xs.mean() < 0.8 * 128  # ... inside the container, in the middle of the view
    assert 0.15 * 128 < ys.mean() < 0.85 * 128


def test_picking_draws_the_held_object_in_the_gripper(state: WorldState) -> None:
    ren = EgocentricRenderer(state.scene, 128)
    before = ren.render(state)
    state.loc[0], state.held = HELD, 0  # pick the red apple
    after = ren.render(state)
    assert not np.array_equal(before, after)
    bottom = after[int(0.7 * 128):, int(0.3 * 128):int(0.7 * 128)].reshape(-1, 3).astype(int)
    red = (bottom[:, 0] > 150) & (bottom[:, 1] < 80) & (bottom[:, 2] < 80)
    assert red.sum() > 20  # the apple hangs under the suction cup
    # moving on while holding it changes the scenery, not the gripper
    state.robot_at = RECEPTACLE_INDEX["sofa"]
    assert not np.array_equal(ren.render(state), after)


def test_instances_of_a_category_look_different() -> None:
    for name in CATEGORIES:
        c = CATEGORY_INDEX[name]
        sprites = [sprite_rgba(c, i, 32) for i in range(len(CATEGORY_INFO[name].instances))]
        for i in range(len(sprites)):
            assert sprites[i].shape == (32, 32, 4) and sprites[i][..., 3].max() == 255, name
            for j in range(i):
                assert np.abs(sprites[i].astype(int) - sprites[j].astype(int)).sum() > 32 * 32 * 4, (name, i, j)


def test_categories_look_different_and_sizes_are_sane() -> None:
    flat = {name: sprite_rgba(CATEGORY_INDEX[name], 0, 24).astype(int) for name in CATEGORIES}
    names = list(flat)
    for i, a in enumerate(names):
        for b in names[:i]:
            assert np.abs(flat[a] - flat[b]).sum() > 24 * 24 * 4, (a, b)
    assert relative_size(CATEGORY_INDEX["plum"], 0) < relative_size(CATEGORY_INDEX["plate"], 0)


def test_different_instances_render_differently_in_the_view() -> None:
    red = make_state([("cup", 0, "black table")], robot_at="black table")
    blue = make_state([("cup", 1, "black table")], robot_at="black table")
    ren = EgocentricRenderer(red.scene, 96)
    assert not np.array_equal(ren.render(red), ren.render(blue))


def test_scenes_have_different_backgrounds() -> None:
    images = []
    for index in (0, 1, 2, 70, 100):
        s = make_state([], scene_index=index, robot_at="sink")
        images.append(EgocentricRenderer(s.scene, 64).render(s))
    for i in range(len(images)):
        for j in range(i):
            assert not np.array_equal(images[i], images[j])


def test_start_view_depends_on_the_wall_faced() -> None:
    s = make_state([])
    ren = EgocentricRenderer(s.scene, 64)
    views = []
    for heading in (0.0, 1.6, 3.1, -1.6):
        s.pose = (4.0, 3.0, heading)
        views.append(ren.render(s))
    assert len({v.tobytes() for v in views}) == 4


@pytest.mark.parametrize("bad", [0, -3, 2.5, "256", None, True])
def test_bad_image_size_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match=r"image_size must be a positive int"):
        EgocentricRenderer(get_scene(0), bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"image_size"):
        render_topdown(make_state([]), bad)  # type: ignore[arg-type]


def test_numpy_integer_image_size_is_accepted() -> None:
    s = make_state([], robot_at="chair")
    assert EgocentricRenderer(s.scene, np.int64(48)).render(s).shape == (48, 48, 3)


def test_receptacle_missing_from_scene_is_an_error() -> None:
    index = next(i for i in range(105) if not get_scene(i).has("shelf"))
    s = make_state([], scene_index=index)
    s.robot_at = RECEPTACLE_INDEX["shelf"]
    with pytest.raises(ValueError, match="shelf"):
        EgocentricRenderer(s.scene, 32).render(s)


def test_crowded_receptacle_still_renders() -> None:
    objects = [(CATEGORIES[k % 33], 0, "chair") for k in range(40)]
    s = make_state(objects, robot_at="chair")
    image = EgocentricRenderer(s.scene, 128).render(s)
    empty = make_state([], robot_at="chair")
    assert np.any(image != EgocentricRenderer(empty.scene, 128).render(empty), axis=2).sum() > 500


def test_topdown_map(state: WorldState) -> None:
    image = render_topdown(state)
    assert image.shape == (512, 512, 3) and image.dtype == np.uint8
    assert render_topdown(state, 200).shape == (200, 200, 3)
    assert np.array_equal(image, render_topdown(state))
    state.opened[FRIDGE] = True
    opened = render_topdown(state)
    assert not np.array_equal(image, opened)
    state.loc[0], state.held = HELD, 0
    assert not np.array_equal(opened, render_topdown(state))


def test_side_by_side_pads_to_equal_height() -> None:
    a = np.full((4, 3, 3), 9, np.uint8)
    b = np.full((6, 2, 3), 7, np.uint8)
    out = side_by_side(a, b)
    assert out.shape == (6, 5, 3) and out.dtype == np.uint8
    assert (out[4:, :3] == 0).all() and (out[:, 3:] == 7).all()
    with pytest.raises(ValueError):
        side_by_side()
    with pytest.raises(ValueError):
        side_by_side(np.zeros((4, 4), np.uint8))
