"""Issue 11: the approved model at work. Scoring landings are scored by the latest Approved version in
scoring runs of their own (flags, drift, Players Flagged); an approval re-scores the newest batch; no
approved version or bad data ends clearly; featurised landings train and score end to end."""

import json
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from retrainer import review, synthetic
from retrainer.demo import land_scoring
from tests.utils.stack import clients, ended, ledger_of, run_where, settled, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(trained_run):
    """The shared run and its registered versions."""
    sagemaker, = clients("sagemaker")
    return trained_run, [v for v in review.versions(sagemaker, "scarcegan-models") if v["run_id"] == trained_run["run_id"]]


def withdraw_approvals():
    sagemaker, = clients("sagemaker")
    for version in review.versions(sagemaker, "scarcegan-models", "Approved"):
        review.review(sagemaker, version["arn"], "Rejected", "test: no champion")


def approve(version):
    sagemaker, = clients("sagemaker")
    return review.review(sagemaker, version["arn"], "Approved", "test: approved")


def scoring_runs(local_stack, batch):
    return [r for r in ledger_of(local_stack).runs(500) if r.get("kind") == "scoring" and r.get("batch") == batch]


def scored(local_stack, batch, version=None, timeout=180):
    def done():
        found = [r for r in scoring_runs(local_stack, batch) if r["status"] in ("SUCCEEDED", "FAILED", "SKIPPED")
                 and (version is None or r.get("model_version", {}).get("version") == version)]
        return found[0] if found else None

    return wait_until(done, timeout, 1, f"the scoring run of {batch}")


def flag_objects(local_stack, batch):
    s3, = clients("s3")
    listed = s3.list_objects_v2(Bucket=local_stack.provisioned.outputs["ArtifactsBucketName"], Prefix=f"flags/scarcegan/{batch}/")
    return sorted(o["Key"].rsplit("/", 1)[-1] for o in listed.get("Contents", []))


