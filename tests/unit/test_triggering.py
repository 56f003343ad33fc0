import json
import threading

import pytest
from retrainer_core.errors import PermanentTriggerError
from retrainer_core.events import LANDING_GROUPS, parse_trigger
from retrainer_core.finishing import finish
from retrainer_core.run_spec import MAX_RUN_ID
from retrainer_core.settings import StartRetrainingSettings
from retrainer_core.triggering import answer, decide

from tests.unit.conftest import IDEMPOTENCY_TABLE, LEDGER_TABLE
from tests.utils.events import alarm_state_change, manual_request, resume_request, s3_object_created
from tests.utils.fakes import FakeObjects, FakeWorkflow

BUCKET = "landing"
ENVIRONMENT = {
    "MODEL_NAME": "scarcegan", "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:s", "LANDING_BUCKET": BUCKET,
    "ARTIFACTS_BUCKET": "artifacts", "DEAD_LETTER_QUEUE_URL": "https://sqs/dlq", "CODE_VERSION": "c0de",
    "PROCESSING_IMAGE_URI": "img:processing", "TRAINING_IMAGE_URI": "img:training",
    "CHALLENGER_IMAGE_URI": "img:sklearn", "CHALLENGER_INSTANCE_TYPE": "ml.m5.large",
    "PREPROCESS_INSTANCE_TYPE": "ml.m5.xlarge", "PREPROCESS_INSTANCE_COUNT": "1", "TRAIN_INSTANCE_TYPE": "ml.c5.2xlarge",
    "TRAIN_INSTANCE_COUNT": "2", "EVALUATE_INSTANCE_TYPE": "ml.m5.large", "EVALUATE_INSTANCE_COUNT": "1",
    "PREPROCESS_MAX_RUNTIME_SECONDS": "3600", "TRAIN_MAX_RUNTIME_SECONDS": "7200",
    "EVALUATE_MAX_RUNTIME_SECONDS": "1800", "TRAIN_SPOT_INSTANCES": "true", "TRAIN_MAX_WAIT_SECONDS": "10800", "DEFAULT_HYPERPARAMETERS": '{"iterations": 1500, "alpha": "0.7"}',
    "CANDIDATE_KINDS": "best-recall,best-f1", "MODEL_PACKAGE_GROUP": "scarcegan-models",
    "RUN_LEDGER_TABLE": LEDGER_TABLE, "IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
    "DRIFT_ALARM_PREFIX": "retrainer-drift-", "DRIFT_COOLDOWN_SECONDS": "3600",
}
SETTINGS = StartRetrainingSettings.from_environ(ENVIRONMENT)
ALARMS = {"retrainer-drift-": "scarcegan"}


GROUP_FILES = tuple(f"{group}/part-0.csv" for group in LANDING_GROUPS)


def landed(*batches, files=(*GROUP_FILES, "_SUCCESS"), etag="e", objects=None):
    objects = objects or FakeObjects()
    for batch in batches or ("2026-11-24",):
        for name in files:
            objects.put(BUCKET, f"incoming/scarcegan/{batch}/{name}", etag=etag)
    return objects


def landing(batch="2026-11-24", name="_SUCCESS", event_id="e-1"):
    return parse_trigger(json.dumps(s3_object_created(f"incoming/scarcegan/{batch}/{name}", bucket=BUCKET, event_id=event_id)), ALARMS)


def test_success_marker_starts_one_run_with_its_parameters(ledger):
    workflow = FakeWorkflow()

    decision = decide(landing(), SETTINGS, landed(), workflow, ledger)

    assert decision.action == "start"
    run_input = workflow.started[decision.run_id]
    assert run_input["data"]["uri"] == "s3://landing/incoming/scarcegan/2026-11-24/"
    assert run_input["data"]["objects"] == len(LANDING_GROUPS)  # the marker is not data
    assert run_input["train"]["instance_count"] == 2 and run_input["train"]["instance_type"] == "ml.c5.2xlarge"
    hps = run_input["train"]["hyperparameters"]
    assert all(isinstance(v, str) for v in hps.values())  # SageMaker takes strings only
    assert hps["iterations"] == "1500" and json.loads(hps["sagemaker_program"]) == "train.py"
    assert json.loads(hps["sagemaker_submit_directory"]) == "s3://artifacts/code/c0de/sourcedir.tar.gz"
    assert run_input["train"]["stopping_condition"] == {"MaxRuntimeInSeconds": 7200, "MaxWaitTimeInSeconds": 10800}
    assert run_input["train"]["spot"] is True and run_input["preprocess"]["max_runtime_seconds"] == 3600
    # no lock outlives its run's jobs, each retried once on an internal error
    assert run_input["lock_ttl_seconds"] == 2 * (3600 + 10800 + 1800) + 3600
    assert run_input["paths"]["train"].startswith(f"s3://artifacts/steps/preprocess/{run_input['cache_keys']['preprocess']}/")
    assert ledger.lock("scarcegan")["run_id"] == decision.run_id
    assert ledger.run(decision.run_id)["status"] == "RUNNING"


