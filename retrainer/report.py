"""`retrainer report <run>`: one self-contained HTML page (figures inlined as PNG data URIs, and also
written as PNG files) with everything a reviewer needs to judge a run's candidates.

Where each part comes from (docs/decisions/0601-report-sources.md):
- training curves: the training job's CloudWatch log stream, parsed with the job's own MetricDefinitions;
- precision-recall and ROC curves: evaluate's `report/curves.json`; operating points and confusion
  matrices: each candidate's model-quality `statistics.json` (the registry's ModelMetrics);
- candidates and the approved version: the Model Registry; parameters, data versions, steps and cost:
  the run ledger; the step timeline: the last execution's history."""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from retrainer_core.ledger import Ledger
from retrainer_core.metric_lines import metric_lines
from retrainer_core.names import execution_arn, split_s3_uri

from retrainer import target
from retrainer.runs import log_lines

TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
STEP_STATES = ("Preprocess", "Train", "Evaluate", "RegisterModels")


# ---------------------------------------------------------------- pure: metric series
def metric_series(lines: list[str], definitions: list[dict[str, str]], x_metric: str = "Iteration") -> dict[str, dict[str, list[float]]]:
    """Each MetricDefinition's values per log line that matches it, against the `x_metric` value of that
    line (or the line's order among metric lines when it has none): {name: {"x": [...], "y": [...]}}."""
    series: dict[str, dict[str, list[float]]] = {}
    for index, values in enumerate(metric_lines(lines, definitions), start=1):
        x = values.pop(x_metric, float(index))
        for name, value in values.items():
            entry = series.setdefault(name, {"x": [], "y": []})
            entry["x"].append(x)
            entry["y"].append(value)
    return series


def confusion(statistics: dict[str, Any]) -> list[list[int]]:
    """Model Monitor's confusion_matrix[actual][predicted] -> [[tn, fp], [fn, tp]]."""
    matrix = statistics["binary_classification_metrics"]["confusion_matrix"]
    return [[int(matrix["0"]["0"]), int(matrix["0"]["1"])], [int(matrix["1"]["0"]), int(matrix["1"]["1"])]]


def operating_point(statistics: dict[str, Any]) -> dict[str, float]:
    metrics = statistics["binary_classification_metrics"]
    return {k: float(metrics[k]["value"]) for k in ("precision", "recall", "false_positive_rate", "true_positive_rate") if k in metrics}


# ---------------------------------------------------------------- gathering (AWS APIs)
def gather(session: Any, stack: dict[str, Any], run_id: str) -> dict[str, Any]:
    """Everything the page shows, read from the ledger, the registry, S3, CloudWatch Logs and Step Functions."""
    from retrainer import review, runs

    run = Ledger(stack["outputs"]["RunLedgerTableName"]).run(run_id)
    if run is None:
        raise LookupError(f"no run {run_id!r} in the run ledger")
    spec = run.pop("spec")
    sagemaker, s3, logs, sfn = (session.client(s) for s in ("sagemaker", "s3", "logs", "stepfunctions"))
    steps = {s["step"]: s for s in run.get("steps", [])}

    training: dict[str, Any] = {"job": steps.get("train", {}).get("job_name"), "series": {}, "cached": steps.get("train", {}).get("cache_hit", False)}
    if not training["job"]:
        job = runs.training_job(sagemaker, run_id)
        training["job"] = job["TrainingJobName"] if job else None
    if training["job"]:
        described = sagemaker.describe_training_job(TrainingJobName=training["job"])
        definitions = described.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
        training["series"] = metric_series(log_lines(logs, TRAINING_LOGS, training["job"]), definitions)
        training["final"] = runs.final_metrics(described)

    group = spec["model_package_group"]
    models = [m for m in review.versions(sagemaker, group) if m["run_id"] == run_id]
    for model in models:
        statistics = _read_json(s3, model["metrics_uri"])
        if statistics:
            model["confusion"] = confusion(statistics)
            model["operating_point"] = operating_point(statistics)
    report_uri = spec["paths"].get("report", "")
    evaluation = _read_json(s3, f"{report_uri}/evaluation.json") if report_uri else None
    curves = _read_json(s3, f"{report_uri}/curves.json") if report_uri else None

    timeline: list[dict[str, Any]] = []
    if run.get("attempts"):
        execution = run["attempts"][-1]["execution"]
        arn = execution_arn(stack["outputs"]["StateMachineArn"], execution)
        try:
            found = runs.outcomes(runs.history(sfn, arn))
        except sfn.exceptions.ExecutionDoesNotExist:
            found = {}
        timeline = spans(found)

    approved = review.latest_approved(sagemaker, group)
    return {
        "run": run, "spec": spec, "training": training, "models": models, "evaluation": evaluation or {},
        "curves": curves or {}, "timeline": timeline, "approved": approved,
        "comparison": review.comparison(models + ([approved] if approved and approved["arn"] not in {m["arn"] for m in models} else [])) if models else [],
    }


