"""The synthetic telemetry generator."""

import numpy as np
import pandas as pd
from scarcegan.schema import TELEMETRY_COLUMNS as CONTAINER_COLUMNS

from retrainer.synthetic import (
    GROUPS,
    TELEMETRY_COLUMNS,
    featurised_batch,
    generate,
    generate_with_truth,
    write_batch,
)


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


SMALL = dict(n_unlabeled=300, n_risky=30, n_dormant=100, n_normal=200, n_heavy=100, weeks=8)


def _per_player(groups, column):
    frames = [f.groupby("player_id")[column].sum() for f in groups.values()]
    return pd.concat(frames).to_numpy(dtype=float)


def test_heavy_tails_spread_money_over_orders_of_magnitude():
    from scarcegan.features import is_heavy_tailed

    plain = generate(seed=2, **SMALL)
    heavy = generate(seed=2, heavy_tails=True, **SMALL)
    assert is_heavy_tailed(_per_player(heavy, "deposit_amount"))
    ratio = lambda v: np.quantile(v, 0.999) / np.quantile(v[v > 0], 0.5)  # noqa: E731
    assert ratio(_per_player(heavy, "deposit_amount")) > 3 * ratio(_per_player(plain, "deposit_amount"))


def test_categoricals_lean_with_risk_without_giving_it_away():
    groups, truth = generate_with_truth(seed=0, n_unlabeled=3000, weeks=4, categoricals=True)
    players = pd.concat(f.drop_duplicates("player_id") for f in groups.values()).merge(truth, on="player_id")
    crypto = players["payment_method"] == "crypto"
    risky = players["escalating"]
    assert crypto[risky].mean() > 2 * crypto[~risky].mean()  # informative
    assert risky[crypto].mean() < 0.5  # most crypto payers are not risky
    assert players["country"].nunique() >= 20  # a long tail of rare levels
    # every weekly row of a player carries the same attributes
    assert groups["normal"].groupby("player_id")["platform"].nunique().max() == 1


def test_defaults_are_unchanged_by_the_new_knobs():
    plain = generate(seed=5, **SMALL)
    with_categoricals = generate(seed=5, categoricals=True, **SMALL)
    pd.testing.assert_frame_equal(plain["risky"], with_categoricals["risky"][plain["risky"].columns])


def test_shift_moves_money_and_brings_a_platform_never_seen_in_training():
    base = featurised_batch(seed=1, **SMALL)
    shifted = featurised_batch(seed=1, shift=1.5, **SMALL)
    assert shifted["unlabeled"]["total_deposit_amount"].median() > 1.5 * base["unlabeled"]["total_deposit_amount"].median()
    assert "console" in set(shifted["unlabeled"]["platform"]) - set(base["unlabeled"]["platform"])


def test_featurised_batch_is_one_row_per_player_with_gaps_and_no_single_giveaway_column():
    from sklearn.metrics import roc_auc_score

    groups = featurised_batch(seed=0)
    labelled = pd.concat(f.assign(label=g) for g, f in groups.items() if g != "unlabeled")
    assert len(groups["risky"]) == 60 and 3000 < len(labelled) < 5000
    assert not labelled["player_id"].duplicated().any()
    assert labelled["avg_night_share"].isna().mean() > 0.01
    y = labelled["label"] == "risky"
    numeric = labelled.select_dtypes("number").fillna(0)
    best = max(max(roc_auc_score(y, numeric[c]), 1 - roc_auc_score(y, numeric[c])) for c in numeric)
    assert 0.6 < best < 0.95  # informative columns, none that separates risky on its own


def test_write_batch_writes_parquet_parts_that_read_back_the_same(tmp_path):
    groups = featurised_batch(seed=2, **SMALL)
    paths = write_batch(groups, tmp_path, fmt="parquet", parts=3)
    assert len(paths) == 3 * len(GROUPS)
    back = pd.concat(pd.read_parquet(p) for p in paths if p.parent.name == "risky")
    pd.testing.assert_frame_equal(back.sort_values("player_id", ignore_index=True),
                                  groups["risky"].sort_values("player_id", ignore_index=True))
