"""Issue 14 on the local stack: every run is an MLflow run on the stack's own tracking server, read
back with the official client (mlflow.search_runs) and shown by MLflow's UI in headless Chromium."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from retrainer import runs
from tests.utils.mlflow_client import PROBE, mlflow_python, search_runs
from tests.utils.stack import clients, ledger_of

pytestmark = pytest.mark.integration
EXPERIMENT = "scarcegan-retraining"
CHROMIUM = "/usr/bin/chromium"
UI_PROBE = PROBE.with_name("mlflow_ui_probe.py")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "mlflow-run.png"


@pytest.fixture(scope="module")
def tracking_uri(local_stack):
    mlflow_python()  # skips, saying how to build it, without the MLflow venv
    assert local_stack.mlflow.ready, f"the local MLflow server did not start: see {local_stack.mlflow.home / 'server.log'}"
    return local_stack.mlflow.uri


@pytest.fixture(scope="module")
def tracked(trained_run, tracking_uri):
    """The trained run's MLflow runs: (the run, {candidate kind: its nested run})."""
    found = search_runs(tracking_uri, EXPERIMENT, trained_run["run_id"])
    parents = [r for r in found if "mlflow.parentRunId" not in r["tags"]]
    assert len(parents) == 1, [r["name"] for r in found]
    return parents[0], {r["tags"]["retrainer.candidate"]: r for r in found if "mlflow.parentRunId" in r["tags"]}


def evaluation_of(run):
    s3, = clients("s3")
    gate = run["spec"]["quality_gate"]
    return json.loads(s3.get_object(Bucket=gate["report_bucket"], Key=gate["report_key"])["Body"].read())


def test_local_status_shows_the_tracking_uri_and_ui_prints_it(cli_run, tracking_uri):
    code, out, _ = cli_run("local", "status")
    assert code == 0 and json.loads(out)["mlflow"]["uri"] == tracking_uri

    code, out, _ = cli_run("ui")
    assert code == 0 and out.strip() == tracking_uri


def test_the_run_has_its_parameters_versions_trigger_and_training_curve(tracked, trained_run, cli_run):
    run, _ = tracked
    spec = trained_run["spec"]

    assert run["status"] == "FINISHED" and run["name"] == trained_run["run_id"]
    assert {k: v for k, v in run["params"].items() if k.startswith("scarcegan.")} == {f"scarcegan.{k}": v for k, v in spec["parameters"]["scarcegan"].items()}
    assert run["params"]["data.version"] == spec["data"]["version"] and run["params"]["code.version"] == spec["code_version"]
    assert run["tags"]["retrainer.trigger"] == "data-landing"
    curve = run["history"]["Val_Recall_Risky"]
    steps = [step for step, _ in curve]
    assert len(set(steps)) > 1 and steps == sorted(steps)  # per iteration, step = the job's own Iteration
    assert all(0 <= value <= 1 for _, value in curve)
    assert run["metrics"]["cost_usd"] >= 0 and "step.train.seconds" in run["metrics"]
    assert "evaluation/evaluation.json" in run["artifacts"] and "evaluation/curves.json" in run["artifacts"]
    code, out, _ = cli_run("ui", trained_run["run_id"])
    assert code == 0 and out.strip().endswith(f"/#/experiments/{run['experiment_id']}/runs/{run['run_id']}")


def test_every_candidate_has_its_metrics_with_intervals_and_its_registry_version(tracked, trained_run):
    run, candidates = tracked
    evaluation = evaluation_of(trained_run)
    sagemaker, = clients("sagemaker")
    registered = {m["kind"]: m for m in runs.models(sagemaker, trained_run["spec"]["model_package_group"], trained_run["run_id"])}

    assert set(candidates) == set(evaluation["candidates"]) and registered
    for kind in evaluation["candidates"]:
        expected = evaluation[kind]["metrics"]
        assert run["metrics"][f"{kind}.recall"] == pytest.approx(expected["recall"]["value"])
        metrics = candidates[kind]["metrics"]
        for name in ("recall", "precision", "pr_auc"):
            assert metrics[f"{name}_low"] <= metrics[name] <= metrics[f"{name}_high"]
            assert metrics[name] == pytest.approx(expected[name]["value"])
        assert metrics["beats_champion"] == (1.0 if evaluation[kind]["beats_champion"] else 0.0)
        assert candidates[kind]["tags"]["mlflow.parentRunId"] == run["run_id"]
        if kind in registered:
            assert candidates[kind]["tags"]["sagemaker.model_package_arn"] == registered[kind]["arn"]
            assert "model_package.json" in candidates[kind]["artifacts"]
        assert "statistics.json" in candidates[kind]["artifacts"]


def test_tracking_the_same_run_again_adds_nothing(tracked, trained_run, local_stack, tracking_uri):
    from retrainer_core.mlflow_rest import MlflowRest
    from retrainer_core.run_records import RunRecords
    from retrainer_core.tracking import track

    before, candidates = tracked
    sfn, = clients("stepfunctions")
    arn = local_stack.provisioned.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:")
    execution = sfn.describe_execution(executionArn=f"{arn}:{trained_run['attempts'][-1]['execution']}")
    detail = {"name": execution["name"], "status": execution["status"], "input": execution["input"],
              "startDate": int(execution["startDate"].timestamp() * 1000), "stopDate": int(execution["stopDate"].timestamp() * 1000)}
    ledger = ledger_of(local_stack)

    again = track(detail, ledger.run(trained_run["run_id"]), MlflowRest(tracking_uri), RunRecords(), ledger.registration)

    after = search_runs(tracking_uri, EXPERIMENT, trained_run["run_id"])
    assert again == before["run_id"] and len(after) == 1 + len(candidates)
    rerun = next(r for r in after if r["run_id"] == before["run_id"])
    assert rerun["history"] == before["history"]


def test_the_mlflow_ui_renders_the_run_and_its_metric_chart_in_headless_chromium(tracked, tracking_uri, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y --no-install-recommends chromium` (.ci/run installs it)")
    run, _ = tracked
    url = f"{tracking_uri}/#/experiments/{run['experiment_id']}/runs/{run['run_id']}/model-metrics"
    shot = tmp_path / "mlflow-run.png"

    done = subprocess.run([str(mlflow_python()), str(UI_PROBE), CHROMIUM, url, run["name"], "Val_Recall_Risky", str(shot)],
                          capture_output=True, text=True, timeout=600, check=False)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "timeout" not in seen, seen
    assert seen["run_name_shown"] and seen["metric_title_shown"] and seen["plots"] >= 1 and seen["trace_paths"] >= 1
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.005  # drawn, not a blank page
    if os.environ.get("RETRAINER_UPDATE_SCREENSHOTS"):  # docs/screenshots/mlflow-run.png, on request only
        SCREENSHOT.write_bytes(shot.read_bytes())
