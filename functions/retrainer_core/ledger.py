"""The run ledger (one DynamoDB table): per-model locks, run records and the step cache index.

Items (pk / sk):
- `MODEL#<model>` / `LOCK`: the model's running run; the runs queued behind it (`pending`); expiry (stale-lock guard)
- `MODEL#<model>` / `LATEST`: the newest complete landing (what a drift or manual run trains on)
- `MODEL#<model>` / `LATEST_SCORING`: the newest complete scoring batch (what an approval re-scores)
- `MODEL#<model>` / `COOLDOWN#<alarm>`: when that alarm last started a run
- `MODEL#<model>` / `QUIET#<landing prefix>`: when the landing's scheduled quiet-period check is due
- `RUN#<run id>` / `RUN`: spec, trigger, status (QUEUED / SUPERSEDED while waiting), attempts, failure,
  steps and cost of one run
- `REQUEST#<request id>` / `DECISION`: what became of a CLI request (started, queued behind, duplicate, refused)
- `CACHE#<step>#<key>` / `CACHE`: a completed step's job (written by finish_run from the execution history)
- `PACKAGE#<group>` / `CONTENT#<content key>`: the model package version registered for that artifact

Every write that decides something is conditional, so two concurrent invocations cannot both start a
run for one model (docs/decisions/0008-run-ledger-and-lock.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from itertools import islice
from typing import Any

from botocore.exceptions import ClientError

from retrainer_core.aws import client
from retrainer_core.names import SUCCEEDED

RACE_TRIES = 10  # rounds of a conditional write that lost a race, before it is an error


def _conditional_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _first_write(write: Callable[[], Any]) -> bool:
    """True when the conditional write went through; False when its condition failed (someone wrote first)."""
    try:
        write()
        return True
    except ClientError as error:
        if _conditional_failed(error):
            return False
        raise


def _plain(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal: JSON-friendly again."""
    if isinstance(value, Decimal):
        return int(value) if value == int(value) else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_plain(v) for v in (sorted(value) if isinstance(value, set) else value)]
    return value


def _clean(value: Any) -> Any:
    """JSON round trip with floats as Decimal, as the DynamoDB resource API wants."""
    return json.loads(json.dumps(value, default=str), parse_float=Decimal)


