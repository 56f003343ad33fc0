"""Evaluation of both families and the champion through their deployable artifacts."""

import json
import shutil
import tarfile

import pandas as pd
import pytest

from tests.unit.containers.conftest import read_output, stage_evaluation

from .conftest import TINY, load_entry_point


@pytest.fixture(scope="module")
def run(tmp_path_factory, preprocess, train, evaluate):
    """One small run: preprocess, a short ScarceGAN training job and the challenger job."""
    from retrainer.synthetic import generate, write_batch

    root = tmp_path_factory.mktemp("run")
    write_batch(generate(seed=3, **TINY), root / "input" / "data")
    preprocess.main(root)
    processed = root / "output"
    channels = ["--train", str(processed / "train"), "--validation", str(processed / "validation")]
    assert train.cli(["--iterations", "60", "--sample-interval", "20", "--batch-size", "8", "--seed", "1",
                      "--model-dir", str(root / "scarcegan"), "--output-data-dir", str(root / "o1"), *channels]) == 0
    assert load_entry_point("train_gb").cli(["--gb-max-iter", "40", "--model-dir", str(root / "gb"),
                                             "--output-data-dir", str(root / "o2"), *channels]) == 0
    return root


def _tar(folder, archive):
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in folder.iterdir():
            tar.add(path, arcname=path.name)


def _evaluation_base(run, base, champion=None):
    """Processing inputs as the state machine stages them."""
    _tar(run / "scarcegan", base / "input/model/model.tar.gz")
    _tar(run / "gb", base / "input/challenger/model.tar.gz")
    stage_evaluation(run / "output", base)
    if champion is not None:
        (base / "input/champion").mkdir(parents=True)
        shutil.copy(champion, base / "input/champion/model.tar.gz")
    return base


@pytest.fixture(scope="module")
def first(run, evaluate, tmp_path_factory):
    """An evaluation with no champion yet and a gate every candidate passes."""
    base = _evaluation_base(run, tmp_path_factory.mktemp("first"))
    return base, evaluate.main(base, bootstrap_resamples=40, min_recall=0.0, max_flagged_share=1.0)


def test_every_distinct_candidate_of_both_families_is_evaluated_and_packaged(run, first):
    base, report = first
    trained = [c["kind"] for c in json.loads((run / "scarcegan/candidates.json").read_text())["candidates"]]
    # Then the report lists the distinct ScarceGAN candidates and the challenger
    assert report["candidates"] == [*trained, "gradient-boosting"]
    iterations = [report[k]["iteration"] for k in trained]
    assert len(set(iterations)) == len(iterations)
    out = base / "output"
    n_test = len(read_output(run / "output", "test/test"))
    for kind in report["candidates"]:
        # each has Model Monitor statistics and a self-contained artifact
        quality = json.loads((out / "quality" / kind / "statistics.json").read_text())
        assert quality["dataset"]["item_count"] == n_test
        assert set(quality["binary_classification_metrics"]["recall"]) == {"value", "standard_deviation"}
        with tarfile.open(out / "models" / kind / "model.tar.gz") as tar:
            names = sorted(tar.getnames())
        # (statistics.json: the drift baseline, merged from preprocess's partials like the pipeline)
        assert names == sorted(["metadata.json", "pipeline.json", "statistics.json",
                                "model.joblib" if kind == "gradient-boosting" else "model.keras"])
        # and the artifact scored the raw test rows exactly as the model scores test.csv's features
        assert report[kind]["artifact_check"]["flag_disagreements"] == 0
        assert report[kind]["artifact_check"]["players"] == n_test
    assert report["gradient-boosting"]["cv"]["pr_auc"]["folds"] == 5
    # the summary the state machine reads is the champion rule's pick
    assert report["summary"]["best"] == report["best"] in report["candidates"]
    assert report["summary"]["recall"] == report[report["best"]]["recall"]
    csv = pd.read_csv(out / "report/evaluation.csv")
    assert list(csv["kind"]) == report["candidates"]
    curves = json.loads((out / "report/curves.json").read_text())
    assert sorted(curves) == sorted(report["candidates"])
    assert curves["gradient-boosting"]["roc"]["true_positive_rate"][-1] == 1.0


