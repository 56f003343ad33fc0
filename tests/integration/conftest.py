"""Fixtures of the local-stack tiers."""

import pytest

from retrainer import cli


@pytest.fixture
def cli_run(local_stack, monkeypatch, capsys):
    """`retrainer <argv>` as a user types it, against the session's local stack: (exit code, stdout, stderr)."""
    monkeypatch.setenv("RETRAINER_STATE_DIR", str(local_stack.state_dir))
    monkeypatch.setenv("RETRAINER_LOCAL_PORT", str(local_stack.port))
    monkeypatch.delenv("RETRAINER_STACK", raising=False)

    def run(*argv):
        capsys.readouterr()
        code = cli.main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, _without_lambda_metrics(captured.out), captured.err

    return run


def _without_lambda_metrics(out: str) -> str:
    """The session's Lambda handlers run in this process (their threads) and print Powertools' EMF
    metric lines to stdout, as they do to CloudWatch Logs on AWS, and their Logger's JSON lines to the
    stdout of the test that first invoked them: not the CLI's output."""
    return "".join(line for line in out.splitlines(keepends=True) if not line.startswith(('{"_aws"', '{"level"')))


@pytest.fixture(autouse=True)
def no_armed_faults(request):
    """A fault a test armed and its run never reached (a queued run, a job that failed at staging) must
    not fail the next test's run: each test ends with none armed."""
    yield
    if "local_stack" in request.fixturenames:
        request.getfixturevalue("local_stack").faults.clear()


@pytest.fixture(scope="session")
def trained_run(local_stack):
    """One landing's successful run with its candidates registered, shared by the modules that review,
    report and score them (the same data twice would be the same models: registration is by content)."""
    from retrainer.demo import land_batch
    from tests.utils.stack import clients, ended, run_where, settled

    s3, = clients("s3")
    settled(local_stack)
    uri = land_batch(s3, local_stack.provisioned.outputs["LandingBucketName"], "scarcegan", "it-trained", seed=41)
    finished = ended(local_stack, run_where(local_stack, lambda r: r["data"]["uri"] == uri)["run_id"])
    settled(local_stack)
    assert finished["status"] == "SUCCEEDED", finished.get("failure")
    return finished
