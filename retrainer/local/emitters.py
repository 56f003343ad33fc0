"""Events AWS emits and moto does not (docs/decisions/0011-local-event-emitters.md): Step Functions
"Execution Status Change" and CloudWatch "Alarm State Change", put on the default bus in the shapes
AWS documents, so the template's EventBridge rules route them as they would on AWS; and EventBridge
Scheduler's invocations of a schedule's target (moto stores schedules, fires none)."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from retrainer_core.names import FINAL_STATUSES as FINAL

from retrainer.local.moto_patches import on_execution_end

log = logging.getLogger(__name__)


def _millis(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


class _Watcher(threading.Thread):
    interval = 0.5

    def __init__(self, session: Any, name: str):
        super().__init__(name=name, daemon=True)
        self.events = session.client("events")
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            self._look(self.poll)

    def _look(self, look: Any) -> None:
        try:
            look()
        except Exception:  # noqa: BLE001 - keep watching through a passing error
            log.exception("%s", self.name)

    def stop(self) -> None:
        self.stopping.set()

    def poll(self) -> None:
        raise NotImplementedError

    def emit(self, source: str, detail_type: str, resources: list[str], detail: dict[str, Any]) -> None:
        self.events.put_events(Entries=[{"Source": source, "DetailType": detail_type, "Resources": resources,
                                         "Detail": json.dumps(detail, default=str)}])


class ExecutionStatusEmitter(_Watcher):
    """Emits each execution's end once (the states the template's rule listens to), as soon as moto's
    execution announces it (moto_patches 8). A full look through every execution is the safety net:
    once at start (executions that ended before) and every `interval` seconds after."""

    interval = 5.0

    def __init__(self, session: Any, state_machine_arns: list[str]):
        super().__init__(session, "execution-status-emitter")
        self.sfn = session.client("stepfunctions")
        self.state_machine_arns = state_machine_arns
        self.emitted: set[str] = set()
        self.ended: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stop_listening = on_execution_end(self.ended.put)

    def run(self) -> None:
        self._look(self.poll)
        next_poll = time.monotonic() + self.interval
        while not self.stopping.is_set():
            try:
                arn = self.ended.get(timeout=max(0.0, next_poll - time.monotonic()))
            except queue.Empty:
                self._look(self.poll)
                next_poll = time.monotonic() + self.interval
                continue
            self._look(partial(self._announced, arn))

    def stop(self) -> None:
        self._stop_listening()
        super().stop()
        self.ended.put("")  # wakes the loop

    def _announced(self, arn: str) -> None:
        machine = arn.rsplit(":", 1)[0].replace(":execution:", ":stateMachine:")
        if arn and arn not in self.emitted and machine in self.state_machine_arns:
            self._emit(self.sfn.describe_execution(executionArn=arn))
            self.emitted.add(arn)

    def poll(self) -> None:
        for arn in self.state_machine_arns:
            for page in self.sfn.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for execution in page["executions"]:
                    if execution["status"] in FINAL and execution["executionArn"] not in self.emitted:
                        self._emit(self.sfn.describe_execution(executionArn=execution["executionArn"]))
                        self.emitted.add(execution["executionArn"])

    def _emit(self, execution: dict[str, Any]) -> None:
        self.emit("aws.states", "Step Functions Execution Status Change", [execution["executionArn"]], {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _millis(execution.get("startDate")),
            "stopDate": _millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "inputDetails": {"included": True},
            "outputDetails": {"included": "output" in execution},
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        })


class ModelPackageStateEmitter(_Watcher):
    """Emits SageMaker "Model Package State Change" when a version is created or its approval status
    changes (moto emits none); the detail is the package as DescribeModelPackage returns it, as AWS's."""

    def __init__(self, session: Any, groups: list[str]):
        super().__init__(session, "model-package-state-emitter")
        self.sagemaker = session.client("sagemaker")
        self.groups = groups
        self.statuses: dict[str, str] = {}

    def poll(self) -> None:
        for group in self.groups:
            try:
                pages = list(self.sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group))
            except self.sagemaker.exceptions.ClientError:
                continue  # no group yet
            for summary in (s for page in pages for s in page["ModelPackageSummaryList"]):
                arn, status = summary["ModelPackageArn"], summary.get("ModelApprovalStatus", "")
                if self.statuses.get(arn) != status:
                    self.statuses[arn] = status
                    package = self.sagemaker.describe_model_package(ModelPackageName=arn)
                    package.pop("ResponseMetadata", None)
                    self.emit("aws.sagemaker", "SageMaker Model Package State Change", [arn], package)


_BREACHES = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


