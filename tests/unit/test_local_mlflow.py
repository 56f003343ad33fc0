"""The local stack's MLflow server process, without starting one."""

from retrainer.local.mlflow_server import LocalMlflow, free_port


def test_without_an_mlflow_executable_the_stack_runs_untracked_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRAINER_MLFLOW", str(tmp_path / "no-such-mlflow"))
    server = LocalMlflow(tmp_path, tmp_path / "state", free_port(0))

    server.start()

    assert not server.available and server.wait(timeout=1) is False
    assert server.description()["uri"] is None and ".venv-mlflow" in server.description()["reason"]
    server.stop()  # nothing to stop: no error


def test_the_server_port_is_the_preferred_one_unless_it_is_taken():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert free_port(port) != port
    assert free_port(port) == port


def test_a_server_that_exits_at_start_is_started_again_on_another_port(tmp_path, monkeypatch):
    failing = tmp_path / "mlflow"
    failing.write_text("#!/bin/sh\necho 'address already in use'\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv("RETRAINER_MLFLOW", str(failing))
    server = LocalMlflow(tmp_path, tmp_path / "state", free_port(0))
    first = server.port

    server.start()

    assert server.wait(timeout=30, restarts=2) is False and not server.ready
    assert server.port != first and (server.home / "server.log").read_text().count("address already in use") == 3
