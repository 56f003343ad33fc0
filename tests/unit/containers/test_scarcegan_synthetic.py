"""The synthetic telemetry generator."""

import pandas as pd
from scarcegan.schema import TELEMETRY_COLUMNS as CONTAINER_COLUMNS

from retrainer.synthetic import GROUPS, TELEMETRY_COLUMNS, generate, generate_with_truth, write_batch


def test_five_groups_one_row_per_player_week_and_schema_agrees_with_the_container():
    groups = generate(seed=1, n_unlabeled=50, n_risky=5, n_dormant=10, n_normal=10, n_heavy=10, weeks=6)
    assert tuple(groups) == GROUPS
    assert TELEMETRY_COLUMNS == CONTAINER_COLUMNS
    for frame in groups.values():
        assert list(frame.columns) == ["player_id", "week", *TELEMETRY_COLUMNS]
        assert not frame.duplicated(["player_id", "week"]).any()
    assert groups["risky"]["player_id"].nunique() == 5


def test_same_seed_same_data_different_seed_different_data():
    a = generate(seed=7, n_unlabeled=20, n_risky=3, n_dormant=5, n_normal=5, n_heavy=5, weeks=4)
    b = generate(seed=7, n_unlabeled=20, n_risky=3, n_dormant=5, n_normal=5, n_heavy=5, weeks=4)
    c = generate(seed=8, n_unlabeled=20, n_risky=3, n_dormant=5, n_normal=5, n_heavy=5, weeks=4)
    pd.testing.assert_frame_equal(a["unlabeled"], b["unlabeled"])
    assert not a["unlabeled"].equals(c["unlabeled"])


def test_unlabeled_hides_risky_players_and_uncovered_behaviour():
    _, truth = generate_with_truth(seed=0, n_unlabeled=4000, weeks=4)
    kinds = truth[truth["group"] == "unlabeled"]["kind"].value_counts(normalize=True)
    assert 0.005 < kinds["risky"] < 0.02
    assert kinds["bot"] > 0 and kinds["bonus_hunter"] > 0


def test_write_batch_is_spark_style(tmp_path):
    groups = generate(seed=1, n_unlabeled=5, n_risky=2, n_dormant=2, n_normal=2, n_heavy=2, weeks=3)
    paths = write_batch(groups, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == sorted(
        f"{g}/part-00000.csv" for g in GROUPS)
