"""`retrainer ui [RUN]`: where the runs are tracked in MLflow. Locally the stack's own `mlflow server`
(its URI is in `retrainer local status`); with RETRAINER_STACK, a presigned URL of the stack's SageMaker
managed MLflow tracking server. With a run id, the page of that run."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(command: str, ui: argparse.ArgumentParser) -> None:
    ui.add_argument("run_id", nargs="?", metavar="RUN", help="a run id: the page of that run")
    ui.add_argument("--open", action="store_true", help="also open it in the default browser")
    ui.set_defaults(run=_ui)


def _ui(args: argparse.Namespace) -> int:
    from retrainer import target as control

    location = control.Location.from_environment()
    if os.environ.get("RETRAINER_STACK"):
        session, stack = control.session(location)
        arn = stack["outputs"].get("MlflowTrackingServerArn")
        if not arn:
            print(f"retrainer: stack {stack['stack_name']} tracks no runs in MLflow (template parameters "
                  "MlflowTrackingServerArn / CreateMlflowTrackingServer)", file=sys.stderr)
            return 2
        url = session.client("sagemaker").create_presigned_mlflow_tracking_server_url(
            TrackingServerName=arn.rsplit("/", 1)[1])["AuthorizedUrl"]
        tracking_uri = None  # a run's page needs the signed API: the presigned URL opens the UI's home
    else:
        stack = control.describe(location)
        if not stack:
            raise control.StackNotRunning("the local stack is not running: start it with `retrainer local up` (or `make demo`)")
        tracking_uri = (stack.get("mlflow") or {}).get("uri")
        if not tracking_uri:
            print(f"retrainer: the local stack runs no MLflow server: {(stack.get('mlflow') or {}).get('reason')}", file=sys.stderr)
            return 2
        url = tracking_uri
    if args.run_id and tracking_uri:
        url = _run_page(tracking_uri, args.run_id) or url
    print(url)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    return 0


def _run_page(tracking_uri: str, run_id: str) -> str | None:
    from retrainer_core.mlflow_rest import MlflowRest

    client = MlflowRest(tracking_uri)
    experiments = client.call("POST", "experiments/search", {"max_results": 1000}).get("experiments") or []
    runs = client.search_runs([e["experiment_id"] for e in experiments], f"tags.`retrainer.run_id` = '{run_id}'")
    parent = next((r["info"] for r in runs if "mlflow.parentRunId" not in {t["key"] for t in r["data"].get("tags", [])}), None)
    return f"{tracking_uri}/#/experiments/{parent['experiment_id']}/runs/{parent['run_id']}" if parent else None
