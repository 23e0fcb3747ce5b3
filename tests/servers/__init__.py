"""Real sign-on servers on loopback for the tests: slapd (LDAP), django-cas-server (CAS), oidc-provider (OpenID).

Each is started by a session fixture (tests/servers/fixtures.py) as a
process of its own on a free port of 127.0.0.1 and stopped after the last
test. When one cannot start, the tests that need it fail on CI (``CI`` set)
and are skipped elsewhere, with the reason and the command that installs it.
"""

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
STARTUP_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cannot_start(what: str, why: str):
    """Fail on CI, skip elsewhere: the server ``what`` is missing or did not start."""
    message = f"{what} could not start: {why}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def wait_for_port(process: subprocess.Popen, port: int, what: str, log: Path) -> None:
    """Wait until ``port`` accepts a connection; fail with the server's log when it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    stop(process)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    cannot_start(what, f"no answer on 127.0.0.1:{port} (exit {process.returncode}); its log ends:\n{tail}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