def spans(found: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Top-level states in the order entered, with their start offset and seconds."""
    timed = [(n, e) for n, e in found.items() if isinstance(e.get("first"), datetime)]
    if not timed:
        return []
    origin = min(e["first"] for _, e in timed)
    rows = []
    for name, entry in sorted(timed, key=lambda item: item[1]["first"]):
        start = (entry["first"] - origin).total_seconds()
        rows.append({"state": name, "outcome": entry["outcome"], "start": round(start, 2),
                     "seconds": round(max((entry["last"] - entry["first"]).total_seconds(), 0.0), 2),
                     "attempts": entry["attempts"]})
    return rows


def _read_json(s3: Any, uri: str | None) -> Any:
    try:
        bucket, key = split_s3_uri(uri or "")
    except ValueError:
        return None
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except (s3.exceptions.NoSuchKey, json.JSONDecodeError):
        return None
    except Exception as error:  # noqa: BLE001 - a missing figure must not lose the whole report
        if "NoSuchKey" in str(error) or "404" in str(error):
            return None
        raise


# ---------------------------------------------------------------- figures
def figures(data: dict[str, Any]) -> dict[str, bytes]:
    """PNG bytes per figure name; a figure whose source is missing is left out."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    made: dict[str, bytes] = {}

    def save(name: str, fig: Any) -> None:
        buffer = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        made[name] = buffer.getvalue()

    series = data["training"]["series"]
    if series:
        losses = {k: v for k, v in series.items() if "loss" in k.lower()}
        rates = {k: v for k, v in series.items() if k not in losses}
        panels = [p for p in (("losses", losses), ("accuracy and validation metrics", rates)) if p[1]]
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.6), squeeze=False)
        for ax, (title, group) in zip(axes[0], panels, strict=True):
            for name, points in group.items():
                ax.plot(points["x"], points["y"], label=name, linewidth=1.3)
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("iteration")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        save("training_curves", fig)

    kinds = [m["kind"] for m in data["models"]] or list(data["curves"])
    curves = data["curves"]
    points = {m["kind"]: m.get("operating_point", {}) for m in data["models"]}
    if curves or any(points.values()):
        fig, (pr, roc) = plt.subplots(1, 2, figsize=(11, 4.2))
        for kind in kinds:
            curve = curves.get(kind)
            line = None
            if curve:
                label = f"{kind} (AP {curve['auc_pr']:.3f})"
                line, = pr.plot(curve["precision_recall"]["recall"], curve["precision_recall"]["precision"], label=label, drawstyle="steps-post")
                roc.plot(curve["roc"]["false_positive_rate"], curve["roc"]["true_positive_rate"], label=f"{kind} (AUC {curve['auc_roc']:.3f})",
                         color=line.get_color(), drawstyle="steps-post")
            point = points.get(kind) or {}
            colour = line.get_color() if line else None
            if "recall" in point:
                pr.plot([point["recall"]], [point["precision"]], "o", color=colour, label=None if line else kind)
            if "false_positive_rate" in point:
                roc.plot([point["false_positive_rate"]], [point["true_positive_rate"]], "o", color=colour, label=None if line else kind)
        roc.plot([0, 1], [0, 1], ":", color="grey", linewidth=0.8)
        for ax, title, xlabel, ylabel in ((pr, "precision-recall (risky class)", "recall", "precision"),
                                          (roc, "ROC", "false positive rate", "true positive rate")):
            ax.set_title(title + "; dot = the model's operating point", fontsize=10)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.02, 1.02)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7, loc="lower left" if ax is pr else "lower right")
        save("pr_roc_curves", fig)

    with_matrix = [m for m in data["models"] if m.get("confusion")]
    if with_matrix:
        fig, axes = plt.subplots(1, len(with_matrix), figsize=(3.1 * len(with_matrix), 3.2), squeeze=False)
        for ax, model in zip(axes[0], with_matrix, strict=True):
            matrix = model["confusion"]
            ax.imshow([[min(v, 1e9) for v in row] for row in matrix], cmap="Blues")
            top = max(max(row) for row in matrix)
            for i in range(2):
                for j in range(2):
                    ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=11,
                            color="white" if matrix[i][j] > top / 2 else "black")
            ax.set_xticks([0, 1], ["not risky", "risky"])
            ax.set_yticks([0, 1], ["not risky", "risky"])
            ax.set_xlabel("predicted")
            ax.set_ylabel("actual")
            ax.set_title(f"v{model['version']} {model['kind']}", fontsize=10)
        save("confusion_matrices", fig)

    compared = data["models"] + ([data["approved"]] if data["approved"] and data["approved"]["arn"] not in {m["arn"] for m in data["models"]} else [])
    if compared:
        from retrainer.review import REVIEW_METRICS

        fig, ax = plt.subplots(figsize=(9, 3.6))
        width = 0.8 / len(compared)
        for index, model in enumerate(compared):
            approved = model["approval"] == "Approved"
            label = f"v{model['version']} {model['kind']}" + (" (approved)" if approved else "")
            ax.bar([i + index * width for i in range(len(REVIEW_METRICS))], [model["metrics"].get(k, 0) for k in REVIEW_METRICS],
                   width, label=label, hatch="//" if approved else None, edgecolor="black" if approved else None)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(REVIEW_METRICS))], REVIEW_METRICS)
        ax.set_ylim(0, 1.05)
        ax.set_title("test metrics: this run's candidates and the approved version", fontsize=10)
        ax.legend(fontsize=7, ncol=2, loc="lower right")
        ax.grid(axis="y", alpha=0.3)
        save("vs_approved", fig)

    if data["timeline"]:
        from retrainer.graph import COLOURS

        rows = [r for r in data["timeline"] if r["seconds"] >= 0.1 or r["state"] in STEP_STATES or r["outcome"] in ("cached", "failed")]
        fig, ax = plt.subplots(figsize=(9, 0.28 * len(rows) + 1.2))
        for index, row in enumerate(rows):
            fill, stroke, _ = COLOURS.get(row["outcome"], COLOURS["succeeded"])
            ax.barh(index, max(row["seconds"], 0.05), left=row["start"], color=fill, edgecolor=stroke)
            ax.text(row["start"] + max(row["seconds"], 0.05) + 0.1, index, f"{row['seconds']:.1f}s {row['outcome']}", va="center", fontsize=7)
        ax.set_yticks(range(len(rows)), [r["state"] for r in rows], fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("seconds since the execution started")
        ax.set_title("step timeline (last execution)", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        save("timeline", fig)
    return made


# ---------------------------------------------------------------- HTML
CAPTIONS = {
    "training_curves": "Training curves: the job's metric lines, parsed with its MetricDefinitions from the CloudWatch log stream.",
    "pr_roc_curves": "Precision-recall and ROC curves per candidate on the test split (evaluate's report/curves.json); dots are each model's operating point from its model-quality statistics.",
    "confusion_matrices": "Confusion matrices per candidate (model-quality statistics.json, confusion_matrix[actual][predicted]).",
    "vs_approved": "Key metrics of this run's candidates next to the currently approved version.",
    "timeline": "Step timeline of the run's last execution, coloured by outcome.",
}


def _table(headers: list[str], rows: list[list[Any]], marks: list[bool] | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    differs = ' class="differs"'
    body = "".join(
        f"<tr{differs if marks and marks[i] else ''}>" + "".join(f"<td>{html.escape(_cell(c))}</td>" for c in row) + "</tr>"
        for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def page(data: dict[str, Any], images: dict[str, bytes]) -> str:
    run, spec = data["run"], data["spec"]
    e = html.escape
    parts = [f"<h1>Run {e(run['run_id'])}</h1>",
             f"<p class=\"status {e(run.get('status', '').lower())}\">{e(run.get('status', '?'))}"
             f" &middot; trigger {e(run['trigger'].get('type', '?'))} &middot; started {e(str(run.get('started_at', '-')))}"
             f" &middot; ended {e(str(run.get('ended_at', '-')))} &middot; estimated cost ${run.get('cost_usd', 0):.4f}</p>"]
    if run.get("failure"):
        parts.append(f"<p class=\"failure\">{e(run['failure'].get('step', ''))}: {e(run['failure'].get('cause', ''))}</p>")

    best = data["evaluation"].get("best")
    parts.append("<h2>Candidates</h2>")
    if data["models"]:
        from retrainer.review import REVIEW_METRICS

        parts.append(_table(["version", "kind", *REVIEW_METRICS, "approval", "evaluate's pick"],
                            [[f"v{m['version']}", m["kind"], *[m["metrics"].get(k) for k in REVIEW_METRICS], m["approval"],
                              "best" if m["kind"] == best else ""] for m in data["models"]]))
    else:
        parts.append("<p>No model versions registered by this run.</p>")

    parts.append("<h2>Compared with the approved version</h2>")
    approved = data["approved"]
    if approved:
        parts.append(f"<p>Currently approved: v{approved['version']} {e(approved['kind'] or '')} of run {e(approved['run_id'] or '')}"
                     f" ({e(approved['approval_note'] or 'no note')}).</p>")
    else:
        parts.append("<p>No version of this group is approved yet.</p>")
    if data["comparison"]:
        rows = data["comparison"]
        parts.append(_table(["", "field", *rows[0]["values"]],
                            [["*" if r["differs"] else "", r["field"], *r["values"]] for r in rows], [r["differs"] for r in rows]))
        parts.append("<p class=\"note\">* and shaded: the values differ.</p>")

    for name in ("vs_approved", "training_curves", "pr_roc_curves", "confusion_matrices", "timeline"):
        if name in images:
            uri = "data:image/png;base64," + base64.b64encode(images[name]).decode()
            parts.append(f"<figure id=\"{name}\"><img alt=\"{e(name)}\" src=\"{uri}\"><figcaption>{e(CAPTIONS[name])}</figcaption></figure>")
        else:
            parts.append(f"<p class=\"missing\">{e(name.replace('_', ' '))}: not available for this run.</p>")

    hyper = {k: v for k, v in spec["train"].get("hyperparameters", {}).items() if not k.startswith("sagemaker_")}
    parts.append("<h2>Parameters</h2>")
    parts.append(_table(["hyperparameter", "value"], sorted(hyper.items())))
    parts.append(_table(["option", "value"], sorted((k, json.dumps(v)) for k, v in spec.get("options", {}).items())))
    parts.append(_table(["step", "instance type", "count", "cache key"],
                        [[s, spec[s].get("instance_type"), spec[s].get("instance_count"), spec.get("cache_keys", {}).get(s)]
                         for s in ("preprocess", "train", "evaluate") if s in spec]))

    parts.append("<h2>Data and code</h2>")
    data_spec = spec.get("data", {})
    parts.append(_table(["what", "value"], [["data location", data_spec.get("uri")], ["data version", data_spec.get("version")],
                                             ["objects", data_spec.get("objects")], ["code version", spec.get("code_version")],
                                             ["model package group", spec.get("model_package_group")]]))

    parts.append("<h2>Steps and cost</h2>")
    steps = run.get("steps", [])
    parts.append(_table(["step", "status", "cache hit", "attempts", "job", "instance", "seconds", "billable s", "cost $"],
                        [[s["step"], s.get("status"), "yes" if s.get("cache_hit") else "no", s.get("attempts"), s.get("job_name"),
                          f"{s.get('instance_count', '')} x {s.get('instance_type', '')}" if s.get("instance_type") else "-",
                          s.get("seconds"), s.get("billable_seconds"), s.get("cost_usd")] for s in steps]))
    if data["training"].get("final"):
        parts.append("<h2>Final training metrics</h2>")
        parts.append(_table(["metric", "value"], sorted(data["training"]["final"].items())))
    generated = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Run {e(run['run_id'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1180px; color: #212121; }}
table {{ border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.85em; }}
th, td {{ border: 1px solid #cfd8dc; padding: 3px 8px; text-align: left; }}
th {{ background: #eceff1; }}
tr.differs td {{ background: #fff8e1; }}
figure {{ margin: 1.2em 0; }} figure img {{ max-width: 100%; border: 1px solid #eceff1; }}
figcaption, .note, .missing {{ color: #546e7a; font-size: 0.85em; }}
.status.succeeded {{ color: #2e7d32; }} .status.failed, .failure {{ color: #c62828; }}
</style></head>
<body>
{''.join(parts)}
<p class="note">Generated {e(generated)} by <code>retrainer report</code>.</p>
</body></html>
"""


def write(data: dict[str, Any], out: Path) -> dict[str, Any]:
    images = figures(data)
    out.mkdir(parents=True, exist_ok=True)
    pngs = []
    for name in set(CAPTIONS) - set(images):  # a figure of an earlier report of this run, now stale
        (out / f"{name}.png").unlink(missing_ok=True)
    for name, content in images.items():
        (out / f"{name}.png").write_bytes(content)
        pngs.append(out / f"{name}.png")
    report = out / "report.html"
    report.write_text(page(data, images))
    return {"html": report, "figures": pngs}


# ---------------------------------------------------------------- command
def add_arguments(command: str, parser: Any) -> None:
    parser.add_argument("run_id")
    parser.add_argument("--out", type=Path, help="folder (default: the state dir's reports/<run>/)")
    parser.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    location = target.Location.from_environment()
    session, stack = target.session(location)
    try:
        data = gather(session, stack, args.run_id)
    except LookupError as error:
        print(f"retrainer: {error}", file=sys.stderr)
        return 2
    written = write(data, args.out or location.state_dir / "reports" / args.run_id)
    print(f"report for run {args.run_id} ({data['run'].get('status')}): {written['html']}")
    print(f"  figures: {', '.join(p.name for p in written['figures'])}")
    missing = sorted(set(CAPTIONS) - {p.stem for p in written["figures"]})
    if missing:
        print(f"  not available: {', '.join(missing)}")
    return 0
