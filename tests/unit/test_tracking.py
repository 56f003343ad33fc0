"""Issue 14, unit tier: what a run becomes in MLflow (retrainer_core.tracking, with fakes of the tracking
server and of the run's records), the training curve read with the job's own MetricDefinitions, and how
requests to a SageMaker managed tracking server are addressed and signed."""

import json

import pytest
from retrainer_core.metric_lines import metric_history
from retrainer_core.mlflow_rest import ACTIONS, SERVER_HEADER, MlflowRest, endpoint_of
from retrainer_core.tracking import track

DEFINITIONS = [{"Name": n, "Regex": f"{n}=(-?[0-9.eE+-]+|nan|inf);"} for n in ("Iteration", "Val_Recall_Risky", "Discriminator_Supervised_Loss")]
REPORT = "s3://artifacts/steps/evaluate/k/report"
QUALITY = "s3://artifacts/steps/evaluate/k/quality"
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/scarcegan-models/3"


class FakeTracker:
    """An MLflow server in memory, with its semantics that matter here: one run per key tag, metric
    points kept once per (key, step, timestamp, value), params immutable."""

    def __init__(self):
        self.experiments, self.runs, self.artifacts = {}, {}, {}

    def experiment_id(self, name, tags=None):
        return self.experiments.setdefault(name, str(len(self.experiments) + 1))

    def run_once(self, experiment_id, key_tag, key, name, start_ms, tags):
        for info in self.runs.values():
            if info["tags"].get(key_tag) == key and info["experiment_id"] == experiment_id:
                return info
        run_id = f"r{len(self.runs) + 1}"
        self.runs[run_id] = {"run_id": run_id, "experiment_id": experiment_id, "name": name, "tags": {**tags, key_tag: key},
                             "params": {}, "metrics": set(), "status": "RUNNING", "artifact_uri": f"mlflow-artifacts:/{run_id}"}
        return self.runs[run_id]

    def log_batch(self, run_id, metrics=(), params=None, tags=None):
        run = self.runs[run_id]
        for key, value in (params or {}).items():
            assert run["params"].setdefault(key, value) == value, f"param {key} changed"
        run["tags"].update(tags or {})
        run["metrics"] |= {(m["key"], m["step"], m["timestamp"], m["value"]) for m in metrics}

    def end_run(self, run_id, status, end_ms):
        self.runs[run_id]["status"] = status

    def log_artifact(self, run_info, path, content, s3=None):
        self.artifacts[(run_info["run_id"], path)] = content

    def metric(self, run_id, key):
        return sorted((step, value) for k, step, _, value in self.runs[run_id]["metrics"] if k == key)

    def parent(self):
        return next(r for r in self.runs.values() if "mlflow.parentRunId" not in r["tags"])


class FakeRecords:
    s3 = None

    def __init__(self, documents):
        self.documents = documents

    def metric_definitions(self, job):
        return DEFINITIONS if job.endswith("-train-00") else []

    def log_events(self, job):
        return [{"timestamp": 1000 + i, "message": f"Iteration={i * 100}; Val_Recall_Risky={0.1 * i:.2f}; Discriminator_Supervised_Loss=nan;"}
                for i in range(1, 4)] + [{"timestamp": 2000, "message": "saving candidates"}]

    def read_json(self, uri):
        return self.documents.get(uri)

    def read_bytes(self, uri):
        return json.dumps(self.documents[uri]).encode() if uri in self.documents else None

    def model_package(self, arn):
        return {"arn": arn, "version": 3, "approval": "PendingManualApproval", "model_data_url": "s3://artifacts/m.tar.gz"}


def interval(value):
    return {"value": value, "low": value - 0.1, "high": value + 0.1, "standard_deviation": 0.05}


def evaluation():
    candidate = lambda family, recall, key: {"family": family, "aliases": [], "metrics": {"recall": interval(recall), "pr_auc": interval(0.5)},  # noqa: E731
                                             "threshold": 0.4, "tp": 3, "gate": {"passed": True, "reasons": []}, "beats_champion": True,
                                             "vs_champion": {"metric": "pr_auc", "value": 0.1, "low": -0.05, "high": 0.2}, "content_key": key}
    return {"candidates": ["best-f1", "gradient-boosting"], "best-f1": candidate("scarcegan", 0.8, "k1"),
            "gradient-boosting": candidate("gradient-boosting", 0.7, "k2"), "best": "best-f1",
            "champion": {"version": "2", "comparable": True, "metrics": {"recall": interval(0.6)}}, "champion_note": "re-scored",
            "register": [{"kind": "best-f1"}]}


