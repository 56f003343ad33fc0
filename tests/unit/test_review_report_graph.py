"""Issue 6, the pure parts: metric series from a job log, the state machine as Mermaid, states
coloured from an execution history, and the registry comparison's difference marking."""

import json
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from retrainer import graph, report, review

EDGE = re.compile(r'^\s*(\S+) (-->|-\.->)(\|"[^"]*"\|)? (\S+)$')
ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "retrain.asl.json").read_text())


def train_metric_definitions():
    train = next(state for name, state in all_states(ASL) if name == "Train")
    return train["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]


# ---------------------------------------------------------------- metric series
def test_metric_series_follow_the_jobs_own_metric_definitions():
    lines = [
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        "Iteration=100; Discriminator_Supervised_Loss=1.154319; Discriminator_UnSupervised_Loss=1.767568; Generator_Loss=0.383117; "
        "Accuracy_Supervised=0.617813; Val_Recall_Risky=1.000000; Val_Precision_Risky=0.206897;",
        "Iteration=200; Discriminator_Supervised_Loss=nan; Discriminator_UnSupervised_Loss=1.6; Generator_Loss=3.5e-01; "
        "Accuracy_Supervised=0.7; Val_Recall_Risky=0.916667; Val_Precision_Risky=0.5;",
        "Wrote 4 candidates in 7.646 s",
    ]

    series = report.metric_series(lines, train_metric_definitions())

    assert "Iteration" not in series  # it is the x axis
    assert series["Val_Recall_Risky"] == {"x": [100.0, 200.0], "y": [1.0, 0.916667]}
    assert series["Generator_Loss"]["y"] == [0.383117, 0.35]
    assert series["Discriminator_Supervised_Loss"] == {"x": [100.0], "y": [1.154319]}  # nan is not plotted
    assert len(series) == 6


def test_metric_series_without_an_iteration_metric_count_the_metric_lines():
    definitions = [{"Name": "loss", "Regex": "loss: ([0-9.]+)"}]

    series = report.metric_series(["epoch 1 loss: 0.9", "noise", "epoch 2 loss: 0.5"], definitions)

    assert series == {"loss": {"x": [1.0, 2.0], "y": [0.9, 0.5]}}


def test_confusion_matrix_is_read_as_actual_by_predicted():
    statistics = {"binary_classification_metrics": {"confusion_matrix": {"0": {"0": 788, "1": 12}, "1": {"0": 1, "1": 11}}}}

    assert report.confusion(statistics) == [[788, 12], [1, 11]]


# ---------------------------------------------------------------- Mermaid
def all_states(machine, parent=None):
    for name, state in machine["States"].items():
        yield name, state
        inner = state.get("ItemProcessor") or state.get("Iterator")
        for branch in [inner] if inner else state.get("Branches", []):
            yield from all_states(branch, name)


def transitions(machine):
    found = {("__start__", machine["StartAt"])}
    for name, state in all_states(machine):
        targets = [state.get("Next"), state.get("Default")] + [r["Next"] for r in state.get("Choices", [])]
        targets += [c["Next"] for c in state.get("Catch", [])]
        inner = state.get("ItemProcessor") or state.get("Iterator")
        targets += [branch["StartAt"] for branch in ([inner] if inner else state.get("Branches", []))]
        found |= {(name, t) for t in targets if t}
    return found


def test_mermaid_has_every_state_and_every_transition_of_the_real_definition():
    text = graph.mermaid(graph.build(ASL))
    lines = text.splitlines()

    assert lines[0] == "flowchart TD"
    for name, _ in all_states(ASL):
        assert any(line.strip().startswith(graph.mermaid_id(name)) and f'"{name}' in line for line in lines), name
    edges = {(m[1], m[4]) for m in (EDGE.match(line) for line in lines) if m}
    assert edges == {(graph.mermaid_id(a), graph.mermaid_id(b)) for a, b in transitions(ASL)}
    assert f'{graph.mermaid_id("Train")}[' in text.split("subgraph", 1)[1]  # the Parallel's branches are their own box


def test_mermaid_marks_catches_dashed_and_labels_choices():
    definition = {"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Work"}], "Default": "Stop"},
        "Work": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Stop"}], "End": True},
        "Stop": {"Type": "Fail"}}}

    text = graph.mermaid(graph.build(definition))

    assert 'Check -->|"ok == true"| Work' in text
    assert 'Check -->|"default"| Stop' in text
    assert 'Work -.->|"catch States.ALL"| Stop' in text
    assert 'Check{"Check"}' in text and 'Stop(("Stop"))' in text


# ---------------------------------------------------------------- colouring from a history
class History:
    """Builds an execution history as Step Functions reports it (ids, previousEventId, timestamps)."""

    def __init__(self):
        self.events, self.clock = [], datetime(2026, 1, 1, tzinfo=UTC)

    def add(self, kind, name=None, previous=None, state_type="Task"):
        self.clock += timedelta(seconds=1)
        event = {"id": len(self.events) + 1, "previousEventId": previous if previous is not None else len(self.events),
                 "type": kind, "timestamp": self.clock}
        if kind.endswith("StateEntered"):
            event["stateEnteredEventDetails"] = {"name": name}
        if kind.endswith("StateExited"):
            event["stateExitedEventDetails"] = {"name": name}
        self.events.append(event)
        return event["id"]

    def state(self, name, state_type="Task", tasks=("TaskSucceeded",), exit_=True):
        self.add(f"{state_type}StateEntered", name)
        for result in tasks if state_type == "Task" else ():
            self.add("TaskScheduled")
            self.add("TaskStarted")
            self.add(result)
        if exit_:
            self.add(f"{state_type}StateExited", name)
        return self


