"""The training code as SageMaker jobs fetch it: a content hash (the code version), the scripts under
code/<version>/<container>/ for Processing jobs, and sourcedir.tar.gz for script-mode Training."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

IGNORED = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}


def code_files(container_dir: Path) -> list[Path]:
    return sorted(
        p for p in container_dir.rglob("*")
        if p.is_file() and not IGNORED & set(p.relative_to(container_dir).parts) and p.suffix != ".pyc"
    )


def code_version(container_dir: Path) -> str:
    """sha256 over every file's path and bytes: the same code always has the same version."""
    digest = hashlib.sha256()
    for path in code_files(container_dir):
        digest.update(path.relative_to(container_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


# The framework container pip-installs a requirements.txt it finds in the submit directory when each
# job starts; the image already has what the scripts need, and jobs must not install at run time.
NOT_IN_SOURCEDIR = {"requirements.txt", "Dockerfile"}


def sourcedir_archive(container_dir: Path) -> bytes:
    """A reproducible tar.gz (fixed mtimes and owners), so its ETag changes only with the code."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for path in code_files(container_dir):
            if path.relative_to(container_dir).as_posix() in NOT_IN_SOURCEDIR:
                continue
            info = tar.gettarinfo(str(path), arcname=path.relative_to(container_dir).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            tar.addfile(info, io.BytesIO(path.read_bytes()))
    return buffer.getvalue()


def publish(s3: Any, bucket: str, container_dir: Path) -> str:
    version = code_version(container_dir)
    prefix = f"code/{version}"
    s3.put_object(Bucket=bucket, Key=f"{prefix}/sourcedir.tar.gz", Body=sourcedir_archive(container_dir))
    for path in code_files(container_dir):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{container_dir.name}/{path.relative_to(container_dir).as_posix()}", Body=path.read_bytes())
    return version
