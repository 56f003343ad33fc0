"""The ASL file, checked as a linter would, plus the project's own rules for it."""

import json
import re
from pathlib import Path

import pytest

from retrainer.local.template import load

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / "statemachine" / "retrain.asl.json").read_text()
ASL = json.loads(ASL_TEXT)
STATE_MACHINE = load(ROOT / "template.yaml")["Resources"]["RetrainStateMachine"]["Properties"]


def all_states(machine, enclosing=None):
    """Every state, with the Map or Parallel it sits in (whose Catch covers it)."""
    for name, state in machine["States"].items():
        yield name, state, enclosing
        if state["Type"] == "Map":
            yield from all_states(state["ItemProcessor"], state)
        for branch in state.get("Branches", []):
            yield from all_states(branch, state)


def named(name):
    return next(state for n, state, _ in all_states(ASL) if n == name)


MACHINES = [ASL, ASL["States"]["RegisterModels"]["ItemProcessor"], *ASL["States"]["Training"]["Branches"]]


def test_every_substitution_is_defined_and_every_definition_used():
    used = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert used == set(STATE_MACHINE["DefinitionSubstitutions"])


def test_no_literal_arn_account_or_region():
    assert "arn:aws:" not in ASL_TEXT
    assert not re.search(r"\b\d{12}\b", ASL_TEXT)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", ASL_TEXT)


@pytest.mark.parametrize("machine", MACHINES, ids=["top", "map", "train", "challenger"])
def test_every_next_exists_and_every_state_is_reachable(machine):
    states = machine["States"]
    edges = {
        name: {state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Catch", []) + state.get("Choices", []))} - {None}
        for name, state in states.items()
    }
    assert all(target in states for targets in edges.values() for target in targets)
    reached, frontier = set(), [machine["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reached:
            reached.add(name)
            frontier += edges[name]
    assert reached == set(states)


def test_every_task_retries_and_is_caught():
    """A Task inside the Map or the Parallel is caught by that state's Catch, which ends the run the same way."""
    for name, state, enclosing in all_states(ASL):
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        assert state.get("Catch") or (enclosing and enclosing.get("Catch")), f"{name} is not caught"
        for retry in state["Retry"]:
            assert "States.ALL" not in retry["ErrorEquals"], f"{name} retries every error, bad input included"
            assert retry.get("BackoffRate", 1) > 1 and retry.get("JitterStrategy") == "FULL"


def test_failures_are_recorded_then_end_the_run_failed_with_the_cause():
    for branch in ASL["States"]["Training"]["Branches"]:  # a branch re-raises under its step's name, cause kept
        fails = [s for s in branch["States"].values() if s["Type"] == "Fail"]
        assert len(fails) == 1 and fails[0]["Error"].endswith("Failed") and not fails[0]["Error"].startswith("States.")
    for name, state, enclosing in all_states(ASL):
        if enclosing and enclosing["Type"] == "Parallel":
            continue
        for catch in state.get("Catch", []):
            if name == "HandleFailure":  # recording must never stop the run from failing
                assert catch["Next"] == "RunFailed"
                continue
            handler = ASL["States"][catch["Next"]]
            assert catch["ResultPath"] == "$.error" and handler["Next"] in ("HandleFailure", "IsTransient")
            step = "QualityGate" if name == "ReadEvaluation" else handler["Parameters"]["step"]
            assert "cause.$" in handler["Parameters"] and step in name.replace("ReadEvaluation", "QualityGate")
    assert ASL["States"]["IsTransient"]["Default"] == "HandleFailure"
    record = ASL["States"]["HandleFailure"]
    assert record["Resource"].endswith(":dynamodb:updateItem") and record["Next"] == "RunFailed"
    assert ASL["States"]["RunFailed"] == {**ASL["States"]["RunFailed"], "Type": "Fail", "CausePath": "$.failure.cause"}


def test_every_job_step_is_cached_behind_a_visible_choice():
    for step in ("Preprocess", "Train", "Challenger", "Evaluate"):
        choice = named(f"{step}Cached")
        assert choice["Type"] == "Choice" and choice["Default"] in (step, "HasChampion")
        assert choice["Choices"][0]["Next"] == f"{step}FromCache"
        assert {"Variable": "$.options.use_cache", "BooleanEquals": True} in choice["Choices"][0]["And"]
        assert named(step)["Next"] == f"{step}Remember"


def test_job_names_come_from_the_execution_and_the_attempt():
    names = [named(n)["Parameters"]["ProcessingJobName.$"] for n in ("Preprocess", "Evaluate")]
    names += [named(n)["Parameters"]["TrainingJobName.$"] for n in ("Train", "Challenger")]
    for name in names:  # unique per execution, API retry and in-job transient retry
        assert all(part in name for part in ("$$.Execution.Name", "$$.State.RetryCount", "$.retries.attempt"))


def test_metric_definitions_parse_the_training_log_line():
    line = ("Iteration=200; Discriminator_Supervised_Loss=0.41; Discriminator_UnSupervised_Loss=1.2e-01; "
            "Generator_Loss=0.9; Accuracy_Supervised=0.8; Val_Recall_Risky=0.875; Val_Precision_Risky=0.5;")
    definitions = named("Train")["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"]
    parsed = {d["Name"]: float(re.search(d["Regex"], line).group(1)) for d in definitions}
    assert parsed["Val_Recall_Risky"] == 0.875 and parsed["Discriminator_UnSupervised_Loss"] == 0.12
    assert len(parsed) == 7


def test_models_are_registered_only_past_the_quality_gate():
    gate = ASL["States"]["QualityGate"]
    assert ASL["States"]["EvaluateRemember"]["Next"] == "ReadEvaluation" == ASL["States"]["EvaluateFromCache"]["Next"]
    assert gate["Choices"][0]["Next"] == "RegisterModels" and gate["Default"] == "QualityGateNotMet"
    # evaluate lists the distinct candidates that passed the absolute thresholds; the Map registers those
    assert gate["Choices"][0] == {"Variable": "$.evaluation.report.register[0]", "IsPresent": True, "Next": "RegisterModels"}
    assert ASL["States"]["RegisterModels"]["ItemsPath"] == "$.evaluation.report.register"
    assert ASL["States"]["QualityGateNotMet"]["Next"] == "HandleFailure"


def test_only_transient_in_job_failures_run_the_step_again_and_boundedly():
    choice = ASL["States"]["IsTransient"]["Choices"][0]["And"]
    patterns = {c["StringMatches"] for part in choice if "Or" in part for c in part["Or"] if "StringMatches" in c}
    assert "*InternalServerError*" in patterns and not any("AlgorithmError" in p for p in patterns)
    assert {"Variable": "$.retries.attempt", "NumericLessThanPath": "$.retries.max"} in choice
    resume = {c["StringEquals"]: c["Next"] for c in ASL["States"]["ResumeAt"]["Choices"]}
    assert resume == {"Preprocess": "Preprocess", "Train": "Training"} and ASL["States"]["ResumeAt"]["Default"] == "HasChampion"
