"""The CLI works on the local stack by default and on a deployed stack named by RETRAINER_STACK."""

import json

import boto3
import pytest

from retrainer.local import control


def test_a_deployed_stack_is_found_by_name_and_read_through_its_outputs(aws, monkeypatch, tmp_path):
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"RunLedgerTableName": {"Value": "ledger-table"}, "StateMachineArn": {"Value": "arn:aws:states:x"}}}
    boto3.client("cloudformation").create_stack(StackName="retrainer-dev", TemplateBody=json.dumps(template))
    monkeypatch.setenv("RETRAINER_STACK", "retrainer-dev")
    location = control.Location(tmp_path, 1)

    _, stack = control.session(location)

    assert stack["stack_name"] == "retrainer-dev"
    assert stack["outputs"] == {"RunLedgerTableName": "ledger-table", "StateMachineArn": "arn:aws:states:x"}
    with pytest.raises(control.StackNotRunning, match="retrainer local up"):  # the demo stays local
        control.session(location, deployed_ok=False)


def test_a_taken_port_is_refused_with_a_way_out(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"port {port} is in use .* RETRAINER_LOCAL_PORT"):
            control.up(control.Location(tmp_path, port))


def test_a_busy_local_stack_is_running_and_a_stopped_one_is_not(tmp_path):
    """A stack whose server is too busy to answer HTTP (its machine's cores training) still accepts a
    connection: the CLI must not tell its user it is not running (a CI run did, once)."""
    import os
    import socket

    from retrainer import target

    location = target.Location(tmp_path, 1)
    with socket.socket() as busy:  # listens, never answers
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        location.description_file.write_text(json.dumps({"pid": os.getpid(), "endpoint": f"http://127.0.0.1:{port}"}))
        assert target.describe(location)["endpoint"] == f"http://127.0.0.1:{port}"
    assert target.describe(location) is None  # nothing listens there any more


def test_a_stack_that_is_not_running_is_named_with_the_reason(tmp_path):
    from retrainer import target

    location = target.Location(tmp_path, 1)
    with pytest.raises(target.StackNotRunning, match=r"not running \(no .*stack.json\)"):
        target.session(location, deployed_ok=False)


def test_a_live_stack_whose_port_answers_late_is_waited_for():
    """Its process lives and its server binds a moment later (starting, or too busy to accept)."""
    import os
    import socket
    import tempfile
    import threading
    from pathlib import Path

    from retrainer import target

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = Path(tempfile.mkdtemp())
    location = target.Location(state, port)
    location.description_file.write_text(json.dumps({"pid": os.getpid(), "endpoint": f"http://127.0.0.1:{port}"}))
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening = threading.Timer(1.5, lambda: (server.bind(("127.0.0.1", port)), server.listen()))
    listening.start()
    try:
        assert target.look(location)[0] is None  # no patience: not there yet
        assert target.look(location, patience=10)[0]["endpoint"] == f"http://127.0.0.1:{port}"
    finally:
        listening.join()
        server.close()