def failed_run_history():
    h = History()
    h.add("ExecutionStarted")  # preprocess is a cache hit the run started with (step_cache)
    h.events[-1]["executionStartedEventDetails"] = {"input": json.dumps({"steps": {"preprocess": {"job_name": "old", "cache_hit": True}}})}
    h.state("BackOff", "Wait").state("ResumeAt", "Choice")
    h.add("ParallelStateEntered", "Training")
    h.state("TrainCached", "Choice")
    h.state("Train", tasks=("TaskFailed", "TaskSucceeded"))  # a retry, then success
    h.state("ChallengerCached", "Choice").state("ChallengerFromCache", "Pass")
    h.add("ParallelStateExited", "Training")
    h.state("Evaluate", tasks=("TaskFailed",), exit_=False)  # caught: the run moves on to EvaluateFailed
    h.add("FailStateEntered", "EvaluateFailed")
    h.add("ExecutionFailed")
    return h.events


def test_each_state_is_coloured_by_what_happened_to_it():
    found = graph.outcomes(failed_run_history())
    states = graph.colouring(graph.build(ASL), found)

    assert states["Preprocess"] == "cached" and states["ChallengerFromCache"] == "cached" and states["Challenger"] == "cached"
    assert states["Train"] == "retried" and found["Train"]["attempts"] == 2
    assert states["Evaluate"] == "failed"
    assert states["EvaluateFailed"] == "failed" and states["Training"] == "succeeded"
    assert states["ResumeAt"] == "succeeded"
    assert states["RegisterModels"] == "not run" and states["TrainFromCache"] == "not run" and states["RunFailed"] == "not run"
    assert set(states) == {name for name, _ in all_states(ASL)}

    text = graph.mermaid(graph.build(ASL), states)
    classes = {m[2]: set(m[1].split(",")) for m in re.finditer(r"^\s*class (\S+) (\S+)$", text, re.M)}
    assert classes["cached"] == {"Preprocess", "Challenger", "ChallengerFromCache"} and classes["retried"] == {"Train"}
    assert classes["failed"] == {"Evaluate", "EvaluateFailed"}
    assert "classDef failed fill:#ffcdd2" in text


def test_a_retry_in_progress_is_running_not_failed():
    h = History()
    h.add("ExecutionStarted")
    h.add("TaskStateEntered", "Train")
    h.add("TaskScheduled")
    h.add("TaskFailed")  # the Retry waits; nothing else has started

    assert graph.outcomes(h.events)["Train"]["outcome"] == "running"


def test_map_iterations_interleaved_are_attributed_through_previous_event_ids():
    h = History()
    h.add("ExecutionStarted")
    map_started = h.add("MapStateEntered", "RegisterModels")
    entered = [h.add("TaskStateEntered", "RegisterCandidate", previous=map_started) for _ in range(2)]
    scheduled = [h.add("TaskScheduled", previous=e) for e in entered]
    for s in scheduled:
        done = h.add("TaskSucceeded", previous=s)
        h.add("TaskStateExited", "RegisterCandidate", previous=done)
    h.add("MapStateExited", "RegisterModels")

    found = graph.outcomes(h.events)

    assert found["RegisterCandidate"]["outcome"] == "succeeded"  # two entries, two attempts: no retry
    assert (found["RegisterCandidate"]["entered"], found["RegisterCandidate"]["attempts"]) == (2, 2)
    assert found["RegisterModels"]["outcome"] == "succeeded"


# ---------------------------------------------------------------- compare
def version(number, kind, recall, approval="PendingManualApproval", **metadata):
    return review.version_row({
        "ModelPackageArn": f"arn:aws:sagemaker:us-east-1:123456789012:model-package/g/{number}",
        "ModelPackageVersion": number, "ModelApprovalStatus": approval,
        "CustomerMetadataProperties": {"RunId": "run-a", "ModelKind": kind, "TriggerType": "data-landing",
                                       "DataVersion": "sha256:abcdef0123456789", "CodeVersion": "c1",
                                       "Metric.recall": str(recall), "Metric.precision": "0.5", "Hp.seed": "0", **metadata},
    })


def test_compare_marks_exactly_the_rows_that_differ():
    rows = review.comparison([version(1, "best-f1", 1.0), version(2, "last", 0.917, "Approved", **{"Hp.seed": "1"})])
    by_field = {r["field"]: r for r in rows}

    assert {f for f, r in by_field.items() if r["differs"]} == {"version", "kind", "approval", "recall", "hp seed"}
    assert by_field["recall"]["deltas"] == [0.0, pytest.approx(-0.083)]
    text = review.render_comparison(rows)
    assert any(line.startswith("* recall") and "0.917 (-0.083)" in line for line in text.splitlines())
    assert any(line.startswith("  precision") for line in text.splitlines())
    assert any(line.startswith("  data version") and "abcdef012345" in line for line in text.splitlines())


def test_a_review_keeps_every_metadata_entry_and_adds_who_and_why():
    existing = {"RunId": "run-a", "Metric.recall": "1", "Hp.seed": "0"}

    metadata = review.review_metadata(existing, "x" * 300, "alice", "2026-01-01T00:00:00Z")

    assert {k: metadata[k] for k in existing} == existing
    assert metadata["ReviewedBy"] == "alice" and len(metadata["ReviewNote"]) == 256


def test_spans_put_states_on_one_clock():
    found = graph.outcomes(failed_run_history())

    rows = report.spans(found)

    assert rows[0]["state"] == "Preprocess" and rows[0]["start"] == 0  # its cache hit, at the execution's start
    assert [r["state"] for r in rows].index("Train") < [r["state"] for r in rows].index("Evaluate")
    assert all(r["seconds"] >= 0 and not math.isnan(r["seconds"]) for r in rows)
