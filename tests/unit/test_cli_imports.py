"""The CLI loads per command only what that command uses (docs/decisions/0500-lazy-cli.md): `--help` and
commands against a deployed stack never import the local stack's moto and Flask, TensorFlow or
matplotlib. Each case runs in a fresh interpreter, as a user's shell would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY_PACKAGES = ("moto", "flask", "werkzeug", "tensorflow", "keras", "matplotlib")
LOCAL_STACK = "retrainer.local.stack"
# Runs the CLI as `python -m retrainer.cli` does, then says which modules it had loaded.
WRAPPER = """
import json, sys
from retrainer import cli
try:
    code = cli.main(sys.argv[1:])
except SystemExit as end:  # --help, argparse errors
    code = end.code
except Exception as error:  # a deployed stack that cannot be reached: the imports are what counts
    code = type(error).__name__
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def imported(*argv: str, **environment: str) -> dict:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard", **environment}
    done = subprocess.run([sys.executable, "-c", WRAPPER, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    found = json.loads(done.stderr.strip().splitlines()[-1])
    found["heavy"] = [m for m in found["modules"] if m.split(".")[0] in HEAVY_PACKAGES or m == LOCAL_STACK]
    return found


def test_top_level_help_lists_every_command_and_imports_no_command_module():
    found = imported("--help")

    assert found["code"] == 0 and found["heavy"] == []
    assert not [m for m in found["modules"] if m.startswith(("retrainer.", "retrainer_core", "boto3", "botocore"))
                and m != "retrainer.cli"]


@pytest.mark.parametrize("argv", [["runs", "--help"], ["report", "--help"], ["graph", "--help"], ["scores", "--help"]])
def test_a_commands_help_imports_no_heavy_module(argv):
    found = imported(*argv)

    assert found["code"] == 0 and found["heavy"] == []


@pytest.mark.parametrize("argv", [["runs"], ["show", "some-run"], ["models"], ["scores"]])
def test_commands_against_a_deployed_stack_import_neither_the_local_stack_nor_heavy_libraries(argv):
    # a deployed stack whose endpoint refuses at once: the command fails fast, after its imports
    found = imported(*argv, RETRAINER_STACK="retrainer-dev", AWS_ENDPOINT_URL="http://127.0.0.1:9")

    assert found["code"] not in (0, None) and found["heavy"] == []
    assert "retrainer.local.control" not in found["modules"]
