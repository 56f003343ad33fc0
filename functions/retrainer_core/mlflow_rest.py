"""Data access: a small MLflow tracking client over MLflow's REST API (urllib + botocore), so a Lambda
package needs neither the mlflow package nor its dependencies (docs/decisions/0600-mlflow-tracking.md).

The tracking URI is either an http(s) URL (the local stack's `mlflow server`, any self-hosted server)
or a SageMaker managed MLflow tracking server ARN. For an ARN, requests go to the region's endpoint
`https://<region>.experiments.sagemaker.aws`, name the server in the `x-mlflow-sm-tracking-server-arn`
header and are signed with SigV4 for the service `sagemaker-mlflow`, as AWS's sagemaker-mlflow plugin
does. Artifacts go where the run's artifact URI says: through the server (`mlflow-artifacts:/`, what
`mlflow server` serves by default) or straight to S3 (`s3://`, the managed servers' artifact store).
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

SIGNING_SERVICE = "sagemaker-mlflow"
SERVER_HEADER = "x-mlflow-sm-tracking-server-arn"
# MLflow's per-request limits of runs/log-batch
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTRIES = 1000, 100, 100, 1000
# the IAM action (sagemaker-mlflow:<action>) of each request the Lambda makes; template.yaml grants these
ACTIONS = {"experiments/get-by-name": "GetExperimentByName", "experiments/create": "CreateExperiment",
           "runs/search": "SearchRuns", "runs/create": "CreateRun", "runs/log-batch": "LogBatch", "runs/update": "UpdateRun"}
MAX_PARAM_VALUE, MAX_TAG_VALUE = 500, 5000  # the smallest limits among the MLflow versions AWS serves


class MlflowError(RuntimeError):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"MLflow {status} {code}: {message}")
        self.status, self.code = status, code


def endpoint_of(tracking_uri: str) -> tuple[str, str | None]:
    """(base URL, region to sign for, or None for an unsigned http server)."""
    if tracking_uri.startswith("arn:"):
        parts = tracking_uri.split(":")
        if len(parts) < 6 or parts[2] != "sagemaker" or not parts[5].startswith("mlflow-tracking-server/"):
            raise ValueError(f"not a SageMaker MLflow tracking server ARN: {tracking_uri!r}")
        return f"https://{parts[3]}.experiments.sagemaker.aws", parts[3]
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri.rstrip("/"), None
    raise ValueError(f"tracking URI must be http(s):// or a tracking server ARN: {tracking_uri!r}")


class MlflowRest:
    def __init__(self, tracking_uri: str, timeout: float = 20, retries: int = 3):
        self.tracking_uri = tracking_uri
        self.base, self.region = endpoint_of(tracking_uri)
        self.timeout, self.retries = timeout, retries

    # ---- transport
    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> bytes:
        headers = dict(headers)
        if self.region:
            headers[SERVER_HEADER] = self.tracking_uri
            headers = _signed(method, url, body, headers, self.region)
        for attempt in range(self.retries + 1):  # bounded: throttling and 5xx are retried, the rest raised
            request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 - http(s) only
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only (endpoint_of)
                    return response.read()
            except urllib.error.HTTPError as error:
                text = error.read().decode(errors="replace")
                if (error.code == 429 or error.code >= 500) and attempt < self.retries:
                    time.sleep(0.5 * 2**attempt)
                    continue
                try:
                    document = json.loads(text)
                except json.JSONDecodeError:
                    document = {}
                raise MlflowError(error.code, document.get("error_code", "HTTP_ERROR"), document.get("message", text[:300])) from None
            except urllib.error.URLError:
                if attempt < self.retries:
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, query: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.base}/api/2.0/mlflow/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        data = json.dumps(body).encode() if body is not None else None
        raw = self._send(method, url, data, {"Content-Type": "application/json"} if data else {})
        return json.loads(raw or b"{}")

    # ---- experiments and runs
    def experiment_id(self, name: str, tags: dict[str, str] | None = None) -> str:
        """The experiment's id, created on first use (a concurrent creation is fine)."""
        try:
            return self.call("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"]["experiment_id"]
        except MlflowError as error:
            if error.code != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            return self.call("POST", "experiments/create", {"name": name, "tags": _pairs(tags or {})})["experiment_id"]
        except MlflowError as error:
            if error.code != "RESOURCE_ALREADY_EXISTS":
                raise
        return self.call("GET", "experiments/get-by-name", query={"experiment_name": name})["experiment"]["experiment_id"]

    def find_run(self, experiment_id: str, tag: str, value: str) -> dict[str, Any] | None:
        """The run (its `info`) whose tag equals value: what makes logging a run again idempotent."""
        found = self.call("POST", "runs/search", {"experiment_ids": [experiment_id], "max_results": 1,
                                                  "filter": f"tags.`{tag}` = '{_quoted(value)}'"})
        runs = found.get("runs") or []
        return runs[0]["info"] if runs else None

    def create_run(self, experiment_id: str, name: str, start_ms: int, tags: dict[str, str]) -> dict[str, Any]:
        return self.call("POST", "runs/create", {"experiment_id": experiment_id, "run_name": name, "start_time": start_ms,
                                                 "tags": _pairs(tags)})["run"]["info"]

    def run_once(self, experiment_id: str, key_tag: str, key: str, name: str, start_ms: int,
                 tags: dict[str, str]) -> dict[str, Any]:
        """The run tagged key_tag=key, created when there is none (a redelivered event finds it)."""
        return self.find_run(experiment_id, key_tag, key) or self.create_run(experiment_id, name, start_ms, {**tags, key_tag: key})

    def log_batch(self, run_id: str, metrics: list[dict[str, Any]] = (), params: dict[str, str] | None = None,
                  tags: dict[str, str] | None = None) -> None:
        """Everything in as few requests as MLflow's limits allow. Metric points are
        {key, value, step, timestamp}: logging the same point again adds nothing."""
        metrics, params_list, tags_list = list(metrics), _pairs(params or {}, MAX_PARAM_VALUE), _pairs(tags or {}, MAX_TAG_VALUE)
        while metrics or params_list or tags_list:
            chunk_params, params_list = params_list[:MAX_PARAMS], params_list[MAX_PARAMS:]
            chunk_tags, tags_list = tags_list[:MAX_TAGS], tags_list[MAX_TAGS:]
            room = min(MAX_METRICS, MAX_ENTRIES - len(chunk_params) - len(chunk_tags))
            chunk_metrics, metrics = metrics[:room], metrics[room:]
            self.call("POST", "runs/log-batch", {"run_id": run_id, "metrics": chunk_metrics, "params": chunk_params,
                                                 "tags": chunk_tags})

    def end_run(self, run_id: str, status: str, end_ms: int) -> None:
        self.call("POST", "runs/update", {"run_id": run_id, "status": status, "end_time": end_ms})

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000) -> list[dict[str, Any]]:
        return self.call("POST", "runs/search", {"experiment_ids": experiment_ids, "filter": filter_string,
                                                 "max_results": max_results}).get("runs") or []

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        return self.call("GET", "metrics/get-history", query={"run_id": run_id, "metric_key": key}).get("metrics") or []

    # ---- artifacts
    def log_artifact(self, run_info: dict[str, Any], path: str, content: bytes, s3: Any = None) -> None:
        """Write one file under the run's artifact root."""
        root = run_info["artifact_uri"].rstrip("/")
        if root.startswith("mlflow-artifacts:"):
            # mlflow-artifacts:/<path> or mlflow-artifacts://host/<path>: the server proxies its store
            relative = urllib.parse.urlparse(root).path.lstrip("/")
            url = f"{self.base}/api/2.0/mlflow-artifacts/artifacts/{urllib.parse.quote(f'{relative}/{path}')}"
            self._send("PUT", url, content, {"Content-Type": "application/octet-stream"})
        elif root.startswith("s3://"):
            if s3 is None:
                raise ValueError("an s3:// artifact root needs an S3 client")
            bucket, _, prefix = root.removeprefix("s3://").partition("/")
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{path}".lstrip("/"), Body=content)
        else:
            raise ValueError(f"artifact root {root!r} is not writable from here (mlflow-artifacts:/ or s3:// only)")


def _pairs(values: dict[str, str], limit: int = MAX_TAG_VALUE) -> list[dict[str, str]]:
    return [{"key": k[:250], "value": str(v)[:limit]} for k, v in values.items() if v is not None and str(v) != ""]


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _signed(method: str, url: str, body: bytes | None, headers: dict[str, str], region: str) -> dict[str, str]:
    """SigV4 headers for the sagemaker-mlflow service, from the function's own credentials."""
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = botocore.session.get_session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign MLflow requests with")
    headers = {**headers, "X-Amz-Content-SHA256": hashlib.sha256(body or b"").hexdigest()}
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(credentials.get_frozen_credentials(), SIGNING_SERVICE, region).add_auth(request)
    return dict(request.headers.items())
