"""Landings without a marker complete after a quiet period; a schedule runs the newest landing. Both
decide through the same lock and ledger as markers (retrainer_core/quiet.py, retrainer_core/triggering.py)."""

import json
import time

from retrainer_core.events import parse_trigger
from retrainer_core.ledger import Ledger
from retrainer_core.quiet import complete_if_quiet, wait_for_landing
from retrainer_core.settings import StartRetrainingSettings
from retrainer_core.triggering import decide, landing_spec

from tests.unit.conftest import LEDGER_TABLE
from tests.unit.test_triggering import ALARMS, BUCKET, ENVIRONMENT, GROUP_FILES, landing
from tests.utils.fakes import FakeObjects, FakeQuietChecks, FakeWorkflow

QUIET = StartRetrainingSettings.from_environ({**ENVIRONMENT, "LANDING_QUIET_PERIOD_SECONDS": "60"})
T0 = 1_700_000_000


def parts(objects, batch, names, at):
    for name in names:
        objects.put(BUCKET, f"incoming/scarcegan/{batch}/{name}", etag=f"{name}@{at}", last_modified=at)
    return objects


def spec_of(trigger, objects, ledger):
    """What decide() hands complete_if_quiet: the run of the landing it found quiet, remembered."""
    return lambda data, batch: landing_spec(trigger, QUIET, objects, None, data, batch, ledger)


def check_of(landing_detail, event_id="check-1"):
    event = {"version": "0", "id": event_id, "detail-type": "Landing Quiet Check", "source": "retrainer", "account": "1",
             "time": "2026-11-27T00:00:00Z", "region": "us-east-1", "resources": [], "detail": landing_detail}
    return parse_trigger(json.dumps(event), ALARMS)


def test_part_files_of_one_landing_schedule_one_check(aws):
    ledger, checks = Ledger(LEDGER_TABLE, now=lambda: T0), FakeQuietChecks()

    decisions = [wait_for_landing(landing("b", f"risky/part-{i}.csv", f"e-{i}"), QUIET, ledger, checks, now=lambda: T0) for i in range(50)]

    assert {d["action"] for d in decisions} == {"wait"}
    assert checks.scheduled == [({"bucket": BUCKET, "model": "scarcegan", "batch": "b"}, 60)]


def test_without_a_quiet_period_part_files_only_wait_for_the_marker(aws):
    checks = FakeQuietChecks()
    off = StartRetrainingSettings.from_environ(ENVIRONMENT)

    decision = wait_for_landing(landing("b", "risky/part-0.csv"), off, Ledger(LEDGER_TABLE), checks)

    assert decision["action"] == "wait" and "_SUCCESS" in decision["reason"] and checks.scheduled == []


def test_a_quiet_landing_runs_once_and_a_busy_one_is_checked_again(aws):
    ledger, checks, workflow = Ledger(LEDGER_TABLE, now=lambda: T0), FakeQuietChecks(), FakeWorkflow()
    objects = parts(FakeObjects(), "b", GROUP_FILES, T0)
    detail = {"bucket": BUCKET, "model": "scarcegan", "batch": "b"}

    early = complete_if_quiet(check_of(detail), QUIET, objects, workflow, ledger, checks, spec_of(check_of(detail), objects, ledger), now=lambda: T0 + 45)
    due = complete_if_quiet(check_of(detail, "check-2"), QUIET, objects, workflow, ledger, checks, spec_of(check_of(detail, "check-2"), objects, ledger), now=lambda: T0 + 61)
    again = complete_if_quiet(check_of(detail, "check-3"), QUIET, objects, workflow, ledger, checks, spec_of(check_of(detail, "check-3"), objects, ledger), now=lambda: T0 + 90)

    assert early.action == "wait" and checks.scheduled == [(detail, 15)]
    assert due.action == "start" and again.action == "duplicate"
    run = workflow.started[due.run_id]
    assert run["trigger"]["type"] == "quiet-period" and run["data"]["objects"] == len(GROUP_FILES)
    assert ledger.latest_landing("scarcegan")["batch"] == "b"  # what drift alarms and schedules train on


def test_part_files_arriving_during_the_run_make_one_more_run_on_the_new_content(aws):
    clock = {"now": T0}
    ledger, checks, workflow = Ledger(LEDGER_TABLE, now=lambda: clock["now"]), FakeQuietChecks(), FakeWorkflow()
    objects = parts(FakeObjects(), "b", GROUP_FILES, T0)
    detail = {"bucket": BUCKET, "model": "scarcegan", "batch": "b"}
    wait_for_landing(landing("b", "risky/part-0.csv"), QUIET, ledger, checks, now=lambda: clock["now"])
    clock["now"] = T0 + 61
    first = complete_if_quiet(check_of(detail), QUIET, objects, workflow, ledger, checks, spec_of(check_of(detail), objects, ledger), now=lambda: clock["now"])

    for i in range(1, 20):  # the exporter was not done after all: more parts while the run goes
        parts(objects, "b", [f"risky/part-{i}.csv"], T0 + 70)
        wait_for_landing(landing("b", f"risky/part-{i}.csv", f"e-{i}"), QUIET, ledger, checks, now=lambda: T0 + 70)
    clock["now"] = T0 + 131
    second = complete_if_quiet(check_of(detail, "check-2"), QUIET, objects, workflow, ledger, checks, spec_of(check_of(detail, "check-2"), objects, ledger), now=lambda: clock["now"])

    assert len(checks.scheduled) == 2  # one per burst
    assert (first.action, second.action) == ("start", "coalesce") and second.details["holder"] == first.run_id


def test_a_schedule_runs_the_newest_complete_landing_once_even_without_its_events(aws):
    ledger, workflow, objects = Ledger(LEDGER_TABLE), FakeWorkflow(), FakeObjects()
    scheduled = {"version": "0", "id": "exec-1", "detail-type": "Scheduled Retraining", "source": "retrainer", "account": "1",
                 "time": "2026-11-27T03:00:00Z", "region": "us-east-1", "resources": [], "detail": {"model": "scarcegan"}}

    def tick(execution):
        return decide(parse_trigger(json.dumps({**scheduled, "id": execution}), ALARMS), QUIET, objects, workflow, ledger)

    nothing_yet = tick("exec-1")
    parts(objects, "old", [*GROUP_FILES, "_SUCCESS"], T0)
    parts(objects, "new", [*GROUP_FILES, "_SUCCESS"], T0 + 10)
    parts(objects, "partial", ["risky/part-0.csv"], time.time())  # no marker, and not quiet for long: not complete
    nightly = tick("exec-2")
    ledger.release("scarcegan", nightly.run_id)
    next_night = tick("exec-3")

    assert nothing_yet.action == "ignore" and "no complete landing" in nothing_yet.reason
    assert nightly.action == "start" and workflow.started[nightly.run_id]["data"]["uri"].endswith("/new/")
    assert (next_night.action, next_night.run_id) == ("duplicate", nightly.run_id)  # same data, code and parameters: no second run
