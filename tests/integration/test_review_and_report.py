"""Issue 6 on the local stack: after a run, review its models in the registry (list, compare,
approve/reject), write its report (opened in headless Chromium) and draw its graph, through the CLI."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.utils.stack import clients

pytestmark = pytest.mark.integration
FIGURES = {"training_curves", "pr_roc_curves", "confusion_matrices", "vs_approved", "timeline"}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def run(trained_run):
    return trained_run


@pytest.fixture
def retrainer(cli_run):
    """`retrainer ...` as a user types it, against the session's local stack; returns (code, stdout)."""
    return lambda *argv: cli_run(*argv)[:2]


def run_versions(retrainer, run):
    code, out = retrainer("models", "--json")
    assert code == 0
    return {m["kind"]: m for m in json.loads(out) if m["run_id"] == run["run_id"]}


def metadata_of(arn):
    sagemaker, = clients("sagemaker")
    return sagemaker.describe_model_package(ModelPackageName=arn)


def registered_kinds(run):
    """What evaluate listed for registration: the run's distinct candidates past the gate."""
    s3, = clients("s3")
    gate = run["spec"]["quality_gate"]
    return {r["kind"] for r in json.loads(s3.get_object(Bucket=gate["report_bucket"], Key=gate["report_key"])["Body"].read())["register"]}


def test_models_lists_the_runs_versions_with_metrics_intervals_and_lineage(retrainer, run):
    versions = run_versions(retrainer, run)

    assert set(versions) == registered_kinds(run) and "gradient-boosting" in versions
    for model in versions.values():
        assert set(model["metrics"]) >= {"recall", "precision", "f1", "pr_auc"}
        assert {"version", "run", "family", "kind", "approval", "intervals", "beats_champion"} <= set(model)
        assert model["data_version"] == run["data"]["version"] and model["trigger"] == "data-landing"
        assert model["approval"] == "PendingManualApproval"
    code, table = retrainer("models")
    assert code == 0 and sum(run["run_id"] in line for line in table.splitlines()) == len(versions)


def test_approve_changes_the_status_and_keeps_the_metadata(retrainer, run):
    versions = run_versions(retrainer, run)
    chosen = versions["gradient-boosting"]
    other = next(v for v in versions.values() if v["family"] == "scarcegan")
    before = metadata_of(chosen["arn"])["CustomerMetadataProperties"]

    assert retrainer("approve", chosen["version"], "--note", "best F1 on the test split")[0] == 0
    assert retrainer("reject", other["arn"], "--note", "last iteration only")[0] == 0

    after = metadata_of(chosen["arn"])
    assert after["ModelApprovalStatus"] == "Approved" and after["ApprovalDescription"] == "best F1 on the test split"
    assert {k: after["CustomerMetadataProperties"].get(k) for k in before} == before  # nothing lost
    assert after["CustomerMetadataProperties"]["ReviewNote"] == "best F1 on the test split"
    assert metadata_of(other["arn"])["ModelApprovalStatus"] == "Rejected"
    code, out = retrainer("models", "--approved", "--json")
    assert code == 0 and json.loads(out)["arn"] == chosen["arn"]


def test_compare_marks_the_differences(retrainer, run):
    versions = run_versions(retrainer, run)
    first = next(v for v in versions.values() if v["family"] == "scarcegan")
    second = versions["gradient-boosting"]

    code, out = retrainer("compare", first["version"], second["version"], "--json")
    rows = {r["field"]: r for r in json.loads(out)}

    assert code == 0
    assert rows["kind"]["differs"] and rows["kind"]["values"] == [first["kind"], "gradient-boosting"]
    assert rows["family"]["values"] == ["scarcegan", "gradient-boosting"]
    assert not rows["run"]["differs"] and not rows["data version"]["differs"]
    code, text = retrainer("compare", first["version"], second["version"])
    assert any(line.startswith("* kind") for line in text.splitlines())
    assert any(line.startswith("  run") for line in text.splitlines())


@pytest.fixture(scope="module")
def written_report(run, local_stack, tmp_path_factory):
    from retrainer.local import control
    from retrainer.report import gather, write

    out = tmp_path_factory.mktemp("report")
    session, stack = control.session(control.Location(local_stack.state_dir, local_stack.port))
    return write(gather(session, stack, run["run_id"]), out)


def test_report_writes_a_self_contained_page_and_its_figures(retrainer, run, tmp_path):
    code, out = retrainer("report", run["run_id"], "--out", tmp_path)

    assert code == 0 and str(tmp_path / "report.html") in out
    assert {p.stem for p in tmp_path.glob("*.png")} == FIGURES
    page = (tmp_path / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert run["run_id"] in page and run["data"]["version"] in page
    assert "src=\"http" not in page and "<script" not in page  # nothing to fetch


def test_the_report_renders_with_its_figures_in_headless_chromium(written_report, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install -y --no-install-recommends chromium` (.ci/run installs it)")
    url = written_report["html"].resolve().as_uri()
    flags = [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"

    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1280,2000", url], check=True, timeout=120,
                   capture_output=True)
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], check=True, timeout=120, capture_output=True, text=True).stdout

    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape == (2000, 1280)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # not a blank page: text and plots drawn
    assert dom.count('<img alt="') == len(FIGURES) and dom.count('src="data:image/png;base64,') == len(FIGURES)
    assert 'id="pr_roc_curves"' in dom and 'id="training_curves"' in dom


def test_graph_draws_the_deployed_definition_coloured_by_the_run(retrainer, run, tmp_path):
    code, out = retrainer("graph", run["run_id"], "--out", tmp_path)

    assert code == 0
    mermaid = (tmp_path / "retrain.mmd").read_text()
    classes = {line.split()[2]: set(line.split()[1].split(",")) for line in mermaid.splitlines() if line.strip().startswith("class ")}
    assert {"Preprocess", "Train", "Evaluate", "RegisterModels"} <= classes["succeeded"]  # RegisterModels ends the run (0510)
    assert {"RunFailed", "EvaluateFailed", "TrainFromCache"} <= classes["not_run"]  # the failure path (HandleFailure before 0510)
    image = Image.open(tmp_path / "retrain.png")
    assert image.format == "PNG" and image.size[0] > 400 and image.size[1] > 400
    assert f"run {run['run_id']}" in out and "succeeded" in out
