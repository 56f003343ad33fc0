"""The deploy plan, built offline: samconfig environments, parameter overrides, order, sam command."""

import json
from pathlib import Path

import pytest

from retrainer import deploy

IMAGES = {"ProcessingImageUri": "img-train", "TrainingImageUri": "img-train", "InferenceImageUri": "img-serve",
          "ChallengerImageUri": "img-sklearn"}


def resolve(region, instance_type):
    return {k: f"{v}@{region}" for k, v in IMAGES.items()}


def test_every_samconfig_environment_is_complete_on_its_own():
    for name in ("dev", "prod"):
        env = deploy.load_environment(name)
        assert env.stack_name == f"retrainer-{name}" and env.region
        assert env.settings["capabilities"] == "CAPABILITY_IAM" and env.settings["resolve_s3"] is True
        assert {"TrainInstanceType", "TrainInstanceCount", "PreprocessInstanceType"} <= env.parameter_overrides.keys()
    assert deploy.load_environment("prod").settings["confirm_changeset"] is True
    with pytest.raises(KeyError, match="staging"):
        deploy.load_environment("staging")


def test_overrides_parse_like_sam_strings_and_lists():
    assert deploy.parse_overrides('A=1 B="x y" C=ml.m5.xlarge') == {"A": "1", "B": "x y", "C": "ml.m5.xlarge"}
    assert deploy.parse_overrides(["A=1", "B=2"]) == {"A": "1", "B": "2"}
    with pytest.raises(ValueError, match="not Key=Value"):
        deploy.parse_overrides("A")


def test_parameters_add_code_version_and_resolved_images_to_samconfigs_overrides():
    env = deploy.Environment("dev", "st", "eu-west-1", {"TrainInstanceType": "ml.c5.xlarge", "CodeVersion": "stale"})
    params = deploy.parameters(env, "abc123", resolve)
    assert params["CodeVersion"] == "abc123"  # always this checkout's code, never a pinned one
    assert params["TrainInstanceType"] == "ml.c5.xlarge"
    assert params["TrainingImageUri"] == "img-train@eu-west-1" and params["InferenceImageUri"] == "img-serve@eu-west-1"


def test_images_pinned_in_samconfig_win_and_need_no_sdk():
    pinned = {k: f"123.dkr.ecr/byo:{k}" for k in deploy.IMAGE_PARAMETERS}
    env = deploy.Environment("dev", "st", "eu-west-1", pinned)

    def no_sdk(*_):
        raise AssertionError("must not resolve pinned images")

    assert {k: v for k, v in deploy.parameters(env, "v", no_sdk).items() if k in pinned} == pinned


def test_code_is_published_before_an_update_and_after_a_first_deploy():
    assert deploy.steps(stack_exists=True) == ["publish-code", "sam-deploy"]
    assert deploy.steps(stack_exists=False) == ["sam-deploy", "publish-code"]


def test_sam_gets_every_override_through_a_file_so_json_values_survive(tmp_path):
    env = deploy.load_environment("dev")
    command = deploy.sam_deploy_command("sam", env, tmp_path / "p.yaml")
    assert command[:4] == ["sam", "deploy", "--config-env", "dev"]
    assert command[-2:] == ["--parameter-overrides", f"file://{(tmp_path / 'p.yaml').resolve()}"]


class FakeCloudFormation:
    def __init__(self, exists):
        self.exists = exists

    def describe_stacks(self, StackName):
        if not self.exists:
            raise RuntimeError(f"Stack with id {StackName} does not exist")
        return {"Stacks": [{"StackStatus": "UPDATE_COMPLETE", "Outputs": [{"OutputKey": "ArtifactsBucketName", "OutputValue": "bkt"}]}]}


class FakeS3:
    def __init__(self, log):
        self.log = log

    def put_object(self, Bucket, Key, Body):
        self.log.append(("put", Bucket, Key))


class FakeSession:
    def __init__(self, cloudformation, log):
        self.cloudformation, self.log = cloudformation, log

    def client(self, name):
        return self.cloudformation if name == "cloudformation" else FakeS3(self.log)


@pytest.mark.parametrize("exists", [True, False])
def test_run_publishes_and_deploys_in_order(exists):
    log = []
    cloudformation = FakeCloudFormation(exists)

    def execute(command):
        log.append(("sam", command[1]))
        cloudformation.exists = True  # sam deploy created the stack

    params = deploy.run("dev", "sam", session=FakeSession(cloudformation, log), resolve=resolve, execute=execute, out=lambda _: None)
    first_put = next(i for i, e in enumerate(log) if e[0] == "put")
    assert (first_put < log.index(("sam", "deploy"))) is exists  # update: code first; first deploy: stack first
    version = params["CodeVersion"]
    keys = {e[2] for e in log if e[0] == "put"}
    assert f"code/{version}/sourcedir.tar.gz" in keys and f"code/{version}/scarcegan/train.py" in keys
    written = json.loads((deploy.ROOT / ".aws-sam" / "deploy-dev-parameters.yaml").read_text())
    assert written == params


def test_dry_run_calls_no_aws_and_prints_the_command():
    lines = []
    deploy.run("prod", "sam", dry_run=True, resolve=resolve, out=lines.append)
    assert any(line.startswith("sam deploy --config-env prod") for line in lines)
    assert Path(deploy.ROOT / ".aws-sam" / "deploy-prod-parameters.yaml").exists()
