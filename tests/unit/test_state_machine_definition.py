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


MACHINES = [ASL, *ASL["States"]["Training"]["Branches"]]


def test_every_substitution_is_defined_and_every_definition_used():
    used = set(re.findall(r"\$\{(\w+)\}", ASL_TEXT))
    assert used == set(STATE_MACHINE["DefinitionSubstitutions"])


def test_no_literal_arn_account_or_region():
    assert "arn:aws:" not in ASL_TEXT
    assert not re.search(r"\b\d{12}\b", ASL_TEXT)
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", ASL_TEXT)


@pytest.mark.parametrize("machine", MACHINES, ids=["top", "train", "challenger"])
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
    """A Task inside the Parallel is caught by the Parallel's Catch, which ends the run the same way."""
    for name, state, enclosing in all_states(ASL):
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        assert state.get("Catch") or (enclosing and enclosing.get("Catch")), f"{name} is not caught"
        for retry in state["Retry"]:
            assert "States.ALL" not in retry["ErrorEquals"], f"{name} retries every error, bad input included"
            assert retry.get("BackoffRate", 1) > 1 and retry.get("JitterStrategy") == "FULL"


def test_the_state_machine_reads_like_the_flow_in_at_most_16_states():
    names = [name for name, _, _ in all_states(ASL)]
    assert len(names) == len(set(names)) <= 16
    assert [n for n in ASL["States"] if ASL["States"][n]["Type"] in ("Task", "Parallel")] == [
        "Preprocess", "Training", "Evaluate", "RegisterModels"]


def test_failures_end_the_run_failed_under_the_steps_name_with_the_cause():
    """The execution's error names the step (TrainFailed), its cause keeps the job's own error and
    description; finish_run records it in the ledger from the history (docs/decisions/0510)."""
    for branch in ASL["States"]["Training"]["Branches"]:  # a branch's job error leaves through the Parallel
        assert not [s for s in branch["States"].values() if s["Type"] == "Fail"]
    for name, state, enclosing in all_states(ASL):
        if enclosing:
            continue
        for catch in state.get("Catch", []):
            end = ASL["States"][catch["Next"]]
            assert catch["ResultPath"] == "$.error" and end["Type"] == "Fail"
            if name == "RegisterModels":  # its own error: QualityGateNotMet, RegistrationError
                assert (end["ErrorPath"], end["CausePath"]) == ("$.error.Error", "$.error.Cause")
            else:
                assert end["Error"] == name.replace("Training", "Train") + "Failed"
                assert end["CausePath"] == "States.Format('{}: {}', $.error.Error, $.error.Cause)"


def test_cache_hits_are_decided_once_and_skipped_behind_visible_choices():
    """The run starts with the cached steps' outputs in $.steps (retrainer_core.step_cache)."""
    resume = ASL["States"]["ResumeAt"]
    assert ASL["StartAt"] == "BackOff" and ASL["States"]["BackOff"]["Next"] == "ResumeAt"
    assert [(c["Variable"], c["Next"]) for c in resume["Choices"]] == [
        ("$.steps.evaluate", "RegisterModels"), ("$.steps.preprocess", "Training")]
    assert resume["Default"] == "Preprocess"
    for step in ("Train", "Challenger"):
        choice = named(f"{step}Cached")
        assert choice["Type"] == "Choice" and choice["Default"] == step
        assert choice["Choices"][0] == {"Variable": f"$.steps.{step.lower()}", "IsPresent": True, "Next": f"{step}FromCache"}
    for step in ("Preprocess", "Train", "Challenger", "Evaluate"):  # each job's result is where a hit would be
        assert named(step)["ResultPath"] == f"$.steps.{step.lower()}"
    assert ASL["States"]["Preprocess"]["Next"] == "Training" and ASL["States"]["Training"]["Next"] == "Evaluate"


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


def test_models_are_registered_by_one_task_after_evaluate():
    """The quality gate and "all or none" live in retrainer_core.registration (test_registration)."""
    register = ASL["States"]["RegisterModels"]
    assert ASL["States"]["Evaluate"]["Next"] == "RegisterModels" and register.get("End") is True
    assert register["Resource"].endswith(":lambda:invoke") and register["Parameters"]["Payload.$"] == "$"


def test_a_transient_failures_next_attempt_backs_off_first():
    """Which failures are transient, and how many attempts: retrainer_core.audit / triggering (0303)."""
    assert ASL["States"]["BackOff"] == {**ASL["States"]["BackOff"], "Type": "Wait", "SecondsPath": "$.retries.delay_seconds"}


def test_evaluate_scores_both_trainings_and_the_champion_input():
    inputs = {i["InputName"]: i["S3Input"]["S3Uri.$"] for i in named("Evaluate")["Parameters"]["ProcessingInputs"]}
    assert inputs == {"code": "$.paths.code", "model": "$.steps.train.model_artifacts",
                      "challenger": "$.steps.challenger.model_artifacts", "test": "$.paths.test",
                      "artifacts": "$.paths.preprocess_artifacts", "champion": "$.paths.champion"}
