"""`retrainer models | compare | approve | reject`: review the candidates in the Model Registry.
`retrainer report` (retrainer/report.py) and `retrainer graph` (retrainer/graph.py) help a reviewer
decide too; every command is registered in retrainer/cli.py."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from getpass import getuser
from typing import Any

from retrainer import target
from retrainer.runs import latest_approved, version_row, versions  # noqa: F401 - re-exported

# The metrics a reviewer sees first, in this order (tables, comparisons, the report's figures). They are
# read from a version's metadata, where registration writes Metric.<name> = "value [low, high]" for every
# metric evaluate measured; not to be confused with the statistics registration requires
# (retrainer_core.registration.REQUIRED_STATISTICS).
REVIEW_METRICS = ("pr_auc", "recall", "precision", "f1")
MAX_METADATA_VALUE = 256  # SageMaker's limit on a CustomerMetadataProperties value
MAX_APPROVAL_DESCRIPTION = 1024


def resolve(sagemaker: Any, group: str, reference: str) -> str:
    """A version number (3 or v3, in the group) or a model package ARN -> the ARN."""
    if reference.startswith("arn:"):
        return reference
    number = reference.lower().removeprefix("v")
    if not number.isdigit():
        raise LookupError(f"{reference!r} is neither a version number nor a model package ARN")
    for row in versions(sagemaker, group):
        if row["version"] == int(number):
            return row["arn"]
    raise LookupError(f"no version {number} in model package group {group}")


# ---------------------------------------------------------------- review
def review_metadata(existing: dict[str, str], note: str, reviewer: str, at: str) -> dict[str, str]:
    """The metadata to send with the status change: all of it, since UpdateModelPackage without it
    loses it on moto (and a partial map is easy to get wrong on AWS), plus who decided, when and why."""
    return {**existing, "ReviewNote": note[:MAX_METADATA_VALUE], "ReviewedBy": reviewer[:MAX_METADATA_VALUE], "ReviewedAt": at}


def review(sagemaker: Any, arn: str, status: str, note: str, reviewer: str | None = None) -> dict[str, Any]:
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    metadata = review_metadata(package.get("CustomerMetadataProperties", {}) or {}, note, reviewer or getuser(),
                               datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus=status,
                                   ApprovalDescription=note[:MAX_APPROVAL_DESCRIPTION], CustomerMetadataProperties=metadata)
    return version_row(sagemaker.describe_model_package(ModelPackageName=arn))


# ---------------------------------------------------------------- comparison (pure)
def comparison(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a side-by-side view: field, one value per model, and whether the values differ.
    Metrics rows also carry each value's difference to the first model's."""
    fields = [("version", lambda m: f"v{m['version']}"), ("family", lambda m: m.get("family")), ("kind", lambda m: m["kind"]),
              ("run", lambda m: m["run_id"]), ("beats champion", lambda m: _beats(m)),
              ("trigger", lambda m: m["trigger"]), ("data version", lambda m: _short(m["data_version"])),
              ("code version", lambda m: m["code_version"]), ("approval", lambda m: m["approval"])]
    rows = [{"field": name, "values": [get(m) for m in models]} for name, get in fields]
    metric_names = [k for k in REVIEW_METRICS if any(k in m["metrics"] for m in models)]
    metric_names += sorted({k for m in models for k in m["metrics"]} - set(metric_names))
    for name in metric_names:
        values = [m["metrics"].get(name) for m in models]
        first = values[0]
        deltas = [None if v is None or first is None else round(v - first, 6) for v in values]
        rows.append({"field": name, "values": values, "deltas": deltas, "metric": True})
    for name in sorted({k for m in models for k in m["hyperparameters"]}):
        rows.append({"field": f"hp {name}", "values": [m["hyperparameters"].get(name) for m in models]})
    for row in rows:
        row["differs"] = len({json.dumps(v) for v in row["values"]}) > 1
    return rows


def render_comparison(rows: list[dict[str, Any]]) -> str:
    """A text table; a row whose values differ starts with '*', metric deltas to the first column in ()."""
    cells = []
    for row in rows:
        shown = []
        for index, value in enumerate(row["values"]):
            if row.get("metric") and value is not None:
                delta = row["deltas"][index]
                shown.append(f"{value:.3f}" + (f" ({delta:+.3f})" if index and delta else ""))
            else:
                shown.append("-" if value is None else str(value))
        cells.append(("*" if row["differs"] else " ", row["field"], shown))
    width = max(len(c[1]) for c in cells)
    columns = [max(len(c[2][i]) for c in cells) for i in range(len(rows[0]["values"]))]
    lines = [f"{mark} {name:<{width}}  " + "  ".join(f"{v:<{columns[i]}}" for i, v in enumerate(values)).rstrip()
             for mark, name, values in cells]
    return "\n".join(lines + ["(* = differs; metric deltas are to the first column)"])


