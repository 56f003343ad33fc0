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
        return code, captured.out, captured.err

    return run
