"""`retrainer start | resume | show`: a request that cannot run is refused at once, in one line, with a
non-zero exit, and nothing is queued; `show` reads like `runs`."""

import pytest

from retrainer import cli, run_commands
from tests.unit.conftest import LEDGER_TABLE

STACK = {"outputs": {"ModelName": "scarcegan", "LandingBucketName": "landing", "RunLedgerTableName": LEDGER_TABLE,
                     "StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:s"}}


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(run_commands, "_stack", lambda: (None, STACK))
    monkeypatch.setattr(run_commands, "request", lambda events, kind, detail: sent.append((kind, detail)))
    return sent


@pytest.mark.parametrize("argv, says", [
    (["start", "--model", "nope"], "unknown model 'nope': this stack retrains 'scarcegan'"),
    (["start", "--model", "scarcegan", "--gate", "min_recall=abc"], "--gate min_recall=abc: not a number"),
    (["start", "--model", "scarcegan", "--gate", "recall=0.9"], "--gate recall: unknown"),
    (["start", "--model", "scarcegan", "--param", "iterations"], "--param takes KEY=VALUE, got 'iterations'"),
    (["start", "--model", "scarcegan", "--param", "=5"], "--param takes KEY=VALUE"),
    (["start", "--model", "scarcegan", "--data", "s3://elsewhere/incoming/scarcegan/b/"], "not a landing of scarcegan"),
])
def test_a_request_that_cannot_run_is_refused_at_once_and_nothing_is_queued(queued, capsys, argv, says):
    code = cli.main(argv)

    err = capsys.readouterr().err
    assert code == 2 and says in err and err.count("\n") == 1 and "Traceback" not in err
    assert queued == []


def test_resuming_a_run_the_ledger_does_not_know_is_refused_at_once(ledger, queued, capsys):
    ledger.record_run({"run_id": "running-one", "model": "scarcegan", "status": "RUNNING", "started_at": "t", "spec": {}})

    assert cli.main(["resume", "no-such-run"]) == 2
    assert "no run 'no-such-run' in the ledger" in capsys.readouterr().err
    assert cli.main(["resume", "running-one"]) == 2
    assert "run running-one is RUNNING" in capsys.readouterr().err
    assert queued == []


def test_show_prints_the_failure_as_one_readable_line_and_steps_with_attempts():
    job = '{"TrainingJobName": "retrainer-r-train-0", "FailureReason": "AlgorithmError: ERROR risky/part-0.csv:\\n  missing column(s) week (exit code 1)"}'
    run = {"run_id": "r", "status": "FAILED", "model": "scarcegan", "started_at": "2026-11-27T00:00:00Z",
           "trigger": {"type": "manual", "requested_by": "ana"}, "data": {"uri": "s3://l/incoming/scarcegan/b/", "objects": 5, "version": "sha256:" + "a" * 64},
           "code_version": "c0de", "parameters": {"hyperparameters": {"iterations": "500"}, "options": {"use_cache": True}},
           "failure": {"step": "Train", "error": "TrainFailed", "cause": f"States.TaskFailed: {job}"},
           "attempts": [{"execution": "r"}], "cost_usd": 0.01,
           "steps": [{"step": "preprocess", "status": "succeeded", "attempts": 1, "seconds": 2.0, "cost_usd": 0.001},
                     {"step": "train", "status": "failed", "attempts": 2, "seconds": 3.0, "cost_usd": 0.002,
                      "retried_after": ["InternalServerError: We encountered an internal error. Please try again."]}],
           "models": []}

    text = run_commands.render_run(run)

    failure = next(line for line in text.splitlines() if line.strip().startswith("failure"))
    assert failure.strip() == ("failure     Train: TrainFailed: States.TaskFailed: retrainer-r-train-0: "
                               "AlgorithmError: ERROR risky/part-0.csv: missing column(s) week (exit code 1)")
    assert "train       failed" in text and "2 attempts" in text and "retried after: InternalServerError" in text
    assert "{" not in text  # no JSON for people; --json is for machines