def render_versions(rows: list[dict[str, Any]]) -> str:
    """One line per version: family, kind, run, each key metric with its interval, champion comparison."""
    header = (f"{'ver':<5} {'family':<17} {'kind':<17} {'run':<36} "
              + " ".join(f"{m:<19}" for m in REVIEW_METRICS) + f" {'champion':<9} {'approval':<22} note")
    lines = [header]
    for row in rows:
        metrics = " ".join(f"{_with_interval(row.get('intervals', {}).get(m)):<19}" for m in REVIEW_METRICS)
        lines.append(f"v{row['version']!s:<4} {row.get('family') or '-':<17} {row['kind'] or '-':<17} {row['run_id'] or '-':<36} "
                     f"{metrics} {_beats(row):<9} {row['approval']:<22} {row['approval_note'] or ''}".rstrip())
    return "\n".join(lines + ["(metrics: value [interval] on the run's test players; champion: beats the approved version)"])


def _with_interval(bounds: dict[str, Any] | None) -> str:
    if not bounds:
        return "-"
    if bounds.get("low") is None:
        return f"{bounds['value']:.3f}"
    return f"{bounds['value']:.2f} [{bounds['low']:.2f},{bounds['high']:.2f}]"


def _beats(row: dict[str, Any]) -> str:
    beats = row.get("beats_champion")
    return "-" if beats is None else "beats" if beats else "no"


def _short(version: str | None) -> str:
    return (version or "-").removeprefix("sha256:")[:12]


def add_arguments(command: str, parser: Any) -> None:
    if command == "models":
        parser.add_argument("--group", help="model package group (default: the stack's)")
        parser.add_argument("--approved", action="store_true", help="only the latest approved version")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_models)
    elif command == "compare":
        parser.add_argument("versions", nargs="+", metavar="VERSION", help="version number (in the group) or model package ARN")
        parser.add_argument("--group")
        parser.add_argument("--json", action="store_true")
        parser.set_defaults(run=_compare)
    elif command in REVIEW_ACTIONS:
        parser.add_argument("version", help="version number (in the group) or model package ARN")
        parser.add_argument("--note", required=True, help="why (kept as ApprovalDescription and in the metadata)")
        parser.add_argument("--group")
        parser.set_defaults(run=_review, status=REVIEW_ACTIONS[command])


REVIEW_ACTIONS = {"approve": "Approved", "reject": "Rejected"}


def _registry(args: argparse.Namespace) -> tuple[Any, str]:
    session, stack = target.session(target.Location.from_environment())
    return session.client("sagemaker"), args.group or stack["outputs"]["ModelPackageGroupName"]


def _models(args: argparse.Namespace) -> int:
    sagemaker, group = _registry(args)
    if args.approved:
        approved = latest_approved(sagemaker, group)
        if args.json:
            print(json.dumps(approved))
        elif approved:
            print(render_versions([approved]))
            print(f"approved by {approved['reviewed_by'] or '?'} at {approved['reviewed_at'] or '?'}; {approved['arn']}")
        else:
            print(f"no approved version in {group}")
        return 0 if approved else 3
    rows = versions(sagemaker, group)
    if args.json:
        print(json.dumps(rows))
        return 0
    approved = sum(r["approval"] == "Approved" for r in rows)
    print(f"{group}: {len(rows)} versions, {approved} approved")
    if rows:
        print(render_versions(rows))
    return 0


def _compare(args: argparse.Namespace) -> int:
    sagemaker, group = _registry(args)
    try:
        arns = [resolve(sagemaker, group, v) for v in args.versions]
    except LookupError as error:
        print(f"retrainer: {error}", file=sys.stderr)
        return 2
    models = [version_row(sagemaker.describe_model_package(ModelPackageName=arn)) for arn in arns]
    rows = comparison(models)
    print(json.dumps(rows) if args.json else render_comparison(rows))
    return 0


def _review(args: argparse.Namespace) -> int:
    sagemaker, group = _registry(args)
    try:
        arn = resolve(sagemaker, group, args.version)
    except LookupError as error:
        print(f"retrainer: {error}", file=sys.stderr)
        return 2
    row = review(sagemaker, arn, args.status, args.note)
    print(f"v{row['version']} {row['kind']} of run {row['run_id']}: {row['approval']} by {row['reviewed_by']} ({row['approval_note']})")
    return 0
