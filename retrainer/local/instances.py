"""N instances of one SageMaker Processing job on one machine (docs/decisions/0403).

SageMaker runs a Processing job with InstanceCount=N as N containers named algo-1..algo-N; each
finds its name and the others' in /opt/ml/config/resourceconfig.json, receives every object of a
`FullyReplicated` input and about 1/N of the objects of a `ShardedByS3Key` input, and uploads its
output folders to the same S3 prefixes as the others (so the scripts name their files per host).

Here each instance is a folder standing for its /opt/ml (`<job root>/instances/algo-i/`) with its own
resourceconfig.json and its share of the inputs already staged under the job root (hard links, no
copies), and a process of its own; the runner uploads every instance's outputs to the job's S3
outputs. Nothing here knows a script: the same entry point runs once or N times.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SHARDED = "ShardedByS3Key"


@dataclass(frozen=True)
class Instance:
    host: str
    root: Path  # this instance's /opt/ml


def host_names(count: int) -> list[str]:
    return [f"algo-{i + 1}" for i in range(count)]


def shard_objects(keys: list[str], count: int) -> list[list[str]]:
    """ShardedByS3Key: the objects (sorted by key) dealt to the instances in turn, so each gets
    about 1/N of them and none twice. An instance may get none (fewer objects than instances)."""
    ordered = sorted(keys)
    return [ordered[i::count] for i in range(count)]


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:  # another file system: copy
        shutil.copy2(source, target)


def processing_instances(root: Path, count: int, inputs: list[tuple[Path, str]],
                         outputs: list[Path]) -> list[Instance]:
    """Lay out ``count`` instances under ``root/instances``. ``inputs``: (staged folder under
    ``root``, S3DataDistributionType); ``outputs``: output folders under ``root``."""
    instances = [Instance(host, root / "instances" / host) for host in host_names(count)]
    for instance in instances:
        if instance.root.exists():
            shutil.rmtree(instance.root)
        config = instance.root / "config"
        config.mkdir(parents=True)
        (config / "resourceconfig.json").write_text(json.dumps(
            {"current_host": instance.host, "hosts": host_names(count), "network_interface_name": "eth0"}))
    for folder, distribution in inputs:
        relative = folder.relative_to(root)
        keys = _files(folder)
        shares = shard_objects(keys, count) if distribution == SHARDED else [keys] * count
        for instance, share in zip(instances, shares, strict=True):
            (instance.root / relative).mkdir(parents=True, exist_ok=True)
            for key in share:
                _link(folder / key, instance.root / relative / key)
    for instance in instances:
        for folder in outputs:
            (instance.root / folder.relative_to(root)).mkdir(parents=True, exist_ok=True)
    return instances


def rebase(argument: str, root: Path, instance: Instance) -> str:
    """A command argument naming a path under the job root -> the same path under the instance."""
    text = str(root)
    return str(instance.root) + argument[len(text):] if argument.startswith(text) else argument


def run_all(instances: list[Instance], run: Callable[[Instance], None]) -> None:
    """Run every instance at once (a thread each, each starting its process); the job fails with the
    first instance's failure, as SageMaker fails the job when one instance fails."""
    errors: dict[str, BaseException] = {}

    def one(instance: Instance) -> None:
        try:
            run(instance)
        except BaseException as error:  # noqa: BLE001 - reported below, per instance
            errors[instance.host] = error

    threads = [threading.Thread(target=one, args=(instance,), name=f"job-{instance.host}")
               for instance in instances]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for instance in instances:
        if instance.host in errors:
            raise errors[instance.host]


def processing_count(job: Any) -> int:
    """InstanceCount of a Processing job record (the runner keeps ProcessingResources on it)."""
    cluster = (getattr(job, "processing_resources", None) or {}).get("ClusterConfig") or {}
    return int(cluster.get("InstanceCount", 1))


def run_processing(job: Any, root: Path, local: Callable[[str], str], command: list[str], outputs: list[dict],
                   upload: Callable[[Path, str], None], execute: Callable[[Instance, list[str]], None]) -> None:
    """The job's inputs already staged under ``root`` (its /opt/ml): lay out the instances, run
    ``execute(instance, argv)`` for each at once, upload every instance's outputs to the job's."""
    hosts = processing_instances(
        root, processing_count(job),
        [(Path(local(i["S3Input"]["LocalPath"])), i["S3Input"].get("S3DataDistributionType", ""))
         for i in job.processing_inputs],
        [Path(local(o["S3Output"]["LocalPath"])) for o in outputs])
    run_all(hosts, lambda host: execute(host, [rebase(a, root, host) for a in command]))
    for output in outputs:
        for host in hosts:
            upload(Path(rebase(local(output["S3Output"]["LocalPath"]), root, host)), output["S3Output"]["S3Uri"])