def test_the_same_landing_twice_starts_nothing_new(ledger):
    workflow, objects = FakeWorkflow(), landed()
    first = decide(landing(event_id="e-1"), SETTINGS, objects, workflow, ledger)
    again = decide(landing(event_id="e-2"), SETTINGS, objects, workflow, ledger)

    assert (first.action, again.action) == ("start", "duplicate")
    assert len(workflow.started) == 1


def test_run_id_follows_content_and_fits_job_names(ledger):
    one = decide(landing("b"), SETTINGS, landed("b"), FakeWorkflow(), ledger)
    ledger.release("scarcegan", one.run_id)
    new_data = decide(landing("b"), SETTINGS, landed("b", etag="changed"), FakeWorkflow(), ledger)
    ledger.release("scarcegan", new_data.run_id)
    long_batch = "a-very-long-batch-name-exported-by-spark-at-2026-11-24T00:00:00Z"
    long_id = decide(landing(long_batch), SETTINGS, landed(long_batch), FakeWorkflow(), ledger).run_id

    assert one.run_id != new_data.run_id
    assert len(long_id) <= MAX_RUN_ID and len(f"retrainer-{long_id}-r9-preprocess-10") <= 63
    assert long_id == long_id.lower()  # SageMaker lowercases job ARNs; IAM matches on them


def test_a_batch_landing_during_a_run_becomes_its_one_follow_up(ledger):
    workflow, objects = FakeWorkflow(), landed("b1", "b2", "b3")
    first = decide(landing("b1"), SETTINGS, objects, workflow, ledger)
    second = decide(landing("b2", event_id="e-2"), SETTINGS, objects, workflow, ledger)
    third = decide(landing("b3", event_id="e-3"), SETTINGS, objects, workflow, ledger)
    assert (first.action, second.action, third.action) == ("start", "coalesce", "coalesce")
    assert len(workflow.started) == 1

    detail = {"name": first.run_id, "status": "SUCCEEDED", "input": json.dumps(workflow.started[first.run_id])}
    follow_up = finish(detail, [], ledger, workflow, Notes())

    assert follow_up.action == "start" and follow_up.run_id == third.run_id  # the newest landing
    assert workflow.started[third.run_id]["trigger"]["coalesced"] == [second.run_id]
    assert ledger.lock("scarcegan")["run_id"] == third.run_id
    assert ledger.run(first.run_id)["status"] == "SUCCEEDED"


