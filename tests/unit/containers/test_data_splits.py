"""Split sizes: as many labelled positives for training as an honest estimate allows."""

import numpy as np
import pandas as pd
import pytest
from scarcegan.splits import assign_folds, split_players

from retrainer.synthetic import featurised_batch, write_batch
from tests.unit.containers.conftest import read_output


def test_sixty_positives_keep_43_for_training_12_for_test_5_for_checkpoints():
    # Given 60 risky among 4,060 labelled players and the default test fraction
    labels = np.array(["risky"] * 60 + ["normal"] * 4000)
    # When they are split
    split = split_players(labels, test_fraction=0.2, seed=0)
    risky = pd.Series(split[labels == "risky"]).value_counts().to_dict()
    # Then 12 go to test, 5 to validation (checkpoint choice) and 43 train (was 36 with 20% validation)
    assert risky == {"train": 43, "test": 12, "validation": 5}


@pytest.mark.parametrize("n", [3, 4, 7])
def test_a_tiny_rare_class_is_still_in_every_split(n):
    split = split_players(np.array(["risky"] * n + ["normal"] * 50), test_fraction=0.2, seed=1)
    assert set(split[:n]) == {"train", "validation", "test"}


def test_folds_deal_the_rare_class_evenly():
    labels = np.array(["risky"] * 43 + ["normal"] * 500)
    folds = assign_folds(labels, 5, seed=0)
    per_fold = np.bincount(folds[labels == "risky"], minlength=5)
    assert per_fold.max() - per_fold.min() <= 1


def test_split_files_carry_exactly_player_label_fold_and_features(preprocess, tmp_path):
    write_batch(featurised_batch(seed=7, n_unlabeled=200, n_risky=20, n_dormant=60, n_normal=100,
                                 n_heavy=50, weeks=8), tmp_path / "input/data")
    report = preprocess.main(tmp_path, input_format="features", folds=4, split_seed=3)
    out = tmp_path / "output"
    read = {name: read_output(out, name)
            for name in ("train/train.csv", "train/unlabeled.csv", "validation/val.csv", "test/test.csv")}
    features = list(read["test/test.csv"].columns[2:])
    assert list(read["train/train.csv"].columns) == ["player_id", "label", "fold", *features]
    for name in ("train/unlabeled.csv", "validation/val.csv", "test/test.csv"):
        assert list(read[name].columns) == ["player_id", "label", *features], name
    # no player in two splits; validation holds the rare class here; folds.csv is train's fold column
    ids = [set(frame["player_id"]) for frame in read.values()]
    assert sum(map(len, ids)) == len(set().union(*ids))
    assert (read["validation/val.csv"]["label"] == "risky").any()
    folds = pd.read_csv(out / "artifacts/folds.csv", dtype={"player_id": str})
    pd.testing.assert_frame_equal(folds, read["train/train.csv"][["player_id", "label", "fold"]])
    assert sorted(read["train/train.csv"]["fold"].unique()) == [0, 1, 2, 3]
    assert report["folds"]["risky_per_fold"] == read["train/train.csv"].query("label == 'risky'").groupby(
        "fold").size().tolist()