class Ledger:
    def __init__(self, table_name: str, now: Any = time.time):
        self.table = _table(table_name)
        self.now = now

    # ---- locks
    def acquire(self, model: str, run_id: str, ttl_seconds: int) -> str | None:
        """Take the model's lock for run_id. Returns None when taken, else the run that holds it."""
        for _ in range(RACE_TRIES):  # again only when the holder let go between our write and our read
            now = int(self.now())
            try:
                self.table.put_item(
                    Item={"pk": f"MODEL#{model}", "sk": "LOCK", "run_id": run_id, "acquired_at": now, "expires_at": now + ttl_seconds},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR run_id = :run",
                    ExpressionAttributeValues={":now": now, ":run": run_id},
                )
                return None
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
            holder = self.lock(model)
            if holder:
                return holder["run_id"]
        raise RuntimeError(f"the lock of {model} changed hands {RACE_TRIES} times while {run_id} tried to take it")

    def lock(self, model: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"MODEL#{model}", "sk": "LOCK"}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def add_pending(self, model: str, holder: str, landing: dict[str, Any]) -> bool:
        """Remember a run (keyed by its run id) for the one follow-up after `holder` ends; False if
        holder no longer holds the lock."""
        for _ in range(RACE_TRIES):  # again only when another run's pending map appeared meanwhile
            added = self._add_pending(model, holder, landing)
            if added is not None:
                return added
        raise RuntimeError(f"the pending runs of {model} kept changing while {landing['run_id']} was added")

    def _add_pending(self, model: str, holder: str, landing: dict[str, Any]) -> bool | None:
        """True: added; False: holder no longer holds the lock; None: try again."""
        try:
            self.table.update_item(
                Key={"pk": f"MODEL#{model}", "sk": "LOCK"},
                UpdateExpression="SET pending.#run = :landing",
                ConditionExpression="run_id = :holder AND attribute_exists(pending)",
                ExpressionAttributeNames={"#run": landing["run_id"]},
                ExpressionAttributeValues={":holder": holder, ":landing": _clean(landing)},
            )
            return True
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        try:  # first pending landing: create the map
            self.table.update_item(
                Key={"pk": f"MODEL#{model}", "sk": "LOCK"},
                UpdateExpression="SET pending = :pending",
                ConditionExpression="run_id = :holder AND attribute_not_exists(pending)",
                ExpressionAttributeValues={":holder": holder, ":pending": _clean({landing["run_id"]: landing})},
            )
            return True
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            holder_now = self.lock(model)
            return None if holder_now and holder_now["run_id"] == holder else False

    def release(self, model: str, run_id: str) -> dict[str, Any]:
        """Drop run_id's lock; returns the pending landings it carried (empty if it held none)."""
        try:
            old = self.table.delete_item(
                Key={"pk": f"MODEL#{model}", "sk": "LOCK"},
                ConditionExpression="run_id = :run",
                ExpressionAttributeValues={":run": run_id},
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
        except ClientError as error:
            if _conditional_failed(error):
                return {}
            raise
        return _plain(old).get("pending", {})

    # ---- landings and cooldowns
    def remember_landing(self, model: str, landing: dict[str, Any], scoring: bool = False) -> None:
        """The model's newest complete landing (training data, or with scoring=True a scoring batch)."""
        self.table.put_item(Item={"pk": f"MODEL#{model}", "sk": "LATEST_SCORING" if scoring else "LATEST", **_clean(landing)})

    def latest_landing(self, model: str, scoring: bool = False) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"MODEL#{model}", "sk": "LATEST_SCORING" if scoring else "LATEST"},
                                   ConsistentRead=True).get("Item")
        return {k: v for k, v in _plain(item).items() if k not in ("pk", "sk")} if item else None

    def claim_cooldown(self, model: str, alarm: str, cooldown_seconds: int) -> bool:
        """True (and the clock restarts) unless this alarm started a run within its cooldown."""
        now = int(self.now())
        return _first_write(lambda: self.table.put_item(
            Item={"pk": f"MODEL#{model}", "sk": f"COOLDOWN#{alarm}", "fired_at": now},
            ConditionExpression="attribute_not_exists(pk) OR fired_at < :since",
            ExpressionAttributeValues={":since": now - cooldown_seconds},
        ))

    # ---- quiet-period checks (retrainer_core/quiet.py): one due per landing at a time
    def claim_quiet_check(self, model: str, prefix: str, due_at: int) -> bool:
        """True when no check of this landing is due later than now (so the caller schedules one)."""
        return _first_write(lambda: self.table.put_item(
            Item={"pk": f"MODEL#{model}", "sk": f"QUIET#{prefix}", "due_at": due_at},
            ConditionExpression="attribute_not_exists(pk) OR due_at <= :now",
            ExpressionAttributeValues={":now": int(self.now())},
        ))

    def extend_quiet_check(self, model: str, prefix: str, due_at: int) -> None:
        self.table.put_item(Item={"pk": f"MODEL#{model}", "sk": f"QUIET#{prefix}", "due_at": due_at})

    # ---- runs
    def record_run(self, run: dict[str, Any]) -> bool:
        """Create the run's record; False if it exists (the same run was started before)."""
        return _first_write(lambda: self.table.put_item(
            Item={"pk": f"RUN#{run['run_id']}", "sk": "RUN", **_clean(run)}, ConditionExpression="attribute_not_exists(pk)"))

    def run(self, run_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"RUN#{run_id}", "sk": "RUN"}, ConsistentRead=True).get("Item")
        return {k: v for k, v in _plain(item).items() if k not in ("pk", "sk")} if item else None

    def update_run(self, run_id: str, **fields: Any) -> None:
        names = {f"#{k}": k for k in fields}
        values = {f":{k}": _clean(v) for k, v in fields.items()}
        self.table.update_item(
            Key={"pk": f"RUN#{run_id}", "sk": "RUN"},
            UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in fields),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def add_attempt(self, run_id: str, attempt: dict[str, Any]) -> bool:
        """Record one execution of the run, once: False when that execution is recorded already (two
        invocations racing on one trigger both saw the run without it)."""
        return _first_write(lambda: self.table.update_item(
            Key={"pk": f"RUN#{run_id}", "sk": "RUN"},
            UpdateExpression="SET attempts = list_append(if_not_exists(attempts, :none), :attempt), #status = :running "
                             "ADD executions :execution REMOVE failure, queued_behind, superseded_by",
            ConditionExpression="attribute_not_exists(executions) OR NOT contains(executions, :name)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":none": [], ":attempt": [_clean(attempt)], ":running": "RUNNING",
                                       ":execution": {attempt["execution"]}, ":name": attempt["execution"]},
        ))

    def supersede(self, run_id: str, by: str) -> None:
        """A queued run that will not run: the newer run `by` covers its data."""
        try:
            self.table.update_item(
                Key={"pk": f"RUN#{run_id}", "sk": "RUN"},
                UpdateExpression="SET #status = :superseded, superseded_by = :by REMOVE queued_behind",
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":superseded": "SUPERSEDED", ":by": by, ":queued": "QUEUED"},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise

    # ---- requests (retrainer start / resume): what became of each, by its id
    def record_decision(self, request_id: str, decision: dict[str, Any]) -> None:
        self.table.put_item(Item={"pk": f"REQUEST#{request_id}", "sk": "DECISION", "decided_at": int(self.now()),
                                  **_clean({k: v for k, v in decision.items() if v is not None})})

    def decision(self, request_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"REQUEST#{request_id}", "sk": "DECISION"}, ConsistentRead=True).get("Item")
        return {k: v for k, v in _plain(item).items() if k not in ("pk", "sk")} if item else None

    # ---- registered versions, by the content key of their artifact
    def registration(self, group: str, content_key: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"PACKAGE#{group}", "sk": f"CONTENT#{content_key}"}, ConsistentRead=True).get("Item")
        return _plain(item) if item else None

    def claim_registration(self, group: str, content_key: str, run_id: str, kind: str) -> bool:
        """True when no one registered (or began registering) this content before."""
        return _first_write(lambda: self.table.put_item(
            Item={"pk": f"PACKAGE#{group}", "sk": f"CONTENT#{content_key}", "run_id": run_id, "kind": kind,
                  "claimed_at": int(self.now())},
            ConditionExpression="attribute_not_exists(pk)",
        ))

    def registered(self, group: str, content_key: str, arn: str) -> None:
        self.table.update_item(Key={"pk": f"PACKAGE#{group}", "sk": f"CONTENT#{content_key}"},
                               UpdateExpression="SET arn = :arn", ExpressionAttributeValues={":arn": arn})

    def latest_succeeded(self, model: str) -> dict[str, Any] | None:
        """The model's newest successful run by when it ended (its preprocess artifacts are the drift
        baseline): its finished runs newest first (RunsByEnd), the first that succeeded."""
        return next(self._query(RUNS_BY_END, model, where={"status": SUCCEEDED}), None)

    def runs(self, limit: int = 50, model: str | None = None, since: str | None = None,
             where: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run records, newest started first. Of one model: a Query (RunsByStart), from `since` (an ISO
        start time) when given, keeping those whose attributes equal `where`'s ({"kind": "scoring"},
        {"data.uri": ...}). Without a model: every model's, by a Scan, for an operator's listing and
        tests; no hot path calls it so."""
        if model is not None:
            return list(islice(self._query(RUNS_BY_START, model, since, where), limit))
        items: list[dict[str, Any]] = []
        scan: dict[str, Any] = _filter({"sk": "RUN", **(where or {})})
        while True:
            page = self.table.scan(**scan)
            items += [_plain(i) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda r: r.get("started_at", ""), reverse=True)
        return [_run(i) for i in items[:limit]]

    def _query(self, index: str, model: str, since: str | None = None,
               where: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
        """A model's run records from one index, newest first, page by page as the caller reads on."""
        query: dict[str, Any] = _filter(where or {})
        names, values = query.setdefault("ExpressionAttributeNames", {}), query.setdefault("ExpressionAttributeValues", {})
        names["#model"], values[":model"] = "model", model
        query.update(IndexName=index, ScanIndexForward=False, KeyConditionExpression="#model = :model")
        if since is not None:
            names["#at"], values[":since"] = INDEX_RANGE_KEY[index], since
            query["KeyConditionExpression"] += " AND #at >= :since"
        while True:
            page = self.table.query(**query)
            yield from (_run(_plain(i)) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


    # ---- the step cache: a completed step's job, by the step's content key (docs/decisions/0009)
    def cached_step(self, step: str, key: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"CACHE#{step}#{key}", "sk": "CACHE"}, ConsistentRead=True).get("Item")
        return {k: v for k, v in _plain(item).items() if k not in ("pk", "sk")} if item else None

    def remember_step(self, step: str, key: str, entry: dict[str, Any]) -> None:
        """Idempotent: the same key always names outputs at the same paths, whichever job wrote them."""
        self.table.put_item(Item={"pk": f"CACHE#{step}#{key}", "sk": "CACHE", **_clean(entry)})


# The run ledger's indexes (template.yaml RunLedgerTable): a model's run records by start and by end.
# Only run items carry `model` with `started_at` / `ended_at`, so the indexes hold nothing else.
RUNS_BY_START, RUNS_BY_END = "RunsByStart", "RunsByEnd"
INDEX_RANGE_KEY = {RUNS_BY_START: "started_at", RUNS_BY_END: "ended_at"}


def _run(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}


def _filter(where: dict[str, Any]) -> dict[str, Any]:
    """A FilterExpression of equalities; a dotted name is a nested attribute ("data.uri")."""
    if not where:
        return {}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    terms = []
    for index, (name, value) in enumerate(sorted(where.items())):
        path = []
        for depth, part in enumerate(name.split(".")):
            names[f"#w{index}_{depth}"] = part
            path.append(f"#w{index}_{depth}")
        values[f":w{index}"] = value
        terms.append(f"{'.'.join(path)} = :w{index}")
    return {"FilterExpression": " AND ".join(terms), "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}


@cache
def _table(name: str) -> Any:
    import boto3

    return boto3.resource("dynamodb", config=client("dynamodb").meta.config).Table(name)
