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
