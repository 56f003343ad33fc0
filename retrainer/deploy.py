"""`retrainer deploy`: publish the training code, resolve the framework images per region, `sam deploy`.

The order keeps a running stack from ever pointing at code that is not in S3: when the stack exists,
the code (content-addressed under code/<version>/) is published first and `sam deploy` then switches
CodeVersion to it; on the first deploy the bucket does not exist yet, so the stack is created with the
new CodeVersion and the code is published right after (no data has landed in a stack that new).

Image URIs come from the sagemaker SDK 2.x (`sagemaker.image_uris.retrieve`, offline, from the SDK's
bundled per-region table), which lives in its own venv (.venv-deploy, `make deploy`): it is never part
of the app, the CI path or a Lambda package. Images pinned in samconfig.toml (bring your own image,
training_containers/scarcegan/Dockerfile) win over resolved ones and need no SDK.

Nothing here needs AWS until `run()`: the plan (parameters, order, commands) is built and tested offline.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrainer import code_package

ROOT = Path(__file__).resolve().parents[1]
SAMCONFIG = ROOT / "samconfig.toml"
CONTAINER_DIR = ROOT / "training_containers" / "scarcegan"
DEPLOY_PYTHON = ROOT / ".venv-deploy" / "bin" / "python"

# The SageMaker TensorFlow DLC closest to the containers' tensorflow-cpu 2.21 that the SDK knows:
# 2.19 (keras 3), CPU, Python 3.12. Processing runs the scripts on the training image (it has TF).
TF_FRAMEWORK_VERSION = "2.19"
TF_PY_VERSION = "py312"
IMAGE_PARAMETERS = ("ProcessingImageUri", "TrainingImageUri", "InferenceImageUri", "ChallengerImageUri")


@dataclass(frozen=True)
class Environment:
    """One samconfig.toml environment, as `sam deploy --config-env <name>` reads it (no inheritance)."""

    name: str
    stack_name: str
    region: str
    parameter_overrides: dict[str, str]
    settings: dict[str, Any] = field(default_factory=dict)


def load_environment(name: str, path: Path = SAMCONFIG) -> Environment:
    config = tomllib.loads(path.read_text())
    if name not in config:
        raise KeyError(f"{path.name} has no [{name}] environment (it has {', '.join(k for k in config if k != 'version')})")
    settings = {**config[name].get("global", {}).get("parameters", {}), **config[name].get("deploy", {}).get("parameters", {})}
    for required in ("stack_name", "region"):
        if required not in settings:
            raise KeyError(f"{path.name} [{name}.deploy.parameters] needs {required}")
    return Environment(name, settings["stack_name"], settings["region"],
                       parse_overrides(settings.get("parameter_overrides", "")), settings)


def parse_overrides(value: str | list[str]) -> dict[str, str]:
    """samconfig's parameter_overrides ('Key=Value Key2="v w"' or a list of 'Key=Value') as a dict."""
    items = shlex.split(value) if isinstance(value, str) else [i for v in value for i in shlex.split(v)]
    overrides = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter override {item!r} is not Key=Value")
        overrides[key] = val
    return overrides