def test_without_an_approved_version_a_scoring_batch_is_skipped_with_its_reason(local_stack, trained):
    withdraw_approvals()
    s3, = clients("s3")
    land_scoring(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-no-champion", drift=0.0)

    run = scored(local_stack, "it-no-champion", timeout=60)

    assert run["status"] == "SKIPPED" and "no approved version in scarcegan-models" in run["reason"]
    assert flag_objects(local_stack, "it-no-champion") == []


def test_the_approved_version_flags_every_landed_player_once(local_stack, trained, cli_run, tmp_path):
    run, versions = trained
    challenger = next(v for v in versions if v["family"] == "gradient-boosting")
    approve(challenger)
    s3, = clients("s3")
    batch = "it-scored"
    land_scoring(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", batch, drift=0.0)

    scoring = scored(local_stack, batch, challenger["version"])

    assert scoring["status"] == "SUCCEEDED", scoring.get("failure")
    assert flag_objects(local_stack, batch) == ["flags.csv", "flags.parquet", "summary.json"]
    out = tmp_path / "flags.csv"
    code, said, _ = cli_run("scores", batch, "--out", out)
    assert code == 0 and f"by v{challenger['version']}" in said
    flags = pd.read_csv(out, dtype={"player_id": str})
    landed = synthetic.scoring_batch(seed=8, drift=0.0)["player_id"].astype(str).unique()
    assert list(flags.columns) == ["player_id", "score", "flagged", "model_version"]
    assert sorted(flags["player_id"]) == sorted(landed)  # 1:1 with the landed players
    assert (flags["model_version"] == challenger["version"]).all()
    # the flagged share is the evaluation's within 3 points: the scoring batch is unlabelled players (~1%
    # hidden risky) where the test split is labelled (~1.5% risky); measured over 3 training seeds and
    # every candidate, the scoring share was 0.2 to 1.1 points below evaluate's
    evaluation_share = challenger_share(run, challenger["kind"])
    assert abs(flags["flagged"].mean() - evaluation_share) <= 0.03
    assert scoring["scoring"]["rows"] == len(landed) and scoring["scoring"]["flagged"] == int(flags["flagged"].sum())


def challenger_share(run, kind):
    s3, = clients("s3")
    gate = run["spec"]["quality_gate"]
    return json.loads(s3.get_object(Bucket=gate["report_bucket"], Key=gate["report_key"])["Body"].read())[kind]["share_flagged"]


def test_an_approval_re_scores_the_newest_batch_with_the_new_champion(local_stack, trained):
    _, versions = trained
    other = next(v for v in versions if v["family"] == "scarcegan")
    approve(other)

    rescored = scored(local_stack, "it-scored", other["version"])

    assert rescored["status"] == "SUCCEEDED", rescored.get("failure")
    assert rescored["trigger"]["type"] == "approval" and rescored["model_version"]["version"] == other["version"]


def test_bad_scoring_data_fails_with_file_and_problem_and_writes_no_flags(local_stack, trained):
    s3, = clients("s3")
    bucket, batch = local_stack.provisioned.outputs["LandingBucketName"], "it-bad-scoring"
    s3.put_object(Bucket=bucket, Key=f"scoring/scarcegan/{batch}/part-00000.csv", Body=b"player_id,week\nP1,1\n")
    s3.put_object(Bucket=bucket, Key=f"scoring/scarcegan/{batch}/_SUCCESS", Body=b"")

    run = scored(local_stack, batch)

    assert run["status"] == "FAILED" and run["failure"]["step"] == "Score"
    assert "part-00000.csv" in run["failure"]["cause"] and "missing column" in run["failure"]["cause"]
    assert flag_objects(local_stack, batch) == []


def test_drifted_scoring_data_raises_the_drift_alarm_and_retrains(local_stack, trained):
    s3, cloudwatch = clients("s3", "cloudwatch")
    bucket = local_stack.provisioned.outputs["LandingBucketName"]
    approve(next(v for v in trained[1] if v["family"] == "scarcegan"))
    settled(local_stack)
    land_scoring(s3, bucket, "scarcegan", "it-drifted", drift=2.0)

    drifted = scored(local_stack, "it-drifted")
    assert drifted["status"] == "SUCCEEDED", drifted.get("failure")
    psi = cloudwatch.get_metric_statistics(Namespace="Retrainer/Drift", MetricName="MaxFeaturePSI", Dimensions=[{"Name": "Model", "Value": "scarcegan"}],
                                           StartTime=time.time() - 600, EndTime=time.time() + 60, Period=60, Statistics=["Maximum"])["Datapoints"]
    assert max(p["Maximum"] for p in psi) > 0.2

    run = run_where(local_stack, lambda r: r["trigger"].get("alarm_name") == "retrainer-drift-scarcegan-psi", what="the drift retrain")
    assert ended(local_stack, run["run_id"])["status"] == "SUCCEEDED"
    settled(local_stack)


def land_featurised(s3, bucket, root, batch, tables, complete=True):
    """Featurised groups (or one table, for scoring) as Parquet part files; with complete=True the
    manifest saying how to read them and the marker."""
    prefix = f"{root}/scarcegan/{batch}/"
    with tempfile.TemporaryDirectory() as folder:
        for path in synthetic.write_batch(tables, folder, fmt="parquet"):
            s3.upload_file(str(path), bucket, prefix + Path(path).relative_to(folder).as_posix())
    if complete:
        s3.put_object(Bucket=bucket, Key=prefix + "_manifest.json", Body=json.dumps({"input-format": "features"}).encode())
        s3.put_object(Bucket=bucket, Key=prefix + "_SUCCESS", Body=b"")
    return f"s3://{bucket}/{prefix}"


def test_a_featurised_landing_trains_both_families_and_its_scoring_batch_is_flagged(local_stack, cli_run):
    s3, sagemaker = clients("s3", "sagemaker")
    bucket = local_stack.provisioned.outputs["LandingBucketName"]
    settled(local_stack)
    uri = land_featurised(s3, bucket, "incoming", f"it-features-{uuid.uuid4().hex[:6]}", synthetic.featurised_batch(seed=3),
                          complete=False)  # no marker, no manifest: the user says how to read it

    code, said, err = cli_run("start", "--model", "scarcegan", "--data", uri, "--param", "input-format=features", "--wait")

    assert code == 0, err
    run = ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri)["run_id"])
    assert run["status"] == "SUCCEEDED" and run["spec"]["parameters"]["data"]["input-format"] == "features"
    models = [v for v in review.versions(sagemaker, "scarcegan-models") if v["run_id"] == run["run_id"]]
    assert {m["family"] for m in models} == {"scarcegan", "gradient-boosting"}
    assert all(m["intervals"]["pr_auc"]["low"] <= m["intervals"]["pr_auc"]["value"] <= m["intervals"]["pr_auc"]["high"] for m in models)
    approve(next(m for m in models if m["family"] == "gradient-boosting"))
    settled(local_stack)

    scoring_players = synthetic.featurised_batch(seed=9)["unlabeled"]
    batch = "it-features-scoring"
    land_featurised(s3, bucket, "scoring", batch, {"players": scoring_players})  # with its manifest, as a landing declares itself
    scoring = scored(local_stack, batch)

    assert scoring["status"] == "SUCCEEDED", scoring.get("failure")
    code, said, _ = cli_run("scores", batch, "--json")
    assert code == 0 and json.loads(said)["rows"] == scoring_players["player_id"].nunique()
