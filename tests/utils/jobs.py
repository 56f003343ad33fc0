"""A training job of a few lines of script, created through the SageMaker API as the state machine
does: for tests of the local job runner itself (retries, faults, process lifetime)."""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any


def script_training_job(s3: Any, sagemaker: Any, bucket: str, name: str, script: bytes, retries: int = 0) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    s3.put_object(Bucket=bucket, Key=f"tests/{name}/sourcedir.tar.gz", Body=archive.getvalue())
    s3.put_object(Bucket=bucket, Key=f"tests/{name}/data/rows.csv", Body=b"a\n1\n")
    sagemaker.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::123456789012:role/job",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        HyperParameters={"sagemaker_program": json.dumps("train.py"), "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/tests/{name}/sourcedir.tar.gz")},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/tests/{name}/data/"}}}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/tests/{name}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, **({"RetryStrategy": {"MaximumRetryAttempts": retries}} if retries else {}),
    )
