"""Atari reference scores, human-normalised scores and the aggregates of a comparison, against
values computed by hand."""
import numpy as np
import pytest

from agents.atari import ATARI_55, ATARI_57, compare, human_normalised, reference_scores

A = np.array([[0.0, 1.0, 2.0, 0.5],
              [0.2, 1.2, 1.0, 0.5],
              [0.4, 0.8, 3.0, 0.5]])
B = np.array([[0.1, 0.5, 1.0, 0.5],
              [0.1, 0.7, 1.0, 0.5],
              [0.1, 0.6, 1.0, 0.5]])
GAMES = ("g1", "g2", "g3", "g4")


def test_the_table_and_the_55_games():
    table = reference_scores()
    assert len(ATARI_57) == 57 and len(ATARI_55) == 55
    assert set(ATARI_57) - set(ATARI_55) == {"defender", "surround"}
    assert table["pong"].random == -20.7 and table["pong"].human == 14.6
    assert table["video_pinball"].random == 16256.9  # the table's value, not the 0.0 of other setups
    assert all(g.human > g.random for g in table.values())


def test_human_normalised_scores():
    assert human_normalised("pong", 14.6) == pytest.approx(1.0)
    assert human_normalised("pong", -20.7) == pytest.approx(0.0)
    assert human_normalised("breakout", 16.1) == pytest.approx(0.5)  # (16.1 - 1.7) / (30.5 - 1.7)
    assert human_normalised("skiing", -17098.1 + 0.25 * (17098.1 - 4336.9)) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="unknown Atari game 'pacman'; allowed: alien, amidar"):
        human_normalised("pacman", 1.0)


def test_aggregates_match_hand_computed_values():
    result = compare({"llarp": A, "scratch": B}, GAMES, reps=300, seed=3)
    a = result.aggregates["llarp"]
    assert a.mean.value == pytest.approx(0.925)  # per-game means 0.2, 1.0, 2.0, 0.5
    assert a.median.value == pytest.approx(0.75)  # median of those four
    assert a.iqm.value == pytest.approx(4.3 / 6)  # the middle 6 of the 12 run-game scores
    assert a.optimality_gap.value == pytest.approx(1 - 7.9 / 12)  # scores clipped at 1 sum to 7.9
    b = result.aggregates["scratch"]
    assert b.mean.value == pytest.approx((0.1 + 0.6 + 1.0 + 0.5) / 4)
    # per game P(a > b): 6/9, 9/9, 7.5/9 (three ties count half), 0.5 (identical runs)
    assert result.probability_of_improvement.value == pytest.approx((6 / 9 + 1 + 7.5 / 9 + 0.5) / 4)
    assert result.games_a_higher == 3  # g4 is a tie
    for estimate in [*vars(a).values(), *vars(b).values(), result.probability_of_improvement]:
        assert estimate.low <= estimate.value <= estimate.high
    assert a.mean.low < a.mean.high  # the runs differ, so the bootstrap interval has width
    assert b.optimality_gap.low <= b.optimality_gap.high
    np.random.seed(99)
    expected_draw = np.random.rand()
    np.random.seed(99)
    again = compare({"llarp": A, "scratch": B}, GAMES, reps=300, seed=3)
    assert np.random.rand() == expected_draw  # the caller's global numpy generator is left as it was
    assert again.aggregates["llarp"] == a and again.probability_of_improvement == result.probability_of_improvement
    other = compare({"llarp": A, "scratch": B}, GAMES, reps=300, seed=4)
    assert other.aggregates["llarp"].mean.value == a.mean.value and other.aggregates["llarp"] != a  # the seed draws


def test_bad_matrices_are_named():
    with pytest.raises(ValueError, match=r"'scratch' must be a \(runs x 4 games\) matrix, got shape \(3, 3\)"):
        compare({"llarp": A, "scratch": B[:, :3]}, GAMES, reps=10)
    with pytest.raises(ValueError, match="exactly two methods"):
        compare({"llarp": A}, GAMES, reps=10)
    with pytest.raises(ValueError, match="must be finite"):
        compare({"llarp": A, "scratch": np.where(B > 0.9, np.nan, B)}, GAMES, reps=10)


def _csv(tmp_path, rows):
    path = tmp_path / "scores.csv"
    path.write_text("method,game,seed,score\n" + "".join(f"{m},{g},{s},{v}\n" for m, g, s, v in rows))
    return path


def test_report_writes_the_table_and_figures(tmp_path, capsys):
    from agents.atari.report import main

    rows = [("llarp", "pong", 0, 14.6), ("llarp", "pong", 1, -20.7), ("scratch", "pong", 0, -20.7),
            ("scratch", "pong", 1, -20.7), ("llarp", "breakout", 0, 16.1), ("llarp", "breakout", 1, 16.1),
            ("scratch", "breakout", 0, 30.5), ("scratch", "breakout", 1, 1.7)]
    out = tmp_path / "report"
    assert main([str(_csv(tmp_path, rows)), "--methods", "llarp,scratch", "--reps", "500", "--out", str(out)]) == 0
    table = (out / "table.md").read_text()
    assert "| pong | -3.0 | -20.7 | 0.500 | 0.000 |" in table  # mean raw score, then normalised
    assert "| breakout | 16.1 | 16.1 | 0.500 | 0.500 |" in table
    assert "llarp's mean is higher on 1 of 2 games" in table
    assert (out / "per_game.png").stat().st_size > 5000 and (out / "aggregates.png").stat().st_size > 5000


def test_report_names_bad_rows(tmp_path):
    from agents.atari.report import read_scores, score_matrices

    with pytest.raises(ValueError, match=r"scores.csv, line 3: unknown Atari game 'pacman'"):
        read_scores(_csv(tmp_path, [("llarp", "pong", 0, 1), ("llarp", "pacman", 0, 1)]))
    with pytest.raises(ValueError, match=r"line 3: a second score for llarp, pong, seed 0"):
        read_scores(_csv(tmp_path, [("llarp", "pong", 0, 1), ("llarp", "pong", 0, 2)]))
    with pytest.raises(ValueError, match=r"line 2: could not convert string to float: 'high'"):
        read_scores(_csv(tmp_path, [("llarp", "pong", 0, "high")]))
    with pytest.raises(ValueError, match="no scores for method 'scratch'; the file has llarp"):
        score_matrices(read_scores(_csv(tmp_path, [("llarp", "pong", 0, 1)])), "llarp", "scratch")
