"""score.py: a landed scoring batch -> flags of every player by the registered artifact, and drift."""

import json
import tarfile

import numpy as np
import pandas as pd
import pytest

from tests.unit.containers.conftest import read_output

from .conftest import TINY, load_entry_point

FLAG_COLUMNS = ["player_id", "score", "flagged", "model_version", "threshold"]


@pytest.fixture(scope="module")
def score():
    return load_entry_point("score")


def _train_gb(root, processed):
    channels = ["--train", str(processed / "train"), "--validation", str(processed / "validation")]
    assert load_entry_point("train_gb").cli(["--gb-max-iter", "30", "--model-dir", str(root / "gb"),
                                             "--output-data-dir", str(root / "o"), *channels]) == 0
    return root / "gb" / "gradient-boosting"


def _package(root, folder, name, baseline=True):
    from scarcegan import artifact

    artifacts = root / "output" / "artifacts"
    metadata = json.loads((folder / "metadata.json").read_text())
    artifact.package(root / name, folder, artifacts / "pipeline.json", metadata,
                     artifacts / "statistics.json" if baseline else None)
    return root / name


@pytest.fixture(scope="module")
def telemetry_model(tmp_path_factory, preprocess):
    """A telemetry run (tiny landing, preprocess, the challenger) packaged as registered, with and
    without the baseline; also the training players' raw rows."""
    from retrainer.synthetic import generate, write_batch

    root = tmp_path_factory.mktemp("telemetry")
    groups = generate(seed=3, **TINY)
    write_batch(groups, root / "input" / "data")
    preprocess.main(root)
    folder = _train_gb(root, root / "output")
    trained = set(read_output(root / "output", "train/train")["player_id"])
    rows = pd.concat(groups.values(), ignore_index=True)
    rows["player_id"] = rows["player_id"].astype(str)
    training_rows = rows[rows["player_id"].isin(trained) | rows["player_id"].isin(
        groups["unlabeled"]["player_id"].astype(str))].drop(columns=[])
    return {"archive": _package(root, folder, "model.tar.gz"),
            "no_baseline": _package(root, folder, "old.tar.gz", baseline=False),
            "training_rows": training_rows.reset_index(drop=True)}


@pytest.fixture(scope="module")
def features_model(tmp_path_factory, preprocess):
    """A featurised run (one row per player, categoricals, gaps) landed as Parquet."""
    from retrainer.synthetic import featurised_batch, write_batch

    root = tmp_path_factory.mktemp("features")
    small = dict(n_unlabeled=300, n_risky=20, n_dormant=80, n_normal=120, n_heavy=60, weeks=8)
    write_batch(featurised_batch(seed=4, **small), root / "input" / "data", fmt="parquet")
    preprocess.main(root, input_format="features", categorical_columns="platform,country,payment_method")
    folder = _train_gb(root, root / "output")
    scoring = featurised_batch(seed=11, **small)["unlabeled"]
    return {"archive": _package(root, folder, "model.tar.gz"), "scoring": scoring}


def _job(base, archive, files, manifest=None):
    """A Processing job's base dir as the state machine stages it: the landing and the artifact."""
    (base / "input" / "model").mkdir(parents=True)
    (base / "input" / "model" / "model.tar.gz").write_bytes(archive.read_bytes())
    data = base / "input" / "data"
    data.mkdir(parents=True)
    for name, frame in files.items():
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(frame, bytes):
            path.write_bytes(frame)
        elif name.endswith(".parquet"):
            frame.to_parquet(path, index=False)
        else:
            frame.to_csv(path, index=False)
    (data / "_SUCCESS").write_bytes(b"")
    if manifest is not None:
        (data / "_manifest.json").write_text(json.dumps(manifest))
    return base


def _flags(base):
    parquet = pd.read_parquet(base / "output/flags/flags.parquet")
    csv = pd.read_csv(base / "output/flags/flags.csv", dtype={"player_id": str})
    return parquet, csv