def retraining(status="SUCCEEDED"):
    spec = {"run_id": "scarcegan-b1-abc", "model": "scarcegan", "experiment": {"name": "scarcegan-retraining"},
            "trigger": {"type": "data-landing", "event_id": "e1"}, "data": {"uri": "s3://landing/incoming/scarcegan/b1/", "version": "sha256:d"},
            "code_version": "c1", "model_package_group": "scarcegan-models", "overrides": {"iterations": "300"},
            "parameters": {"scarcegan": {"iterations": "300", "seed": "0"}, "gradient-boosting": {"max-depth": "3"}},
            "paths": {"report": REPORT, "quality": QUALITY}}
    run = {"spec": spec, "status": status, "cost_usd": 0.01,
           "steps": [{"step": "train", "status": "succeeded", "job_name": "rt-scarcegan-b1-abc-train-00", "seconds": 12.0, "cost_usd": 0.005, "attempts": 1},
                     {"step": "challenger", "status": "cached", "cache_hit": True, "job_name": "rt-x-challenger-00", "cost_usd": 0.0}]}
    detail = {"name": "scarcegan-b1-abc", "status": status, "input": json.dumps({"run_id": spec["run_id"], "model": "scarcegan"}),
              "startDate": 1_000, "stopDate": 9_000}
    return detail, run


def documents():
    return {f"{REPORT}/evaluation.json": evaluation(), f"{REPORT}/curves.json": {"best-f1": {}},
            f"{QUALITY}/best-f1/statistics.json": {"binary_classification_metrics": {}}}


def test_metric_history_steps_by_the_jobs_iteration_and_leaves_out_nan():
    points = metric_history(FakeRecords({}).log_events("x-train-00"), DEFINITIONS)

    assert [(p["key"], p["step"], p["value"], p["timestamp"]) for p in points] == [
        ("Val_Recall_Risky", 100, 0.1, 1001), ("Val_Recall_Risky", 200, 0.2, 1002), ("Val_Recall_Risky", 300, 0.3, 1003)]


def test_a_retraining_run_logs_parameters_curve_candidates_champion_and_registry_links():
    tracker, (detail, run) = FakeTracker(), retraining()
    registered = {("scarcegan-models", "k1"): {"arn": ARN}}

    track(detail, run, tracker, FakeRecords(documents()), lambda group, key: registered.get((group, key)))

    parent = tracker.parent()
    assert parent["status"] == "FINISHED" and parent["tags"]["retrainer.run_id"] == "scarcegan-b1-abc"
    assert parent["params"]["scarcegan.iterations"] == "300" and parent["params"]["gradient-boosting.max-depth"] == "3"
    assert parent["params"]["data.version"] == "sha256:d" and parent["tags"]["retrainer.trigger"] == "data-landing"
    assert json.loads(parent["tags"]["retrainer.overrides"]) == {"iterations": "300"}
    assert tracker.metric(parent["run_id"], "Val_Recall_Risky") == [(100, 0.1), (200, 0.2), (300, 0.3)]
    assert tracker.metric(parent["run_id"], "best-f1.recall_low") == [(0, pytest.approx(0.7))]
    assert tracker.metric(parent["run_id"], "champion.recall") == [(0, 0.6)]
    assert tracker.metric(parent["run_id"], "cost_usd") == [(0, 0.01)]
    children = {r["tags"]["retrainer.candidate"]: r for r in tracker.runs.values() if r is not parent}
    assert set(children) == {"best-f1", "gradient-boosting"}
    best = children["best-f1"]
    assert best["tags"]["mlflow.parentRunId"] == parent["run_id"] and best["tags"]["sagemaker.model_package_arn"] == ARN
    assert tracker.metric(best["run_id"], "recall") == [(0, 0.8)] and tracker.metric(best["run_id"], "vs_champion.pr_auc_high") == [(0, 0.2)]
    assert best["params"] == {"scarcegan.iterations": "300", "scarcegan.seed": "0"}
    assert "sagemaker.model_package_arn" not in children["gradient-boosting"]["tags"]  # not registered
    assert {path for run_id, path in tracker.artifacts if run_id == best["run_id"]} == {"model_package.json", "statistics.json"}
    assert {path for run_id, path in tracker.artifacts if run_id == parent["run_id"]} == {"evaluation/evaluation.json", "evaluation/curves.json"}


