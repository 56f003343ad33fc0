"""FeaturePipeline: raw landed rows -> exactly the model inputs, the same at training and scoring time."""

import json

import numpy as np
import pandas as pd
import pytest
from scarcegan.errors import DataError
from scarcegan.inputs import InputSpec
from scarcegan.pipeline import FeaturePipeline

from retrainer.synthetic import featurised_batch, write_batch
from tests.unit.containers.conftest import read_output

NON_FEATURES = ("player_id", "label", "fold")
SMALL = dict(n_unlabeled=200, n_risky=20, n_dormant=60, n_normal=100, n_heavy=50, weeks=8)


def _split(out, name):
    return read_output(out, name).set_index("player_id")


@pytest.fixture(scope="module")
def featurised_landing(tmp_path_factory):
    base = tmp_path_factory.mktemp("featurised")
    write_batch(featurised_batch(seed=4, **SMALL), base / "input" / "data", fmt="parquet")
    return base


def test_test_split_is_exactly_the_pipeline_applied_to_the_test_players_raw_rows(preprocess, landing):
    # Given a telemetry landing preprocessed
    preprocess.main(landing)
    out = landing / "output"
    pipeline = FeaturePipeline.load(out / "artifacts/pipeline.json")
    # When the saved pipeline transforms the test players' raw rows (test/raw.csv)
    raw = read_output(out, "test/raw")
    scored = pipeline.transform(raw)
    # Then it gives the test split's model inputs, row for row and column for column
    test = _split(out, "test/test.csv")
    assert list(scored.columns) == pipeline.feature_names == [c for c in test.columns if c not in NON_FEATURES]
    assert scored.dtypes.unique().tolist() == [np.float32]
    assert scored.index.name == "player_id"
    np.testing.assert_allclose(scored.loc[test.index].to_numpy(), test[pipeline.feature_names].to_numpy(),
                               rtol=1e-6, atol=1e-6)


def test_featurised_parquet_landing_round_trips_through_raw_csv(preprocess, featurised_landing):
    preprocess.main(featurised_landing, input_format="features")
    out = featurised_landing / "output"
    pipeline = FeaturePipeline.load(out / "artifacts/pipeline.json")
    scored = pipeline.transform(read_output(out, "test/raw"))
    test = _split(out, "test/test.csv")
    np.testing.assert_allclose(scored.loc[test.index].to_numpy(), test[pipeline.feature_names].to_numpy(),
                               rtol=1e-6, atol=1e-6)
    # the heavy-tailed money columns were put on the log scale, the bounded shares were not
    assert {"total_deposit_amount", "max_deposit_amount"} <= set(pipeline.heavy_tail["columns"])
    assert "avg_night_share" not in pipeline.heavy_tail["columns"]
    assert "payment_method=crypto" in pipeline.feature_names
    assert "avg_night_share__missing" in pipeline.feature_names  # the landing has gaps there


def test_a_player_scores_the_same_alone_or_in_a_batch(tiny_batch):
    # Given a pipeline fitted on telemetry
    rows = pd.concat([tiny_batch["unlabeled"], tiny_batch["normal"]])
    pipeline = FeaturePipeline.fit(rows, InputSpec("telemetry"))
    # When one player is transformed alone, with a week missing for everyone else
    one = tiny_batch["risky"][tiny_batch["risky"]["player_id"] == tiny_batch["risky"]["player_id"][0]]
    batch = pd.concat([one, tiny_batch["heavy"][tiny_batch["heavy"]["week"] != 3]])
    # Then their features do not depend on who else is in the batch
    pd.testing.assert_frame_equal(pipeline.transform(one), pipeline.transform(batch).loc[one["player_id"].iloc[:1]])


def _table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer": [f"c{i}" for i in range(n)],
        "deposits": rng.lognormal(4, 1.5, n),
        "score": rng.normal(0, 1, n),
        "flag": rng.integers(0, 2, n),
        "platform": rng.choice(["ios", "android", "web"], n),
        "rare": np.where(np.arange(n) < 2, "tiny", "big"),
    })


def test_unseen_category_goes_to_its_own_column_and_heavy_tails_are_chosen_by_data():
    table = _table()
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"))
    assert pipeline.heavy_tail["columns"] == ["deposits"]  # lognormal, not the normal score or the flag
    assert "platform=__unseen__" in pipeline.feature_names
    assert "rare=tiny" not in pipeline.feature_names  # seen twice: not learnable, counted as unseen
    new = table.head(3).assign(platform=["console", "ios", "console"])
    scored = pipeline.transform(new)
    unseen = scored["platform=__unseen__"].to_numpy()
    assert unseen[0] == unseen[2] > unseen[1]
    assert scored.loc["c1", "platform=ios"] > scored.loc["c0", "platform=ios"]


@pytest.mark.parametrize(("mode", "expected"), [("none", []), ("signed-log", ["deposits", "score"])])
def test_heavy_tail_can_be_forced(mode, expected):
    pipeline = FeaturePipeline.fit(_table(), InputSpec("features", "customer"), heavy_tail=mode)
    assert pipeline.heavy_tail["columns"] == expected


def test_signed_log_is_applied_before_scaling_at_transform_time():
    table = _table()
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"), heavy_tail="signed-log")
    logged = np.log1p(table["deposits"].to_numpy())
    expected = (logged - logged.mean()) / logged.std()
    np.testing.assert_allclose(pipeline.transform(table)["deposits"].to_numpy(), expected, rtol=1e-5, atol=1e-5)


def test_numeric_gaps_are_filled_with_the_training_median_and_flagged():
    table = _table()
    table.loc[:9, "score"] = np.nan
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"))
    gap = table.iloc[[0]].copy()
    filled = gap.assign(score=float(table["score"].median()))
    a, b = pipeline.transform(gap), pipeline.transform(filled)
    assert a["score"].iloc[0] == pytest.approx(b["score"].iloc[0])
    assert a["score__missing"].iloc[0] > b["score__missing"].iloc[0]


def test_save_and_load_give_the_same_transform(tmp_path):
    table = _table()
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"))
    pipeline.save(tmp_path / "pipeline.json")
    again = FeaturePipeline.load(tmp_path / "pipeline.json")
    assert json.loads((tmp_path / "pipeline.json").read_text())["feature_names"] == pipeline.feature_names
    pd.testing.assert_frame_equal(again.transform(table), pipeline.transform(table))


@pytest.mark.parametrize(("change", "problem"), [
    (lambda t: t.drop(columns=["deposits"]), "missing column(s) deposits for input format 'features'"),
    (lambda t: t.drop(columns=["customer"]), "missing column(s) customer"),
    (lambda t: pd.concat([t, t.head(1)]), "1 duplicate player row(s), e.g. player c0"),
    (lambda t: t.assign(score=t["score"].astype(object).where(t.index != 2, "high")),
     "column score has non-numeric value 'high'"),
    (lambda t: t.iloc[:0], "no rows to transform"),
])
def test_rows_the_pipeline_cannot_read_raise_a_clear_data_error(change, problem):
    table = _table()
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"))
    with pytest.raises(DataError) as error:
        pipeline.transform(change(table), shown="scoring/part-0.csv")
    assert problem in str(error.value)
    assert error.value.file == "scoring/part-0.csv"


def test_extra_columns_such_as_label_are_ignored():
    table = _table()
    pipeline = FeaturePipeline.fit(table, InputSpec("features", "customer"))
    pd.testing.assert_frame_equal(pipeline.transform(table.assign(label="risky", notes="x")),
                                  pipeline.transform(table))