class AlarmStateEmitter(_Watcher):
    """Evaluates metric alarms against their metric's newest datapoints (moto does not), and emits every
    alarm state change, whether from that evaluation or from set_alarm_state."""

    def __init__(self, session: Any):
        super().__init__(session, "alarm-state-emitter")
        self.cloudwatch = session.client("cloudwatch")
        self.states: dict[str, dict[str, Any]] = {}
        self.evaluated: dict[str, datetime] = {}  # per alarm: datapoints before this time are evaluated

    def poll(self) -> None:
        for alarm in self.cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]:
            alarm = self._evaluate(alarm)
            state = {"value": alarm["StateValue"], "reason": alarm.get("StateReason", ""),
                     "timestamp": alarm["StateUpdatedTimestamp"].astimezone(UTC).isoformat()}
            previous = self.states.get(alarm["AlarmArn"])
            self.states[alarm["AlarmArn"]] = state
            if previous is not None and (previous["value"], previous["timestamp"]) != (state["value"], state["timestamp"]):
                self.emit("aws.cloudwatch", "CloudWatch Alarm State Change", [alarm["AlarmArn"]], {
                    "alarmName": alarm["AlarmName"],
                    "state": state,
                    "previousState": previous,
                    "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": []},
                    "operation": "update",
                    "id": str(uuid.uuid4()),
                })

    def _evaluate(self, alarm: dict[str, Any]) -> dict[str, Any]:
        """Datapoints put since the last look that breach (or no longer breach) the threshold change
        the state. "Since the last look" is a time range, not a count of aggregated points: two
        datapoints can fall into one period (one aggregate), and an old one can leave the window as a
        new one arrives (the count stays the same) — a count missed both."""
        if "MetricName" not in alarm or alarm.get("ComparisonOperator") not in _BREACHES:
            return alarm
        now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        window = timedelta(seconds=int(alarm["Period"]) * int(alarm["EvaluationPeriods"]))
        since = max(self.evaluated.get(alarm["AlarmArn"], now - window), now - window)
        # the current second is looked at again next time: a datapoint may still arrive in it
        self.evaluated[alarm["AlarmArn"]] = now - timedelta(seconds=1)
        statistic = alarm.get("Statistic", "Maximum")

        def datapoints(start: datetime) -> list[dict[str, Any]]:
            return self.cloudwatch.get_metric_statistics(
                Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm.get("Dimensions", []),
                StartTime=start, EndTime=now, Period=int(alarm["Period"]), Statistics=[statistic],
            )["Datapoints"]

        if not datapoints(since):
            return alarm
        value = max(p[statistic] for p in datapoints(now - window))
        breached = _BREACHES[alarm["ComparisonOperator"]](value, float(alarm["Threshold"]))
        target = "ALARM" if breached else "OK"
        if target == alarm["StateValue"]:
            return alarm
        verb = "greater than" if breached else "not greater than"
        self.cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=target,
                                        StateReason=f"Threshold Crossed: datapoint [{value:.4g}] was {verb} the threshold ({alarm['Threshold']}).")
        return self.cloudwatch.describe_alarms(AlarmNames=[alarm["AlarmName"]])["MetricAlarms"][0]


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


class ScheduleEmitter(_Watcher):
    """EventBridge Scheduler, as far as this stack uses it: rate(...) and at(...) schedules (UTC) with an
    SQS target get their Input sent on each due time, context attributes filled in. cron(...) is not
    emulated (logged once per schedule)."""

    interval = 1.0

    def __init__(self, session: Any):
        super().__init__(session, "schedule-emitter")
        self.scheduler = session.client("scheduler")
        self.sqs = session.client("sqs")
        self.due: dict[str, tuple[str, datetime | None]] = {}  # schedule ARN -> (expression, next due time)

    def poll(self) -> None:
        now = datetime.now(UTC)
        for group in self.scheduler.list_schedule_groups()["ScheduleGroups"]:
            for summary in self.scheduler.list_schedules(GroupName=group["Name"])["Schedules"]:
                schedule = self.scheduler.get_schedule(Name=summary["Name"], GroupName=group["Name"])
                expression, arn = schedule["ScheduleExpression"], schedule["Arn"]
                if self.due.get(arn, ("",))[0] != expression:  # new, or its expression changed
                    self.due[arn] = (expression, _first_due(expression, now))
                _, due = self.due[arn]
                if due is None or now < due or schedule.get("State", "ENABLED") != "ENABLED":
                    continue
                self._invoke(schedule, due)
                self.due[arn] = (expression, _next_due(expression, due, now))

    def _invoke(self, schedule: dict[str, Any], due: datetime) -> None:
        target = schedule["Target"]
        if ":sqs:" not in target["Arn"]:
            log.warning("schedule %s: only SQS targets are emulated locally", schedule["Name"])
            return
        body = target.get("Input", "{}")
        for name, value in {"execution-id": str(uuid.uuid4()), "scheduled-time": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "schedule-arn": schedule["Arn"], "attempt-number": "1"}.items():
            body = body.replace(f"<aws.scheduler.{name}>", value)
        url = self.sqs.get_queue_url(QueueName=target["Arn"].rsplit(":", 1)[-1])["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=body)


def _first_due(expression: str, now: datetime) -> datetime | None:
    rate, at = _RATE.match(expression), _AT.match(expression)
    if rate:
        return now + timedelta(seconds=int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")])
    if at:
        return datetime.fromisoformat(at.group(1)).replace(tzinfo=UTC)
    log.warning("schedule expression %r is not emulated locally (rate(...) and at(...) are)", expression)
    return None


def _next_due(expression: str, due: datetime, now: datetime) -> datetime | None:
    rate = _RATE.match(expression)
    if not rate:
        return None  # at(...): once
    period = timedelta(seconds=int(rate.group(1)) * _UNIT_SECONDS[rate.group(2).rstrip("s")])
    while due <= now:
        due += period
    return due
