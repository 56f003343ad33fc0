import pytest
from retrainer_core.ledger import Ledger

from tests.unit.conftest import LEDGER_TABLE


def test_a_model_lock_has_one_holder_until_released_or_expired(ledger):
    assert ledger.acquire("m", "run-a", ttl_seconds=60) is None
    assert ledger.acquire("m", "run-b", ttl_seconds=60) == "run-a"
    assert ledger.acquire("m", "run-a", ttl_seconds=60) is None  # its own holder may take it again
    ledger.release("m", "run-b")  # not the holder: nothing happens
    assert ledger.lock("m")["run_id"] == "run-a"

    later = Ledger(LEDGER_TABLE, now=lambda: 10**10)  # long after run-a's lock expired (lost end event)
    assert later.acquire("m", "run-b", ttl_seconds=60) is None


def test_pending_landings_ride_on_the_lock_and_come_back_on_release(ledger):
    ledger.acquire("m", "run-a", ttl_seconds=60)
    assert ledger.add_pending("m", "run-a", {"uri": "s3://l/b1/", "run_id": "run-b1", "queued_at": 1})
    assert ledger.add_pending("m", "run-a", {"uri": "s3://l/b2/", "run_id": "run-b2", "queued_at": 2})
    assert not ledger.add_pending("m", "run-x", {"uri": "s3://l/b3/", "run_id": "run-b3", "queued_at": 3})

    pending = ledger.release("m", "run-a")

    assert sorted(p["run_id"] for p in pending.values()) == ["run-b1", "run-b2"]
    assert ledger.lock("m") is None and ledger.release("m", "run-a") == {}


def test_cooldown_lets_one_alarm_through_per_window(ledger):
    assert ledger.claim_cooldown("m", "drift", 3600)
    assert not ledger.claim_cooldown("m", "drift", 3600)
    assert ledger.claim_cooldown("m", "other-alarm", 3600)
    assert Ledger(LEDGER_TABLE, now=lambda: 10**10).claim_cooldown("m", "drift", 3600)


def test_run_records_are_created_once_and_audited(ledger):
    assert ledger.record_run({"run_id": "r", "model": "m", "status": "STARTING", "started_at": "t", "spec": {"x": 0.5}})
    assert not ledger.record_run({"run_id": "r", "model": "m", "status": "STARTING", "started_at": "t", "spec": {}})
    ledger.add_attempt("r", {"execution": "r"})
    ledger.update_run("r", status="FAILED", cost_usd=0.25)
    ledger.add_attempt("r", {"execution": "r-r1"})

    run = ledger.run("r")
    assert run["status"] == "RUNNING" and [a["execution"] for a in run["attempts"]] == ["r", "r-r1"]
    assert run["cost_usd"] == 0.25 and run["spec"] == {"x": 0.5}
    assert [r["run_id"] for r in ledger.runs()] == ["r"]


def test_an_execution_is_recorded_once_however_many_invocations_record_it(ledger):
    ledger.record_run({"run_id": "r", "model": "m", "status": "STARTING", "started_at": "t", "spec": {}})

    first, again = ledger.add_attempt("r", {"execution": "r"}), ledger.add_attempt("r", {"execution": "r"})

    assert (first, again) == (True, False)
    assert [a["execution"] for a in ledger.run("r")["attempts"]] == ["r"]


# ---- queries, not Scans (docs/decisions/0502-ledger-queries.md)
@pytest.fixture
def calls(ledger):
    """The DynamoDB operations the ledger sends, by name, counted through botocore's event hooks."""
    made: list[str] = []
    ledger.table.meta.client.meta.events.register("before-call.dynamodb.*", lambda model, **_: made.append(model.name))
    return made


def _runs(ledger, model, rows):
    for run_id, started, ended, status, extra in rows:
        ledger.record_run({"run_id": run_id, "model": model, "status": "STARTING", "started_at": started, "spec": {}, **extra})
        if ended:
            ledger.update_run(run_id, status=status, ended_at=ended)


def test_latest_succeeded_is_the_newest_to_end_successfully_found_by_query(ledger, calls):
    _runs(ledger, "m", [("old", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z", "SUCCEEDED", {}),
                        ("long", "2026-01-02T00:00:00Z", "2026-01-02T09:00:00Z", "SUCCEEDED", {}),  # ended last
                        ("short", "2026-01-02T01:00:00Z", "2026-01-02T02:00:00Z", "SUCCEEDED", {"kind": "scoring"}),
                        ("failed", "2026-01-03T00:00:00Z", "2026-01-03T01:00:00Z", "FAILED", {}),
                        ("running", "2026-01-04T00:00:00Z", None, None, {})])
    _runs(ledger, "other", [("theirs", "2026-02-01T00:00:00Z", "2026-02-01T01:00:00Z", "SUCCEEDED", {})])
    calls.clear()

    assert ledger.latest_succeeded("m")["run_id"] == "long"
    assert ledger.latest_succeeded("nobody") is None
    assert set(calls) == {"Query"}


def test_runs_of_a_model_come_newest_first_by_query_with_filters_and_a_start_bound(ledger, calls):
    _runs(ledger, "m", [(f"r{i}", f"2026-01-0{i}T00:00:00Z", None, None, {"kind": "scoring", "batch": f"b{i % 2}"} if i % 2 else {})
                        for i in range(1, 8)])
    _runs(ledger, "other", [("theirs", "2026-01-09T00:00:00Z", None, None, {})])
    ledger.record_decision("req", {"action": "start", "model": "m", "run_id": "r1"})  # not a run: never listed
    calls.clear()

    assert [r["run_id"] for r in ledger.runs(3, model="m")] == ["r7", "r6", "r5"]
    assert [r["run_id"] for r in ledger.runs(10, model="m", where={"kind": "scoring"})] == ["r7", "r5", "r3", "r1"]
    assert [r["run_id"] for r in ledger.runs(10, model="m", since="2026-01-05T00:00:00Z", where={"batch": "b1"})] == ["r7", "r5"]
    assert set(calls) == {"Query"}


def test_a_run_is_found_by_its_landing_a_nested_attribute(ledger, calls):
    ledger.record_run({"run_id": "a", "model": "m", "status": "RUNNING", "started_at": "2026-01-01T00:00:00Z",
                       "data": {"uri": "s3://l/incoming/m/a/"}, "spec": {}})
    ledger.record_run({"run_id": "b", "model": "m", "status": "RUNNING", "started_at": "2026-01-02T00:00:00Z",
                       "data": {"uri": "s3://l/incoming/m/b/"}, "spec": {}})
    calls.clear()

    found = ledger.runs(1, model="m", since="2026-01-01T00:00:00Z", where={"data.uri": "s3://l/incoming/m/a/"})

    assert [r["run_id"] for r in found] == ["a"] and set(calls) == {"Query"}


def test_without_a_model_every_run_is_listed_newest_first(ledger):
    _runs(ledger, "m", [("r1", "2026-01-01T00:00:00Z", None, None, {})])
    _runs(ledger, "n", [("r2", "2026-01-02T00:00:00Z", None, None, {})])

    assert [r["run_id"] for r in ledger.runs()] == ["r2", "r1"]