def resolve_images(region: str, instance_type: str = "ml.m5.xlarge") -> dict[str, str]:
    """The SageMaker TensorFlow images for this region, through the sagemaker SDK (in-process or .venv-deploy)."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")  # 2.x is chosen on purpose (docs/decisions/0704)
    try:
        from sagemaker import image_uris  # type: ignore[import-not-found]  # noqa: PLC0415 - deploy-only dependency
    except ImportError:
        if not DEPLOY_PYTHON.exists():
            raise RuntimeError(
                "resolving image URIs needs the sagemaker SDK: run `make deploy` (installs .venv-deploy), or pin "
                f"{', '.join(IMAGE_PARAMETERS)} in samconfig.toml's parameter_overrides"
            ) from None
        out = subprocess.run(
            [str(DEPLOY_PYTHON), "-m", "retrainer.deploy", "images", "--region", region, "--instance-type", instance_type],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])

    def uri(scope: str) -> str:
        return image_uris.retrieve("tensorflow", region=region, version=TF_FRAMEWORK_VERSION, py_version=TF_PY_VERSION,
                                   instance_type=instance_type, image_scope=scope)

    training = uri("training")
    # The challenger's pickles load only under the scikit-learn that wrote them: it trains on the image
    # that evaluates and scores it (docs/decisions/0304), not on the lagging SKLearn framework image.
    return {"ProcessingImageUri": training, "TrainingImageUri": training, "InferenceImageUri": uri("inference"),
            "ChallengerImageUri": training}


def parameters(env: Environment, code_version: str, resolve: Callable[[str, str], dict[str, str]]) -> dict[str, str]:
    """samconfig's overrides + the resolved images (unless pinned there) + this code's version."""
    pinned = {k: env.parameter_overrides[k] for k in IMAGE_PARAMETERS if k in env.parameter_overrides}
    missing = [k for k in IMAGE_PARAMETERS if k not in pinned]
    images = {}
    if missing:
        instance_type = env.parameter_overrides.get("TrainInstanceType", "ml.m5.xlarge")
        images = {k: v for k, v in resolve(env.region, instance_type).items() if k in missing}
    return {**env.parameter_overrides, **images, **pinned, "CodeVersion": code_version}


def sam_deploy_command(sam: str, env: Environment, parameter_file: Path) -> list[str]:
    # file:// keeps values with spaces and quotes (DefaultHyperparameters is JSON) intact; on the command
    # line `--parameter-overrides` would replace samconfig's overrides, so they are all in the file.
    return [sam, "deploy", "--config-env", env.name, "--config-file", str(SAMCONFIG),
            "--parameter-overrides", f"file://{parameter_file.resolve()}"]


def steps(stack_exists: bool) -> list[str]:
    return ["publish-code", "sam-deploy"] if stack_exists else ["sam-deploy", "publish-code"]


def stack_output(cloudformation: Any, stack_name: str, key: str) -> str | None:
    """The stack's output `key`; None when the stack does not exist (or is being rolled back)."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except Exception as error:  # noqa: BLE001 - botocore's ClientError: "Stack with id ... does not exist"
        if "does not exist" in str(error):
            return None
        raise
    if stack["StackStatus"] in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE"):
        raise RuntimeError(f"stack {stack_name} is {stack['StackStatus']}: delete it (sam delete) before deploying")
    return next((o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == key), None)


def run(
    env_name: str,
    sam: str,
    dry_run: bool = False,
    session: Any = None,
    resolve: Callable[[str, str], dict[str, str]] = resolve_images,
    execute: Callable[[list[str]], None] = lambda cmd: subprocess.run(cmd, cwd=ROOT, check=True),  # noqa: S603
    out: Callable[[str], None] = print,
) -> dict[str, str]:
    env = load_environment(env_name)
    version = code_package.code_version(CONTAINER_DIR)
    params = parameters(env, version, resolve)
    parameter_file = ROOT / ".aws-sam" / f"deploy-{env.name}-parameters.yaml"
    parameter_file.parent.mkdir(exist_ok=True)
    parameter_file.write_text(json.dumps(params, indent=2) + "\n")  # JSON is YAML; sam reads it as overrides
    command = sam_deploy_command(sam, env, parameter_file)
    if dry_run:
        out(f"stack {env.stack_name} in {env.region}, code version {version}")
        out(json.dumps(params, indent=2))
        out(" ".join(shlex.quote(c) for c in command))
        return params
    if session is None:
        import boto3  # noqa: PLC0415 - only a real deploy talks to AWS

        session = boto3.Session(region_name=env.region)
    cloudformation = session.client("cloudformation")
    bucket = stack_output(cloudformation, env.stack_name, "ArtifactsBucketName")
    for step in steps(stack_exists=bucket is not None):
        if step == "sam-deploy":
            out("$ " + " ".join(shlex.quote(c) for c in command))
            execute(command)
        else:
            bucket = bucket or stack_output(cloudformation, env.stack_name, "ArtifactsBucketName")
            if bucket is None:
                raise RuntimeError(f"stack {env.stack_name} has no ArtifactsBucketName output after sam deploy")
            published = code_package.publish(session.client("s3"), bucket, CONTAINER_DIR)
            out(f"published training code {published} to s3://{bucket}/code/{published}/")
    return params


def add_arguments(command: str, parser: Any) -> None:
    parser.add_argument("--env", default="dev", help="samconfig.toml environment (dev, prod)")
    parser.add_argument("--sam", default=str(ROOT / ".venv-tools" / "bin" / "sam"), help="the sam executable")
    parser.add_argument("--dry-run", action="store_true", help="print the parameters and the sam command; call no AWS API")
    parser.set_defaults(run=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    run(args.env, args.sam, args.dry_run)
    return 0


def main(argv: list[str] | None = None) -> int:
    root = argparse.ArgumentParser(prog="python -m retrainer.deploy")
    commands = root.add_subparsers(dest="command", required=True)
    add_arguments("deploy", commands.add_parser("deploy", help="publish the training code, resolve images and sam deploy (dev|prod)"))
    images = commands.add_parser("images", help="print the resolved image URIs as JSON (used from the app's venv)")
    images.add_argument("--region", required=True)
    images.add_argument("--instance-type", default="ml.m5.xlarge")
    images.set_defaults(run=lambda args: print(json.dumps(resolve_images(args.region, args.instance_type))) or 0)
    args = root.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