def test_logging_the_same_end_again_adds_no_run_and_no_point():
    tracker, (detail, run) = FakeTracker(), retraining()
    records = FakeRecords(documents())
    track(detail, run, tracker, records, lambda group, key: None)
    before = {run_id: set(r["metrics"]) for run_id, r in tracker.runs.items()}

    track(detail, run, tracker, records, lambda group, key: None)

    assert {run_id: r["metrics"] for run_id, r in tracker.runs.items()} == before


def test_a_failed_run_before_evaluate_is_a_failed_mlflow_run_without_candidates():
    tracker, (detail, run) = FakeTracker(), retraining("FAILED")

    track(detail, run, tracker, FakeRecords({}), lambda group, key: None)

    assert len(tracker.runs) == 1 and tracker.parent()["status"] == "FAILED"
    assert tracker.metric(tracker.parent()["run_id"], "Val_Recall_Risky")  # the curve up to the failure is kept


def test_a_scoring_run_logs_counts_and_drift_in_the_scoring_experiment():
    tracker = FakeTracker()
    run_input = {"run_id": "score-scarcegan-b2-x", "kind": "scoring", "model": "scarcegan", "batch": "b2",
                 "model_version": {"version": 3, "arn": ARN}, "data": {"version": "sha256:s"},
                 "paths": {"summary_bucket": "artifacts", "summary_key": "flags/scarcegan/b2/summary.json", "drift": "s3://artifacts/drift/scarcegan/b2"}}
    records = FakeRecords({"s3://artifacts/flags/scarcegan/b2/summary.json": {"rows": 100, "flagged": 2, "flagged_share": 0.02, "max_feature_psi": 0.3},
                           "s3://artifacts/drift/scarcegan/b2/drift.json": {"features": {"f1": 0.3, "f2": 0.01}, "feature_of_max": "f1"}})

    track({"name": "score-scarcegan-b2-x", "status": "SUCCEEDED", "input": json.dumps(run_input), "stopDate": 5}, None, tracker, records,
          lambda group, key: None)

    run = tracker.parent()
    assert tracker.experiments == {"scarcegan-scoring": "1"} and run["tags"]["sagemaker.model_package_arn"] == ARN
    assert tracker.metric(run["run_id"], "flagged") == [(0, 2.0)] and tracker.metric(run["run_id"], "psi.f1") == [(0, 0.3)]
    assert run["params"]["model.version"] == "3" and run["tags"]["retrainer.feature_of_max_psi"] == "f1"


def test_a_managed_tracking_server_is_addressed_by_region_and_signed_for_sagemaker_mlflow(monkeypatch):
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/retrainer-mlflow"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    sent = {}
    client = MlflowRest(arn)
    monkeypatch.setattr("urllib.request.urlopen", lambda request, timeout: sent.update(url=request.full_url, headers=dict(request.header_items())) or _Response())

    client.call("POST", "runs/search", {"experiment_ids": ["1"]})

    assert endpoint_of(arn) == ("https://eu-west-1.experiments.sagemaker.aws", "eu-west-1")
    assert sent["url"] == "https://eu-west-1.experiments.sagemaker.aws/api/2.0/mlflow/runs/search"
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers[SERVER_HEADER] == arn
    assert "/eu-west-1/sagemaker-mlflow/aws4_request" in headers["authorization"] and "x-amz-content-sha256" in headers
    with pytest.raises(ValueError):
        endpoint_of("arn:aws:sagemaker:eu-west-1:123456789012:model-package/x/1")


class _Response:
    def read(self):
        return b"{}"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_finish_run_may_call_exactly_what_the_client_calls_on_that_server_only():
    from pathlib import Path

    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(Path(__file__).resolve().parents[2] / "template.yaml"))
    policies = template["Resources"]["FinishRunFunction"]["Properties"]["Policies"]
    statements = [st for p in policies if "Fn::If" in p and p["Fn::If"][0] == "TrackInMlflow" for st in p["Fn::If"][1]["Statement"]]
    mlflow = next(st for st in statements if st["Sid"] == "LogToThisTrackingServerOnly")

    assert set(mlflow["Action"]) == {f"sagemaker-mlflow:{action}" for action in ACTIONS.values()}
    assert mlflow["Resource"] == {"Fn::If": ["CreateMlflowServer", {"Fn::GetAtt": ["MlflowTrackingServer", "TrackingServerArn"]},
                                             {"Ref": "MlflowTrackingServerArn"}]}
