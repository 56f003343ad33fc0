"""Issue 15: a Preprocess processing job with InstanceCount=2 on the local stack (each instance its
resourceconfig.json and its ShardedByS3Key share of the landing, both uploading to the same prefixes)
gives the outputs of InstanceCount=1, once the shards' partials are merged as every consumer merges them."""

import time
from pathlib import Path

import pytest

from retrainer import synthetic
from retrainer.code_package import code_version
from tests.utils.container import load_entry_point
from tests.utils.shards import assert_same_outputs, shards
from tests.utils.stack import clients

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = ("train", "validation", "test", "artifacts")
SMALL = dict(n_unlabeled=400, n_risky=30, n_dormant=120, n_normal=200, n_heavy=100, weeks=8)


def _data_inputs(data: str) -> list[dict]:
    """docs/decisions/0401: the unlabeled group ShardedByS3Key, each labelled group FullyReplicated."""
    return [{"InputName": f"data-{group}",
             "S3Input": {"S3Uri": f"{data}{group}/", "LocalPath": f"/opt/ml/processing/input/data/{group}",
                         "S3DataType": "S3Prefix", "S3InputMode": "File",
                         "S3DataDistributionType": "ShardedByS3Key" if group == "unlabeled" else "FullyReplicated"}}
            for group in ("unlabeled", "risky", "dormant", "normal", "heavy")]


def _preprocess_job(sagemaker, name: str, code: str, data: str, out: str, count: int) -> None:
    """The state machine's Preprocess parameters, with the inputs of issue 15 (docs/decisions/0401)."""
    sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/retrainer-sagemaker",
        AppSpecification={"ImageUri": "local/scarcegan:latest",
                          "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
                          "ContainerArguments": ["--base-dir", "/opt/ml/processing"]},
        ProcessingResources={"ClusterConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": count,
                                               "VolumeSizeInGB": 30}},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        ProcessingInputs=[
            {"InputName": "code", "S3Input": {"S3Uri": code, "LocalPath": "/opt/ml/processing/input/code",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File",
                                              "S3DataDistributionType": "FullyReplicated"}},
            *_data_inputs(data)],
        ProcessingOutputConfig={"Outputs": [
            {"OutputName": o, "S3Output": {"S3Uri": f"{out}/{o}", "LocalPath": f"/opt/ml/processing/output/{o}",
                                           "S3UploadMode": "EndOfJob"}} for o in OUTPUTS]})


def _wait(sagemaker, name: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sagemaker.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] not in ("InProgress", "Starting"):
            return job
        time.sleep(0.5)
    raise AssertionError(f"{name} still running after {timeout} s")


def _download(s3, bucket: str, prefix: str, target: Path) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            path = target / item["Key"][len(prefix) + 1:]
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))


def test_two_instance_sharded_preprocess_equals_one_instance(local_stack, tmp_path):
    sagemaker, s3 = clients("sagemaker", "s3")
    outputs = local_stack.provisioned.outputs
    landing, artifacts = outputs["LandingBucketName"], outputs["ArtifactsBucketName"]
    # Given a player-partitioned landing (3 part files per group) in the landing bucket
    batch = "it-sharded"
    folder = tmp_path / "landing"
    for path in synthetic.write_batch(synthetic.generate(seed=11, **SMALL), folder, parts=3):
        s3.upload_file(str(path), landing, f"incoming/scarcegan/{batch}/{path.relative_to(folder).as_posix()}")
    code = f"s3://{artifacts}/code/{code_version(ROOT / 'training_containers' / 'scarcegan')}/scarcegan/"
    data = f"s3://{landing}/incoming/scarcegan/{batch}/"
    # When Preprocess runs with InstanceCount=1 and with InstanceCount=2 (ShardedByS3Key)
    for count in (1, 2):
        name = f"it-sharded-preprocess-{count}-{int(time.time())}"
        _preprocess_job(sagemaker, name, code, data, f"s3://{artifacts}/it-sharded/{count}", count)
        job = _wait(sagemaker, name)
        assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
        _download(s3, artifacts, f"it-sharded/{count}", tmp_path / str(count))
    one, two = tmp_path / "1", tmp_path / "2"
    # Then each of the two instances wrote its own shard of the unlabeled players and its partial
    # statistics (the first also the labelled players' splits)
    assert [p.name for p in shards.split_files(two / "train", "unlabeled")] == [
        "unlabeled-00000-of-00002.parquet", "unlabeled-00001-of-00002.parquet"]
    assert [p.name for p in shards.split_files(two / "test", "test")] == ["test-00000-of-00002.parquet"]
    assert len(shards.partial_files(two / "artifacts")) == 2 == len(shards.partial_files(two / "train"))
    # and, merged as train/evaluate merge them, the outputs equal the single instance's
    preprocess = load_entry_point("preprocess")

    preprocess.write_merged(two / "artifacts", two / "train")
    assert_same_outputs(one, two)