def test_a_telemetry_batch_is_scored_once_per_player_in_chunks_as_on_the_whole_frame(score, telemetry_model,
                                                                                   tmp_path, capsys):
    from scarcegan import artifact

    from retrainer.synthetic import scoring_batch

    # Given a scoring landing of 120 players in three files, one player's weeks split over two of them
    batch = scoring_batch(seed=5, players=120, weeks=8)
    ids = batch["player_id"].unique()
    first = batch["player_id"].isin(ids[:60]) | ((batch["player_id"] == ids[60]) & (batch["week"] <= 4))
    second = ~first & batch["player_id"].isin(ids[:90])
    base = _job(tmp_path, telemetry_model["archive"],
                {"day=1/part-00000.csv": batch[first], "day=2/part-00000.parquet": batch[second],
                 "day=2/part-00001.csv": batch[~first & ~second],
                 ".hidden/part-9.csv": batch.head(3), "_temporary/part-9.csv": batch.head(3)})

    # When the job scores it in chunks of at most 300 landed rows
    summary = score.main(base, "scarcegan", 3, chunk_rows=300)

    # Then every landed player has exactly one flag row, in Parquet and CSV alike
    parquet, csv = _flags(base)
    assert list(parquet.columns) == list(csv.columns) == FLAG_COLUMNS
    assert sorted(parquet["player_id"]) == sorted(map(str, ids)) and parquet["player_id"].is_unique
    pd.testing.assert_frame_equal(parquet, csv, check_exact=False)
    # flagged by the artifact's own threshold, attributed to the version scored
    scorer = artifact.load(telemetry_model["archive"])
    assert (parquet["flagged"] == (parquet["score"] >= scorer.threshold)).all()
    assert set(parquet["model_version"]) == {3} and set(parquet["threshold"]) == {scorer.threshold}
    # chunking changes nothing: the same scores as evaluate's way (the whole frame at once)
    whole = scorer.score(batch).set_index("player_id")["score"]
    assert np.allclose(parquet.set_index("player_id")["score"].reindex(whole.index), whole, atol=1e-9)
    assert summary["chunks"] >= 4 and summary["largest_chunk_rows"] <= 300
    assert {k: summary[k] for k in ("rows", "flagged", "model_version", "family", "data_files", "landed_rows")} == \
        {"rows": 120, "flagged": int(parquet["flagged"].sum()), "model_version": 3,
         "family": "gradient-boosting", "data_files": 3, "landed_rows": len(batch)}
    assert summary["flagged_share"] == pytest.approx(parquet["flagged"].mean())
    assert json.loads((base / "output/flags/summary.json").read_text()) == summary
    assert summary["drift_available"] is True and summary["feature_of_max"] in scorer.feature_names
    out = capsys.readouterr().out
    assert f"Rows=120; Flagged={summary['flagged']};" in out and "MaxFeaturePSI=" in out
    assert [p.name for p in base.iterdir()] == ["input", "output"]  # no staging left behind


def test_a_featurised_parquet_batch_keeps_the_landed_ids_of_the_declared_id_column(score, features_model, tmp_path):
    # Given featurised rows whose ids are text with leading zeros, in a column the manifest declares
    scoring = features_model["scoring"].rename(columns={"player_id": "account"})
    scoring["account"] = [f"{i:07d}" for i in range(len(scoring))]
    halves = np.array_split(np.arange(len(scoring)), 2)
    base = _job(tmp_path, features_model["archive"],
                {f"part-{i}.parquet": scoring.iloc[h] for i, h in enumerate(halves)},
                manifest={"id-column": "account", "input-format": "features"})

    # When it is scored in row chunks
    summary = score.main(base, "scarcegan", 7, chunk_rows=64)

    # Then the flags join 1:1 with the landed ids, exactly as landed
    parquet, csv = _flags(base)
    joined = scoring[["account"]].merge(parquet, left_on="account", right_on="player_id", how="outer",
                                        validate="one_to_one", indicator=True)
    assert (joined["_merge"] == "both").all() and len(joined) == len(scoring)
    assert list(csv["player_id"]) == list(parquet["player_id"])
    assert summary["rows"] == len(scoring) and summary["chunks"] >= 6 and summary["id_column"] == "account"
    assert (parquet["flagged"] == (parquet["score"] >= summary["threshold"])).all()