def test_without_champion_every_gate_passing_candidate_is_registered_as_beating_it(first):
    _, report = first
    assert report["champion"] is None and report["champion_comparable"] is False
    assert report["champion_note"].startswith("no champion")
    assert [r["kind"] for r in report["register"]] == report["candidates"]
    for entry in report["register"]:
        assert entry["beats_champion"] is True
        assert entry["model_package"] == f"models/{entry['kind']}/model.tar.gz"
        assert entry["quality_statistics"] == f"quality/{entry['kind']}/statistics.json"
        assert len(entry["content_key"]) == 64 and set(entry["metrics"]["pr_auc"]) == {"value", "low", "high"}
        assert (entry["cv"] is not None) == (entry["family"] == "gradient-boosting")


def test_intervals_contain_the_point_value(first):
    _, report = first
    assert report["intervals"]["level"] == 0.9
    for kind in report["candidates"]:
        for name, m in report[kind]["metrics"].items():
            assert m["low"] <= m["value"] <= m["high"], (kind, name, m)


def test_the_register_list_respects_the_absolute_gate(run, evaluate, tmp_path):
    # Given a gate no model can pass (recall above 1)
    base = _evaluation_base(run, tmp_path)
    report = evaluate.main(base, bootstrap_resamples=10, min_recall=1.01, max_flagged_share=1.0)
    # Then nothing is registered and each candidate says why
    assert report["register"] == []
    assert all(report[k]["gate"]["reasons"] for k in report["candidates"])


def test_a_rerun_packages_byte_identical_artifacts(run, evaluate, first, tmp_path):
    base = _evaluation_base(run, tmp_path)
    report = evaluate.main(base, bootstrap_resamples=10, min_recall=0.0, max_flagged_share=1.0)
    assert {k: report[k]["content_key"] for k in report["candidates"]} == \
        {k: first[1][k]["content_key"] for k in first[1]["candidates"]}


def test_the_champion_is_rescored_on_the_same_players(run, evaluate, first, tmp_path):
    # Given the approved champion is this very challenger (same artifact)
    champion = first[0] / "output/models/gradient-boosting/model.tar.gz"
    base = _evaluation_base(run, tmp_path, champion)

    # When evaluate runs with the champion's version
    report = evaluate.main(base, bootstrap_resamples=40, min_recall=0.0, max_flagged_share=1.0,
                           champion_version="7")

    # Then the champion has the same figures as the identical candidate, with intervals
    assert report["champion_comparable"] is True and report["champion"]["version"] == "7"
    assert report["champion"]["metrics"]["pr_auc"] == report["gradient-boosting"]["metrics"]["pr_auc"]
    # and a candidate that only equals it does not beat it; the paired difference is exactly 0
    assert report["gradient-boosting"]["beats_champion"] is False
    assert report["gradient-boosting"]["vs_champion"]["value"] == 0.0
    flags = {r["kind"]: r["beats_champion"] for r in report["register"]}
    for kind, beats in flags.items():
        assert beats == (report[kind]["metrics"]["pr_auc"]["value"] > report["champion"]["metrics"]["pr_auc"]["value"])
    assert "champion" in json.loads((base / "output/report/curves.json").read_text())


