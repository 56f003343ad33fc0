"""Where the local stack answers and how a client reaches it: what both the stack (retrainer.local.stack)
and the CLI's `control` need, without importing moto (the CLI loads this on every local command)."""

from __future__ import annotations

import socket

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def ensure_free(port: int) -> None:
    """Refuse a taken port: the server would fail in its thread while provisioning went on elsewhere.
    Taken means something listens there: connections of a stack that just stopped (TIME_WAIT) do not
    count, the server binds with SO_REUSEADDR as well (werkzeug's does)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise RuntimeError(
                f"port {port} is in use (another local stack, from another checkout?): stop it, "
                "or choose another port with RETRAINER_LOCAL_PORT"
            ) from None


def endpoint(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def client_environment(port: int) -> dict[str, str]:
    """What a process needs to talk to the local stack with plain boto3 (or the AWS CLI)."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint(port)}