def _corrupt_parquet(frame):
    import io

    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()[: len(buffer.getvalue()) // 2]


@pytest.mark.parametrize("case, file_in_error", [
    ("no data files", "input/data/"),
    ("header only", "input/data/"),
    ("missing column", "input/data/b/part-1.csv"),
    ("corrupt parquet", "input/data/b/part-1.parquet"),
    ("non-numeric value", "input/data/b/part-1.csv"),
    ("player in two files", "input/data/"),
])
def test_a_bad_batch_fails_with_one_line_and_writes_no_flags(score, telemetry_model, tmp_path, capsys,
                                                              case, file_in_error):
    from retrainer.synthetic import scoring_batch

    # Given a landing with one bad part (the other part is fine and comes first)
    batch = scoring_batch(seed=6, players=40, weeks=8)
    ids = batch["player_id"].unique()
    good, rest = batch[batch["player_id"].isin(ids[:20])], batch[~batch["player_id"].isin(ids[:20])]
    files = {"a/part-0.csv": good}
    if case == "no data files":
        files = {}
    elif case == "header only":
        files = {"a/part-0.csv": batch.head(0)}
    elif case == "missing column":
        files["b/part-1.csv"] = rest.drop(columns=["deposits"])
    elif case == "corrupt parquet":
        files["b/part-1.parquet"] = _corrupt_parquet(rest)
    elif case == "non-numeric value":
        files["b/part-1.csv"] = rest.astype({"bets": object}).assign(bets=lambda f: f["bets"].where(f.index != f.index[3], "n/a"))
    else:  # featurised: the same player twice is one row too many
        pass
    if case == "player in two files":
        files = {"a/part-0.parquet": good, "b/part-1.parquet": good}
    base = _job(tmp_path, telemetry_model["archive"], files)

    # When the job runs as SageMaker starts it
    code = score.cli(["--base-dir", str(base), "--model", "scarcegan", "--model-version", "3"])

    # Then it fails with one ERROR line naming the file, and nothing is written under output/flags
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and err.startswith(f"ERROR: {file_in_error}"), err
    assert not (base / "output").exists()
    assert [p.name for p in base.iterdir()] == ["input"]


def test_a_features_batch_with_a_player_twice_is_refused(score, features_model, tmp_path, capsys):
    scoring = features_model["scoring"]
    base = _job(tmp_path, features_model["archive"],
                {"part-0.parquet": scoring, "part-1.parquet": scoring.head(5)})
    code = score.cli(["--base-dir", str(base), "--model-version", "1", "--chunk-rows", "50"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("ERROR: input/data/part-1.parquet: player ") and "more than one" in err
    assert not (base / "output").exists()


def test_unknown_arguments_and_a_missing_version_are_refused_in_one_line(score, tmp_path, capsys):
    assert score.cli(["--base-dir", str(tmp_path), "--model-version", "1", "--threshold", "0.3"]) == 1
    assert capsys.readouterr().err.strip().startswith("ERROR: arguments: unknown parameter --threshold")
    assert score.cli(["--base-dir", str(tmp_path)]) == 1
    assert "--model-version" in capsys.readouterr().err
    # SageMaker's own arguments are ignored, a missing artifact is named
    assert score.cli(["--base-dir", str(tmp_path), "--model-version", "1", "--sagemaker_program", "x"]) == 1
    assert capsys.readouterr().err.strip().startswith("ERROR: input/model/model.tar.gz: missing")


def test_an_artifact_without_a_baseline_scores_and_reports_drift_unavailable(score, telemetry_model, tmp_path,
                                                                               capsys, monkeypatch):
    from retrainer.synthetic import scoring_batch

    put = []
    monkeypatch.setattr(score, "put_max_psi", lambda *a: put.append(a))
    base = _job(tmp_path, telemetry_model["no_baseline"], {"part-0.csv": scoring_batch(seed=5, players=50, weeks=8)})

    summary = score.main(base, "scarcegan", 2, metric_namespace="Retrainer/Drift")

    assert summary["rows"] == 50 and len(pd.read_parquet(base / "output/flags/flags.parquet")) == 50
    assert summary["max_feature_psi"] is None and summary["drift_available"] is False
    drift = json.loads((base / "output/drift/drift.json").read_text())
    assert drift["available"] is False and "no training baseline" in drift["reason"]
    assert put == []  # no made-up figure for the alarm
    assert "Drift=unavailable;" in capsys.readouterr().out


def test_drift_is_nil_on_the_training_players_and_large_on_a_shifted_batch(score, telemetry_model, tmp_path,
                                                                          monkeypatch, capsys):
    from retrainer.synthetic import scoring_batch

    put = []
    monkeypatch.setattr(score, "put_max_psi", lambda *a: put.append(a))
    # Given the model's own training players landed again, and a batch with 3x the activity and money
    same = _job(tmp_path / "same", telemetry_model["archive"], {"p.csv": telemetry_model["training_rows"]})
    shifted = _job(tmp_path / "shift", telemetry_model["archive"],
                   {"p.csv": scoring_batch(seed=5, players=300, drift=2.0, weeks=8)})

    # When both are scored (in chunks) with a metric namespace
    steady = score.main(same, "scarcegan", 1, metric_namespace="Retrainer/Drift", chunk_rows=500)
    moved = score.main(shifted, "scarcegan", 1, metric_namespace="Retrainer/Drift", chunk_rows=500)

    # Then the training distribution has no drift at all, the shifted batch a lot
    assert steady["max_feature_psi"] < 1e-3
    assert moved["max_feature_psi"] > 0.5
    assert put == [("Retrainer/Drift", "scarcegan", steady["max_feature_psi"]),
                   ("Retrainer/Drift", "scarcegan", moved["max_feature_psi"])]
    drift = json.loads((shifted / "output/drift/drift.json").read_text())
    assert drift["max_feature_psi"] == moved["max_feature_psi"] == max(drift["features"].values())
    assert drift["players"] == 300 and drift["model"] == "scarcegan"


def test_the_artifact_carries_the_baseline_and_stays_deterministic(telemetry_model, tmp_path):
    from scarcegan import artifact

    # Given the same candidate packaged again with its baseline, and once without
    with tarfile.open(telemetry_model["archive"]) as tar:
        assert "statistics.json" in tar.getnames()
    scorer = artifact.load(telemetry_model["archive"])
    # Then the baseline describes exactly the model's inputs, and loads with the artifact
    assert [f["name"] for f in scorer.baseline["features"]] == scorer.feature_names
    assert scorer.metadata["baseline"] == "statistics.json"
    assert artifact.load(telemetry_model["no_baseline"]).baseline is None
    root = telemetry_model["archive"].parent
    again = _package(root, root / "gb" / "gradient-boosting", "again.tar.gz")
    assert artifact.archive_sha256(again) == artifact.archive_sha256(telemetry_model["archive"])
    assert artifact.archive_sha256(telemetry_model["no_baseline"]) != artifact.archive_sha256(again)


def test_preprocess_baseline_is_built_on_the_scaled_model_inputs(telemetry_model):
    # the baseline's statistics are those of train.csv + unlabeled.csv's feature columns (the pipeline output)
    root = telemetry_model["archive"].parent / "output"
    statistics = json.loads((root / "artifacts/statistics.json").read_text())
    inputs = pd.concat([read_output(root, "train/train"), read_output(root, "train/unlabeled")])
    for feature in statistics["features"]:
        values = inputs[feature["name"]]
        assert feature["numerical_statistics"]["mean"] == pytest.approx(values.mean(), abs=1e-5)
        assert feature["numerical_statistics"]["common"]["num_present"] == len(values)


def test_a_scarcegan_artifact_scores_a_batch_through_the_job(score, telemetry_model, train, tmp_path, capsys):
    from scarcegan import artifact

    from retrainer.synthetic import scoring_batch

    # Given a short ScarceGAN training on the same run, packaged as evaluate packages it
    root = telemetry_model["archive"].parent
    processed = root / "output"
    assert train.cli(["--iterations", "40", "--sample-interval", "20", "--batch-size", "8", "--seed", "1",
                      "--model-dir", str(tmp_path / "gan"), "--output-data-dir", str(tmp_path / "o"),
                      "--train", str(processed / "train"), "--validation", str(processed / "validation")]) == 0
    kind = json.loads((tmp_path / "gan/candidates.json").read_text())["candidates"][0]["kind"]
    metadata = json.loads((tmp_path / "gan" / kind / "metadata.json").read_text())
    archive = tmp_path / "gan.tar.gz"
    artifact.package(archive, tmp_path / "gan" / kind, processed / "artifacts/pipeline.json", metadata,
                     processed / "artifacts/statistics.json")
    batch = scoring_batch(seed=9, players=80, weeks=8)
    base = _job(tmp_path / "job", archive, {"part-0.parquet": batch})

    # When the job scores it (as SageMaker starts it)
    assert score.cli(["--base-dir", str(base), "--model", "scarcegan", "--model-version", "4",
                      "--chunk-rows", "200"]) == 0

    # Then the flags are the artifact's own scores, one per player
    flags = pd.read_parquet(base / "output/flags/flags.parquet")
    whole = artifact.load(archive).score(batch).set_index("player_id")["score"]
    assert sorted(flags["player_id"]) == sorted(whole.index)
    assert np.allclose(flags.set_index("player_id")["score"].reindex(whole.index), whole, atol=1e-6)
    summary = json.loads((base / "output/flags/summary.json").read_text())
    assert summary["family"] == "scarcegan" and summary["kind"] == kind and summary["rows"] == 80
    assert "Rows=80;" in capsys.readouterr().out
