"""Issue 12 (6): `retrainer local down` leaves nothing running, and `local up` right after works."""

import os
import socket
from pathlib import Path

import boto3
import pytest

from retrainer.local import control
from retrainer.local.stack import CREDENTIALS, REGION, endpoint
from tests.utils.jobs import script_training_job
from tests.utils.stack import wait_until

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def processes_working_in(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_local_down_ends_the_jobs_it_started_and_up_rebinds_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRAINER_MLFLOW", "none")  # job processes are the point: two MLflow start-ups are not
    # Given a local stack in the background (as `retrainer local up`), running a job
    location = control.Location((tmp_path / "state").resolve(), free_port())
    first = control.up(location)
    try:
        session = boto3.Session(region_name=REGION, aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        s3, sagemaker = (session.client(service, endpoint_url=endpoint(location.port)) for service in ("s3", "sagemaker"))
        # a job that writes nothing for a while (as a model compiling or a long epoch): nothing ends it but us
        script_training_job(s3, sagemaker, first["outputs"]["ArtifactsBucketName"], "retrainer-lifecycle-train-0",
                            b"import time\ntime.sleep(300)\n")
        jobs = location.state_dir / "work" / "jobs"
        wait_until(lambda: processes_working_in(jobs), 120, 0.2, "the job's process to run")
    finally:
        # When it is stopped
        control.down(location)

    # Then no job process is left, and it starts again on the same port at once
    assert processes_working_in(location.state_dir) == []
    second = control.up(location)
    try:
        assert second["pid"] != first["pid"] and second["endpoint"] == first["endpoint"]
    finally:
        control.down(location)