def test_an_old_format_champion_is_reported_not_comparable(run, evaluate, tmp_path):
    # Given the approved version is an artifact of the earlier format (model, metadata, scaler.json)
    old = tmp_path / "old"
    old.mkdir()
    kind = json.loads((run / "scarcegan/candidates.json").read_text())["candidates"][0]["kind"]
    shutil.copy(run / "scarcegan" / kind / "model.keras", old / "model.keras")
    (old / "metadata.json").write_text(json.dumps({"kind": kind, "class_order": ["a"]}))
    shutil.copy(run / "output/artifacts/scaler.json", old / "scaler.json")
    _tar(old, tmp_path / "old.tar.gz")
    base = _evaluation_base(run, tmp_path / "eval", tmp_path / "old.tar.gz")

    # When evaluate runs, Then it does not fail: it says why the champion cannot be compared
    report = evaluate.main(base, bootstrap_resamples=10, min_recall=0.0, max_flagged_share=1.0,
                           champion_version="3")
    assert report["champion_comparable"] is False
    assert report["champion_note"].startswith("champion not comparable: ")
    assert "old-format" in report["champion_note"] and "pipeline.json" in report["champion_note"]
    assert report["champion"] == {"version": "3", "comparable": False, "reason": report["champion_note"],
                                  "metrics": None}
    assert all(r["beats_champion"] for r in report["register"])


def test_without_a_challenger_job_the_scarcegan_candidates_are_still_evaluated(run, evaluate, tmp_path):
    base = _evaluation_base(run, tmp_path)
    (base / "input/challenger/model.tar.gz").unlink()
    report = evaluate.main(base, bootstrap_resamples=10, min_recall=0.0, max_flagged_share=1.0)
    assert "gradient-boosting" not in report["candidates"] and report["candidates"]
    assert report["notes"] == ["no challenger: input/challenger/model.tar.gz absent"]


def test_evaluate_cli_refuses_an_unknown_parameter(evaluate, tmp_path, capsys):
    code = evaluate.cli(["--base-dir", str(tmp_path), "--champion-metric", "accuracy"])
    assert code == 1
    assert capsys.readouterr().err.strip().startswith("ERROR: arguments: --champion-metric must be one of")


@pytest.mark.parametrize("source", ["gb", "scarcegan"])
def test_an_artifact_scores_raw_landing_rows_on_its_own(run, tmp_path, source):
    from scarcegan import artifact

    # Given a candidate packaged with preprocess's pipeline
    listing = json.loads((run / source / "candidates.json").read_text())["candidates"]
    folder = run / source / listing[0]["kind"]
    metadata = json.loads((folder / "metadata.json").read_text())
    key = artifact.package(tmp_path / "model.tar.gz", folder, run / "output/artifacts/pipeline.json", metadata)

    # When it is loaded from the archive alone and given the test players' raw landing rows
    scorer = artifact.load(tmp_path / "model.tar.gz")
    scored = scorer.score(read_output(run / "output", "test/raw"))

    # Then every test player gets a score and a flag by the artifact's own threshold
    test = read_output(run / "output", "test/test")
    assert list(scored.columns) == ["player_id", "score", "flagged"]
    assert sorted(scored["player_id"]) == sorted(test["player_id"])
    assert (scored["flagged"] == (scored["score"] >= metadata["threshold"])).all()
    # the same as the model on preprocess's features
    direct = scorer.score_features(test).set_index("player_id")["score"]
    assert (scored.set_index("player_id")["score"] - direct.reindex(scored["player_id"]).to_numpy()).abs().max() < 1e-6
    # and packaging again gives the same bytes (the registration key)
    assert artifact.package(tmp_path / "again.tar.gz", folder, run / "output/artifacts/pipeline.json", metadata) == key
    assert artifact.archive_sha256(tmp_path / "model.tar.gz") == key


def test_scarcegan_score_at_one_half_is_the_argmax_rule():
    import numpy as np
    from scarcegan.artifact import scarcegan_score

    classes = ("dormant", "normal", "heavy", "risky", "unknown")
    p = np.array([[0.1, 0.1, 0.1, 0.6, 0.1], [0.3, 0.1, 0.1, 0.25, 0.25], [0.0, 0.0, 0.0, 0.0, 1.0]])
    assert list(scarcegan_score(p, classes) > 0.5) == list(p.argmax(axis=1) == 3) == [True, False, False]
