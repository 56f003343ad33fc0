"""drift.py: scoring telemetry against the preprocess baseline, by population stability index."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from scarcegan.errors import DataError

from retrainer.synthetic import scoring_batch


def test_psi_is_zero_for_the_same_distribution_and_grows_with_a_shift(drift):
    same = drift.psi(np.array([10.0, 20, 30]), np.array([1.0, 2, 3]))
    shifted = drift.psi(np.array([10.0, 20, 30]), np.array([30.0, 20, 10]))
    assert same == pytest.approx(0.0) and shifted > 0.2
    assert np.isfinite(drift.psi(np.array([5.0, 0, 5]), np.array([0.0, 10, 0])))  # empty buckets stay finite


@pytest.fixture
def scored(preprocess, landing, tmp_path):
    """A drift job's base dir: the baseline from a real preprocess run, scoring data to be added."""
    preprocess.main(landing)
    base = tmp_path / "drift-job"
    (base / "input" / "baseline").mkdir(parents=True)
    for name in ("statistics.json", "scaler.json"):
        shutil.copy(landing / "output" / "artifacts" / name, base / "input" / "baseline" / name)

    def with_scoring(frame):
        folder = base / "input" / "data" / "batch-1"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        frame.to_csv(folder / "part-00000.csv", index=False)
        return base

    return with_scoring


def test_drifted_scoring_data_scores_far_above_the_training_population(drift, scored, capsys):
    steady = drift.main(scored(scoring_batch(seed=5, players=300, weeks=8)), "scarcegan")
    shifted = drift.main(scored(scoring_batch(seed=5, players=300, drift=2.0, weeks=8)), "scarcegan")

    assert steady["max_feature_psi"] < 0.2 < shifted["max_feature_psi"]
    assert "MaxFeaturePSI=" in capsys.readouterr().out
    written = json.loads((scored(scoring_batch(seed=5, players=30, weeks=8)).parent / "drift-job" / "output" / "drift" / "drift.json").read_text())
    assert written["feature_of_max"] in written["features"]


def test_scoring_data_without_telemetry_columns_is_refused(drift, scored):
    with pytest.raises(DataError, match="deposits"):
        drift.main(scored(scoring_batch(seed=5, players=30, weeks=8).drop(columns=["deposits"])), "scarcegan")


def test_drift_counted_in_chunks_equals_the_whole_batch():
    from scarcegan.baseline_statistics import baseline_statistics
    from scarcegan.drift import DriftCounts, drift_of

    # Given a baseline of two features and a shifted batch of the same features
    rng = np.random.default_rng(0)
    training = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.exponential(size=2000)})
    statistics = baseline_statistics(training)
    batch = pd.DataFrame({"a": rng.normal(0.5, 1.0, 900), "b": rng.exponential(size=900) * 3})

    # When it is counted in three chunks and at once
    counts = DriftCounts(statistics, ["a", "b"])
    for part in np.array_split(np.arange(len(batch)), 3):
        counts.add(batch.iloc[part])
    whole = drift_of(batch, statistics)

    # Then the figures are the same, and the training rows themselves show no drift
    assert counts.result() == whole and whole["players"] == 900
    assert whole["max_feature_psi"] > 0.2 and whole["feature_of_max"] in ("a", "b")
    assert drift_of(training, statistics)["max_feature_psi"] < 1e-9
    # a baseline sharing no feature gives no figure rather than a made-up one
    assert drift_of(batch.rename(columns={"a": "x", "b": "y"}), statistics)["max_feature_psi"] is None
