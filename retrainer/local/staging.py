"""A local job's S3 staging (inputs down, outputs and model.tar.gz up), straight from moto's in-process
S3 backend: the jobs run in the process that hosts the moto server, so a file needs no HTTP round trip
through that server's own API (docs/decisions/0521-in-process-staging.md).

What a job sees is what SageMaker gives it: the objects under an S3Prefix, laid out by their keys; what
it writes becomes new object versions, with the bucket's default encryption, as a PutObject would. Event
notifications are sent as for any PutObject (the artifacts bucket has none).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from moto.s3.models import s3_backends

ACCOUNT_ID = "123456789012"  # moto's default account, as the local stack's template reader uses
PARTITION = "aws"


class StagingError(Exception):
    """An input is missing or unreadable: the job fails with ClientError, as SageMaker's download does."""


class InProcessS3:
    def __init__(self, account_id: str = ACCOUNT_ID, partition: str = PARTITION):
        self.account_id, self.partition = account_id, partition

    @property
    def backend(self) -> Any:
        return s3_backends[self.account_id][self.partition]

    def _keys(self, bucket: str, prefix: str) -> list[Any]:
        try:
            found = self.backend.get_bucket(bucket)
        except Exception as error:  # noqa: BLE001 - moto's MissingBucket, and whatever else it raises
            raise StagingError(f"bucket {bucket}: {error}") from error
        keys, _, _, _ = self.backend.list_objects(found, prefix, None, None, None)
        return list(keys)

    def download_prefix(self, uri: str, target: Path, missing_ok: bool = False) -> int:
        """Every object under the prefix (S3DataType S3Prefix) into target, keyed by its path below the
        prefix (a key that is the prefix itself lands under its own name). Returns the bytes staged."""
        bucket, prefix = split(uri)
        target.mkdir(parents=True, exist_ok=True)
        keys = self._keys(bucket, prefix)
        if not keys and not missing_ok:
            raise StagingError(f"no S3 objects found under {uri}")
        size = 0
        for key in keys:
            relative = key.name[len(prefix):].lstrip("/") or key.name.rsplit("/", 1)[-1]
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            size += _copy_out(key, destination)
        return size

    def read(self, uri: str) -> bytes:
        bucket, key = split(uri)
        try:
            found = self.backend.get_object(bucket, key)
        except Exception as error:  # noqa: BLE001 - a missing bucket raises, a missing key is None
            raise StagingError(f"{uri}: {error}") from error
        if found is None:
            raise StagingError(f"{uri}: no such object")
        return found.value

    def extract_archive(self, uri: str, target: Path) -> None:
        """A tar.gz object (sagemaker_submit_directory) unpacked into target."""
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(self.read(uri)), mode="r:gz") as tar:
            tar.extractall(target, filter="data")

    def write(self, uri: str, body: bytes) -> None:
        bucket, key = split(uri)
        self.backend.put_object(bucket, key, body)

    def upload_dir(self, folder: Path, uri: str) -> int:
        """Every file under folder to <prefix>/<relative path>, in a stable order. Returns the bytes."""
        bucket, prefix = split(uri)
        size = 0
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            body = path.read_bytes()
            self.backend.put_object(bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}", body)
            size += len(body)
        return size

    def upload_archive(self, folder: Path, uri: str) -> int:
        """folder's entries as one tar.gz object (model.tar.gz, output.tar.gz). Returns its bytes."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(folder.iterdir()):
                tar.add(path, arcname=path.name)
        body = buffer.getvalue()
        self.write(uri, body)
        return len(body)


def _copy_out(key: Any, destination: Path) -> int:
    body = key.value  # moto's public view of the object's bytes (read under the key's lock)
    destination.write_bytes(body)
    return len(body)


def split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
