"""The scoring state machine, checked as the retraining one is: substitutions, reachability, every
Task retried and caught, transient job failures retried boundedly, failures recorded."""

import json
import re
from pathlib import Path

from retrainer.local.template import load

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "statemachine" / "score.asl.json").read_text()
ASL = json.loads(TEXT)
MACHINE = load(ROOT / "template.yaml")["Resources"]["ScoreStateMachine"]["Properties"]


def test_every_substitution_is_defined_and_no_literal_arn():
    assert set(re.findall(r"\$\{(\w+)\}", TEXT)) == set(MACHINE["DefinitionSubstitutions"])
    assert "arn:aws:" not in TEXT


def test_every_state_is_reachable_and_every_task_retries_and_is_caught():
    states = ASL["States"]
    edges = {n: {s.get("Next"), s.get("Default"), *(c["Next"] for c in s.get("Catch", []) + s.get("Choices", []))} - {None}
             for n, s in states.items()}
    reached, frontier = set(), [ASL["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += edges[name]
    assert reached == set(states) and all(t in states for ts in edges.values() for t in ts)
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state.get("Retry") and state.get("Catch"), name
            assert all("States.ALL" not in r["ErrorEquals"] for r in state["Retry"]), name


def test_the_job_reads_the_batch_and_the_approved_artifact_and_publishes_players_flagged():
    job = ASL["States"]["Score"]["Parameters"]
    inputs = {i["InputName"]: i["S3Input"]["S3Uri.$"] for i in job["ProcessingInputs"]}
    assert inputs == {"code": "$.paths.code", "data": "$.data.uri", "model": "$.model_version.model_data_url"}
    assert all(part in job["ProcessingJobName.$"] for part in ("$$.Execution.Name", "$.retries.attempt", "$$.State.RetryCount"))
    entry = ASL["States"]["PublishPlayersFlagged"]["Parameters"]["Entries"][0]
    assert entry["DetailType"] == "Players Flagged" and {"flagged.$", "rows.$", "flags_uri.$", "model_version.$"} <= set(entry["Detail"])
    assert ASL["States"]["IsTransient"]["Default"] == "HandleFailure" and ASL["States"]["BackOff"]["Next"] == "Score"