def test_racing_invocations_for_one_landing_start_one_run(ledger):
    workflow, objects, decisions = FakeWorkflow(), landed(), []
    lock = threading.Lock()

    def start(name, run_input):  # Step Functions refuses a second execution of one name
        with lock:
            return FakeWorkflow.start(workflow, name, run_input)

    workflow.start = start
    threads = [threading.Thread(target=lambda i=i: decisions.append(decide(landing(event_id=f"e-{i}"), SETTINGS, objects, workflow, ledger)))
               for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(workflow.started) == 1
    assert sorted(d.action for d in decisions) == ["duplicate", "duplicate", "duplicate", "start"]
    (run_id,) = workflow.started
    assert [a["execution"] for a in ledger.run(run_id)["attempts"]] == [run_id]  # one execution, recorded once


def test_a_flapping_drift_alarm_starts_one_run(ledger):
    workflow, objects = FakeWorkflow(), landed()
    decide(landing(), SETTINGS, objects, workflow, ledger)
    ledger.release("scarcegan", next(iter(workflow.started)))

    decisions = [
        decide(parse_trigger(json.dumps(alarm_state_change("retrainer-drift-psi", state, f"a-{i}")), ALARMS), SETTINGS, objects, workflow, ledger)
        for i, state in enumerate(["ALARM", "OK", "ALARM"])
    ]

    assert [d.action for d in decisions] == ["start", "ignore", "ignore"]
    assert "inside its 3600s cooldown" in decisions[2].reason
    assert workflow.started[decisions[0].run_id]["trigger"]["type"] == "drift-alarm"


def test_a_manual_start_trains_the_newest_landing_with_its_overrides(ledger):
    workflow, objects = FakeWorkflow(), landed("b1")
    first = decide(landing("b1"), SETTINGS, objects, workflow, ledger)
    ledger.release("scarcegan", first.run_id)

    manual = decide(parse_trigger(json.dumps(manual_request({"iterations": "300"}, use_cache=False))), SETTINGS, objects, workflow, ledger)

    run_input = workflow.started[manual.run_id]
    assert run_input["data"] == workflow.started[first.run_id]["data"]
    assert run_input["train"]["hyperparameters"]["iterations"] == "300" and run_input["options"]["use_cache"] is False
    assert run_input["cache_keys"]["preprocess"] == workflow.started[first.run_id]["cache_keys"]["preprocess"]
    assert run_input["cache_keys"]["train"] != workflow.started[first.run_id]["cache_keys"]["train"]


def test_resume_starts_a_new_attempt_of_a_failed_run_only(ledger):
    workflow = FakeWorkflow()
    first = decide(landing(), SETTINGS, landed(), workflow, ledger)
    running = decide(parse_trigger(json.dumps(resume_request(first.run_id))), SETTINGS, landed(), workflow, ledger)
    assert running.action == "ignore" and "not failed" in running.reason

    ledger.update_run(first.run_id, status="FAILED")
    resumed = decide(parse_trigger(json.dumps(resume_request(first.run_id))), SETTINGS, landed(), workflow, ledger)

    assert resumed.action == "start" and f"{first.run_id}-r1" in workflow.started
    assert workflow.started[f"{first.run_id}-r1"]["run_id"] == first.run_id  # same run, same cache keys
    with pytest.raises(PermanentTriggerError, match="no run 'nope'"):
        decide(parse_trigger(json.dumps(resume_request("nope"))), SETTINGS, landed(), workflow, ledger)


@pytest.mark.parametrize(
    "batch, objects, says",
    [
        ("b", landed("b", files=("_SUCCESS",)), "holds no data files"),
        ("b", landed("b", files=("risky/part-0.csv",)), "marker no longer exists"),
    ],
)
def test_landings_that_cannot_run_are_refused_with_a_reason(ledger, batch, objects, says):
    workflow = FakeWorkflow()
    with pytest.raises(PermanentTriggerError, match=says):
        decide(landing(batch), SETTINGS, objects, workflow, ledger)
    assert not workflow.started and ledger.lock("scarcegan") is None


def test_unknown_models_and_buckets_are_refused(ledger):
    other_model = parse_trigger(json.dumps(s3_object_created("incoming/other/b/_SUCCESS", bucket=BUCKET)))
    other_bucket = parse_trigger(json.dumps(s3_object_created("incoming/scarcegan/b/_SUCCESS", bucket="someone-elses")))
    with pytest.raises(PermanentTriggerError, match="unknown model 'other'"):
        decide(other_model, SETTINGS, landed(), FakeWorkflow(), ledger)
    with pytest.raises(PermanentTriggerError, match="not this stack's landing bucket"):
        decide(other_bucket, SETTINGS, landed(), FakeWorkflow(), ledger)


class Notes:
    def __init__(self):
        self.published = []

    def publish(self, subject, message):
        self.published.append((subject, message))


def test_a_request_made_while_the_model_is_busy_keeps_its_parameters_and_runs_in_its_turn(ledger):
    # Given a landing's run holds the model
    workflow, objects = FakeWorkflow(), landed("b1", "b2")
    running = decide(landing("b1"), SETTINGS, objects, workflow, ledger)

    # When a manual request with parameters of its own arrives, then a newer landing
    request = parse_trigger(json.dumps(manual_request({"iterations": "500"}, request_id="req-500")))
    queued = decide(request, SETTINGS, objects, workflow, ledger)
    answer(request, queued, ledger)
    newer = decide(landing("b2", event_id="e-2"), SETTINGS, objects, workflow, ledger)

    # Then both are queued, in order, each under its own run id, and the requester can read that by key
    assert (queued.action, queued.details["holder"], queued.details["position"]) == ("coalesce", running.run_id, 1)
    assert (newer.action, newer.details["position"]) == ("coalesce", 2)
    assert ledger.run(queued.run_id)["status"] == "QUEUED" and ledger.run(queued.run_id)["queued_behind"] == running.run_id
    assert ledger.decision("req-500") | {"decided_at": 0} == {"action": "coalesce", "model": "scarcegan", "run_id": queued.run_id,
                                                             "reason": queued.reason, "holder": running.run_id, "position": 1, "decided_at": 0}

    # When the running run ends: the request runs with its own parameters; the landing waits behind it
    finish({"name": running.run_id, "status": "SUCCEEDED", "input": json.dumps(workflow.started[running.run_id])}, [], ledger, workflow, Notes())
    assert workflow.started[queued.run_id]["train"]["hyperparameters"]["iterations"] == "500"
    assert ledger.run(queued.run_id)["trigger"]["follows"] == running.run_id
    assert ledger.run(newer.run_id)["status"] == "QUEUED" and ledger.run(newer.run_id)["queued_behind"] == queued.run_id

    # When the request's run ends: the landing runs
    finish({"name": queued.run_id, "status": "SUCCEEDED", "input": json.dumps(workflow.started[queued.run_id])}, [], ledger, workflow, Notes())
    assert newer.run_id in workflow.started and ledger.lock("scarcegan")["run_id"] == newer.run_id


def test_landings_queued_around_a_request_merge_into_the_newest_which_keeps_its_place(ledger):
    workflow, objects = FakeWorkflow(), landed("b0", "b1", "b2")
    running = decide(landing("b0"), SETTINGS, objects, workflow, ledger)
    older = decide(landing("b1", event_id="e-1"), SETTINGS, objects, workflow, ledger)
    request = decide(parse_trigger(json.dumps(manual_request({"seed": "3"}))), SETTINGS, objects, workflow, ledger)
    newest = decide(landing("b2", event_id="e-2"), SETTINGS, objects, workflow, ledger)
    # positions as decided: b2 takes b1's work, so b2 is second, not third
    assert [older.details["position"], request.details["position"], newest.details["position"]] == [1, 2, 2]

    finish({"name": running.run_id, "status": "SUCCEEDED", "input": json.dumps(workflow.started[running.run_id])}, [], ledger, workflow, Notes())

    assert request.run_id in workflow.started and newest.run_id not in workflow.started
    assert ledger.run(older.run_id)["status"] == "SUPERSEDED" and ledger.run(older.run_id)["superseded_by"] == newest.run_id
    finish({"name": request.run_id, "status": "SUCCEEDED", "input": json.dumps(workflow.started[request.run_id])}, [], ledger, workflow, Notes())
    assert workflow.started[newest.run_id]["trigger"]["coalesced"] == [older.run_id]


# ---------------------------------------------------------------- the step cache and a run's attempts (decision 0510)
INTERNAL = "InternalServerError: We encountered an internal error. Please try again."


def job(name, reason=None, artifacts=None):
    document = {"ProcessingJobName": name, "ProcessingResources": {"ClusterConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}
    if artifacts:
        document = {"TrainingJobName": name, "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
                    "ModelArtifacts": {"S3ModelArtifacts": artifacts}}
    return {**document, **({"FailureReason": reason} if reason else {})}


def history(run_input, *states, error=None, cause=None):
    """An execution's history: its input, then (state, job document, succeeded?) per job step."""
    events = [{"type": "ExecutionStarted", "executionStartedEventDetails": {"input": json.dumps(run_input)}}]
    for state, document, succeeded in states:
        events += [{"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": state}}, {"type": "TaskScheduled"},
                   {"type": "TaskSucceeded", "taskSucceededEventDetails": {"output": json.dumps(document)}} if succeeded else
                   {"type": "TaskFailed", "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": json.dumps(document)}}]
    if error:
        events.append({"type": "ExecutionFailed", "executionFailedEventDetails": {"error": error, "cause": cause}})
    return events


def ended(name, status, run_input):
    return {"name": name, "status": status, "input": json.dumps(run_input)}


def test_a_run_starts_with_the_steps_already_done_as_cache_hits_and_keeps_none_in_its_record(ledger):
    workflow = FakeWorkflow()
    first = decide(landing("c1"), SETTINGS, landed("c1"), workflow, ledger)
    started = workflow.started[first.run_id]
    done = history(started, ("Preprocess", job("rt-pre-00"), True), ("Train", job("rt-train-00", artifacts="s3://m"), True))
    finish(ended(first.run_id, "SUCCEEDED", started), done, ledger, workflow, Notes())

    again = decide(parse_trigger(json.dumps(manual_request()), ALARMS), SETTINGS, landed("c1"), workflow, ledger)

    assert workflow.started[again.run_id]["steps"] == {
        "preprocess": {"job_name": "rt-pre-00", "cache_hit": True},
        "train": {"job_name": "rt-train-00", "cache_hit": True, "model_artifacts": "s3://m"}}
    assert workflow.started[again.run_id]["retries"]["delay_seconds"] == 0
    assert "steps" not in ledger.run(again.run_id)["spec"]  # each attempt looks its hits up again


def test_without_the_cache_a_run_reuses_only_what_its_own_attempts_completed():
    from retrainer_core.step_cache import cached_steps

    class Index:
        entries = {("preprocess", "k1"): {"job_name": "mine", "run_id": "r"}, ("train", "k2"): {"job_name": "theirs", "run_id": "x",
                                                                                             "model_artifacts": "s3://m"}}

        def cached_step(self, step, key):
            return self.entries.get((step, key))

    spec = {"run_id": "r", "options": {"use_cache": False}, "cache_keys": {"preprocess": "k1", "train": "k2"}}
    assert cached_steps(spec, Index()) == {"preprocess": {"job_name": "mine", "cache_hit": True}}
    assert set(cached_steps({**spec, "options": {"use_cache": True}}, Index())) == {"preprocess", "train"}


def test_a_transient_job_failure_is_run_again_from_its_step_after_a_back_off_and_the_run_succeeds(ledger):
    workflow = FakeWorkflow()
    run = decide(landing("t1"), SETTINGS, landed("t1"), workflow, ledger)
    first = workflow.started[run.run_id]
    done = job("rt-pre-00")
    failed = job("rt-train-00", reason=INTERNAL, artifacts="s3://x")
    cause = f"States.TaskFailed: {json.dumps(failed)}"

    finish(ended(run.run_id, "FAILED", first), history(first, ("Preprocess", done, True), ("Train", failed, False),
                                                         error="TrainFailed", cause=cause), ledger, workflow, Notes())

    retry = workflow.started[f"{run.run_id}-r1"]
    assert retry["retries"]["attempt"] == 1 and retry["retries"]["delay_seconds"] == SETTINGS.transient_retry_wait_seconds
    assert retry["steps"] == {"preprocess": {"job_name": "rt-pre-00", "cache_hit": True}}  # recorded from the failed run
    assert ledger.run(run.run_id)["status"] == "RUNNING" and ledger.lock("scarcegan")["run_id"] == run.run_id

    trained = job("rt-r1-train-10", artifacts="s3://artifacts/model.tar.gz")
    finish(ended(f"{run.run_id}-r1", "SUCCEEDED", retry), history(retry, ("Train", trained, True)), ledger, workflow, Notes())

    closed = ledger.run(run.run_id)
    steps = {s["step"]: s for s in closed["steps"]}
    assert closed["status"] == "SUCCEEDED" and ledger.lock("scarcegan") is None
    assert steps["preprocess"]["cache_hit"] is False and steps["preprocess"]["job_name"] == "rt-pre-00"  # ran in attempt 1
    assert steps["train"]["attempts"] == 2 and steps["train"]["retried_after"] == [INTERNAL]
    assert ledger.cached_step("train", retry["cache_keys"]["train"])["model_artifacts"] == "s3://artifacts/model.tar.gz"


def test_a_failure_on_the_data_or_past_the_retries_closes_the_run_with_its_failure_at_once(ledger):
    workflow = FakeWorkflow()
    run = decide(landing("t2"), SETTINGS, landed("t2"), workflow, ledger)
    first = workflow.started[run.run_id]
    bad = job("rt-pre-00", reason="AlgorithmError: ERROR rows.csv: file is empty")
    cause = f"States.TaskFailed: {json.dumps(bad)}"

    finish(ended(run.run_id, "FAILED", first), history(first, ("Preprocess", bad, False), error="PreprocessFailed", cause=cause),
           ledger, workflow, Notes())

    closed = ledger.run(run.run_id)
    assert list(workflow.started) == [run.run_id] and closed["status"] == "FAILED" and ledger.lock("scarcegan") is None
    assert closed["failure"] == {"step": "Preprocess", "error": "PreprocessFailed", "cause": cause, "execution": run.run_id}

    run2 = decide(landing("t3"), SETTINGS, landed("t3"), workflow, ledger)
    second = workflow.started[run2.run_id]
    last = {**second, "retries": {**second["retries"], "attempt": second["retries"]["max"]}}
    transient = f"States.TaskFailed: {json.dumps(job('rt-pre-00', reason=INTERNAL))}"
    finish(ended(run2.run_id, "FAILED", last), history(last, error="PreprocessFailed", cause=transient), ledger, workflow, Notes())
    assert ledger.run(run2.run_id)["status"] == "FAILED" and f"{run2.run_id}-r1" not in workflow.started


def test_a_late_event_of_an_earlier_attempt_changes_nothing(ledger):
    workflow = FakeWorkflow()
    run = decide(landing("t4"), SETTINGS, landed("t4"), workflow, ledger)
    first = workflow.started[run.run_id]
    cause = f"States.TaskFailed: {json.dumps(job('rt-pre-00', reason=INTERNAL))}"
    failed_event = (ended(run.run_id, "FAILED", first), history(first, error="PreprocessFailed", cause=cause))
    finish(*failed_event, ledger, workflow, Notes())

    finish(*failed_event, ledger, workflow, Notes())  # redelivered after the next attempt started

    assert list(workflow.started) == [run.run_id, f"{run.run_id}-r1"] and ledger.run(run.run_id)["status"] == "RUNNING"


def test_a_run_recorded_before_the_champion_input_resumes_with_one(ledger):
    from retrainer_core.triggering import execution_input

    workflow = FakeWorkflow()
    run = decide(landing("t5"), SETTINGS, landed("t5"), workflow, ledger)
    old = {**workflow.started[run.run_id], "paths": {k: v for k, v in workflow.started[run.run_id]["paths"].items() if k != "champion"}}

    assert execution_input(old, ledger)["paths"]["champion"] == old["paths"]["code"]  # no champion: the code package


def test_a_landing_without_a_group_folder_is_refused_at_once_naming_it(ledger):
    """Preprocess reads one input per player group: a landing without one would start a run whose
    first job fails at staging. It is refused before anything is queued, naming the folder."""
    workflow = FakeWorkflow()
    objects = landed(files=(*(f for f in GROUP_FILES if not f.startswith("heavy/")), "_SUCCESS"))

    with pytest.raises(PermanentTriggerError, match=r"incoming/scarcegan/2026-11-24/: no data files under heavy/ \(a training landing"):
        decide(landing(), SETTINGS, objects, workflow, ledger)

    assert workflow.started == {} and ledger.lock("scarcegan") is None


def test_the_landing_groups_are_the_preprocess_inputs_and_the_containers_groups():
    import pathlib

    from scarcegan.schema import GROUPS

    root = pathlib.Path(__file__).resolve().parents[2]
    preprocess = json.loads((root / "statemachine" / "retrain.asl.json").read_text())["States"]["Preprocess"]
    inputs = [i["InputName"].removeprefix("data-") for i in preprocess["Parameters"]["ProcessingInputs"] if i["InputName"].startswith("data-")]
    assert tuple(LANDING_GROUPS) == tuple(GROUPS) == tuple(inputs)
