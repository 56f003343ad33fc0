import json

from retrainer_core.audit import audit


def entered(name, kind="TaskStateEntered"):
    return {"type": kind, "stateEnteredEventDetails": {"name": name}}


def test_steps_are_audited_from_the_history_with_hits_retries_and_cost():
    training = {"TrainingJobName": "rt-r-train-1", "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
                "TrainingStartTime": 1_000, "TrainingEndTime": 91_000, "BillableTimeInSeconds": 180}
    evaluation = {"ProcessingJobName": "rt-r-evaluate-0", "FailureReason": "AlgorithmError: ERROR: test.csv: empty",
                  "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}},
                  "ProcessingStartTime": 0, "ProcessingEndTime": 30_000}
    history = [
        entered("PreprocessFromCache", "PassStateEntered"),
        {"type": "PassStateExited", "stateExitedEventDetails": {"name": "PreprocessFromCache",
                                                                 "output": json.dumps({"steps": {"preprocess": {"job_name": "rt-old-preprocess-0"}}})}},
        entered("Train"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "SageMaker.ResourceLimitExceeded", "cause": "capacity"}},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps(training)}},
        entered("Evaluate"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": json.dumps(evaluation)}},
    ]

    preprocess, train, evaluate = audit(history)

    assert preprocess == {"step": "preprocess", "status": "cached", "attempts": 0, "cache_hit": True,
                          "billable_seconds": 0, "cost_usd": 0.0, "job_name": "rt-old-preprocess-0"}
    assert train["status"] == "succeeded" and train["attempts"] == 2 and train["job_name"] == "rt-r-train-1"
    assert train["billable_seconds"] == 180 and train["cost_usd"] == round(0.23 * 180 / 3600, 6)
    assert evaluate["status"] == "failed" and evaluate["failure_reason"].startswith("AlgorithmError")
    assert evaluate["billable_seconds"] == 30 and evaluate["seconds"] == 30.0


def test_retries_inside_a_training_job_and_by_the_state_machine_are_attempts_with_their_reasons():
    internal = "InternalServerError: We encountered an internal error. Please try again."
    retried_job = {"TrainingJobName": "rt-r-train-0", "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
                   "SecondaryStatusTransitions": [{"Status": "Starting"}, {"Status": "Training"},
                                                  {"Status": "Starting", "StatusMessage": "Retrying the job after an internal error (attempt 2 of 3)"},
                                                  {"Status": "Training"}, {"Status": "Completed"}]}
    failed_processing = {"ProcessingJobName": "rt-r-preprocess-0", "FailureReason": internal,
                         "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}
    done_processing = {**failed_processing, "ProcessingJobName": "rt-r-preprocess-1", "FailureReason": None}
    history = [
        entered("Preprocess"),
        {"type": "TaskScheduled"},
        {"type": "TaskFailed", "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": json.dumps(failed_processing)}},
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps(done_processing)}},
        entered("Train"),
        {"type": "TaskScheduled"},
        {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps(retried_job)}},
    ]

    preprocess, train = audit(history)

    assert (preprocess["status"], preprocess["attempts"], preprocess["retried_after"]) == ("succeeded", 2, [internal])
    assert "failure_reason" not in preprocess
    assert (train["status"], train["attempts"]) == ("succeeded", 2)
    assert train["retried_after"] == ["Retrying the job after an internal error (attempt 2 of 3)"]


def test_a_step_the_execution_started_with_as_a_cache_hit_is_cached():
    started = {"type": "ExecutionStarted", "executionStartedEventDetails": {"input": json.dumps(
        {"steps": {"evaluate": {"job_name": "rt-old-evaluate-00", "cache_hit": True}}})}}

    (evaluate,) = audit([started])

    assert evaluate == {"step": "evaluate", "status": "cached", "attempts": 0, "cache_hit": True,
                        "billable_seconds": 0, "cost_usd": 0.0, "job_name": "rt-old-evaluate-00"}


def test_the_failure_names_the_step_and_keeps_the_jobs_own_cause_or_registrations_message():
    from retrainer_core.audit import failure, is_transient

    def failed(error, cause):
        return [{"type": "ExecutionFailed", "executionFailedEventDetails": {"error": error, "cause": cause}}]

    internal = 'States.TaskFailed: {"FailureReason": "InternalServerError: We encountered an internal error."}'
    gate = json.dumps({"errorType": "QualityGateNotMet", "errorMessage": "no candidate has recall >= 1.01 ...: no model registered"})

    assert failure(failed("TrainFailed", internal)) == {"step": "Train", "error": "TrainFailed", "cause": internal}
    assert failure(failed("QualityGateNotMet", gate)) == {"step": "QualityGate", "error": "QualityGateNotMet",
                                                          "cause": "no candidate has recall >= 1.01 ...: no model registered"}
    assert failure([{"type": "ExecutionSucceeded"}]) is None
    assert is_transient(failure(failed("TrainFailed", internal)))
    assert not is_transient(failure(failed("EvaluateFailed", 'States.TaskFailed: {"FailureReason": "AlgorithmError: empty"}')))
    assert not is_transient(failure(failed("QualityGateNotMet", "InternalServerError")))  # not a job step
