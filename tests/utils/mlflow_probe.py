"""Run by the MLflow venv's Python (tests/utils/mlflow_client.py): what the official client reads back
for one retraining run, as one JSON document on stdout. Not imported by the tests' own Python (no mlflow there)."""

import json
import sys

import mlflow
from mlflow import MlflowClient


def main(uri: str, experiment: str, run_id: str) -> None:
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    found = mlflow.search_runs(experiment_names=[experiment], filter_string=f"tags.`retrainer.run_id` = '{run_id}'",
                               output_format="list")
    found += [child for parent in list(found) for child in mlflow.search_runs(
        experiment_names=[experiment], filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'", output_format="list")]
    runs = []
    for run in found:
        history = {key: [[m.step, m.value] for m in client.get_metric_history(run.info.run_id, key)]
                   for key in ("Val_Recall_Risky", "Discriminator_Supervised_Loss")}
        artifacts = [a.path for a in client.list_artifacts(run.info.run_id)]
        artifacts += [a.path for folder in artifacts for a in client.list_artifacts(run.info.run_id, folder)]
        runs.append({"run_id": run.info.run_id, "experiment_id": run.info.experiment_id, "status": run.info.status,
                     "name": run.info.run_name, "params": run.data.params, "tags": run.data.tags, "metrics": run.data.metrics,
                     "history": history, "artifacts": artifacts})
    print(json.dumps(runs))


if __name__ == "__main__":
    main(*sys.argv[1:4])
