"""Local jobs stage from moto's in-process S3 backend (docs/decisions/0521): what a job sees and what it
writes are the same objects the S3 API serves."""

import io
import tarfile

import boto3
import pytest
from moto import mock_aws

from retrainer.local.staging import InProcessS3, StagingError


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="stage-b")
        client.put_bucket_versioning(Bucket="stage-b", VersioningConfiguration={"Status": "Enabled"})
        yield client


def test_a_prefix_is_staged_by_its_keys_and_a_missing_one_fails_the_job(s3, tmp_path):
    s3.put_object(Bucket="stage-b", Key="steps/pre/k/train/train.parquet", Body=b"rows")
    s3.put_object(Bucket="stage-b", Key="steps/pre/k/train/part/x.csv", Body=b"a\n1\n")
    s3.put_object(Bucket="stage-b", Key="steps/pre/k/trainer.txt", Body=b"not under train/")

    staged = InProcessS3().download_prefix("s3://stage-b/steps/pre/k/train/", tmp_path / "train")

    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "train/part/x.csv", "train/train.parquet"]
    assert (tmp_path / "train" / "train.parquet").read_bytes() == b"rows" and staged == 8
    with pytest.raises(StagingError, match="no S3 objects found under s3://stage-b/nothing/"):
        InProcessS3().download_prefix("s3://stage-b/nothing/", tmp_path / "x")
    assert InProcessS3().download_prefix("s3://stage-b/nothing/", tmp_path / "y", missing_ok=True) == 0
    with pytest.raises(StagingError, match="no-such-bucket"):
        InProcessS3().download_prefix("s3://no-such-bucket/x/", tmp_path / "z")


def test_outputs_and_archives_are_objects_the_s3_api_serves(s3, tmp_path):
    model = tmp_path / "model"
    (model / "best-f1").mkdir(parents=True)
    (model / "best-f1" / "weights.bin").write_bytes(b"w")
    (model / "candidates.json").write_text("{}")

    InProcessS3().upload_dir(model, "s3://stage-b/runs/r/out/")
    InProcessS3().upload_archive(model, "s3://stage-b/runs/r/model.tar.gz")

    assert s3.get_object(Bucket="stage-b", Key="runs/r/out/best-f1/weights.bin")["Body"].read() == b"w"
    written = s3.get_object(Bucket="stage-b", Key="runs/r/model.tar.gz")
    assert written["VersionId"] != "null"  # a new version in the versioned bucket, as a PutObject makes
    with tarfile.open(fileobj=io.BytesIO(written["Body"].read())) as tar:
        assert sorted(tar.getnames()) == ["best-f1", "best-f1/weights.bin", "candidates.json"]

    InProcessS3().extract_archive("s3://stage-b/runs/r/model.tar.gz", tmp_path / "back")
    assert (tmp_path / "back" / "best-f1" / "weights.bin").read_bytes() == b"w"
    with pytest.raises(StagingError, match="no such object"):
        InProcessS3().read("s3://stage-b/runs/r/missing.tar.gz")
