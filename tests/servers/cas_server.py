"""django-cas-server (PyPI, CAS protocol 1-3) in a virtual environment of its own, on loopback.

Django is no dependency of the desk: the server is installed from
tests/servers/cas/requirements.txt into tests/servers/cas/.venv (ignored
by git) the first time a test needs it.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.servers import HERE, cannot_start, free_port, wait_for_port

FOLDER = HERE / "cas"
VENV = FOLDER / ".venv"
PASSWORD = "cas-pass-1"

ACCOUNTS = {
    # A student: the campus CAS releases the name, number, mail and phone, and the affiliation.
    "2023002": {
        "password": PASSWORD,
        "attributes": {
            "cn": "张伟",
            "studentNumber": "2023002",
            "mail": "zhangwei@campus.test",
            "mobile": "13800000002",
            "eduPersonAffiliation": ["student", "member"],
        },
    },
    # A technician of the repairs centre, by group.
    "t1002": {
        "password": PASSWORD,
        "attributes": {
            "cn": "赵强",
            "employeeNumber": "T1002",
            "mail": "zhaoqiang@campus.test",
            "memberOf": ["cn=repairs-techs,ou=groups,dc=campus,dc=test"],
            "eduPersonAffiliation": "staff",
        },
    },
    # An entry the directory keeps no name for.
    "x0001": {"password": PASSWORD, "attributes": {"eduPersonAffiliation": "student"}},
    # A visitor in no mapped group.
    "v0001": {
        "password": PASSWORD,
        "attributes": {"cn": "Guest Visitor", "eduPersonAffiliation": "affiliate"},
    },
}


@dataclass
class CasServer:
    url: str
    accounts_file: Path
    password: str = PASSWORD

    def set_attributes(self, username: str, attributes: dict) -> None:
        """Change what the directory behind CAS says about ``username`` (read at each sign-in)."""
        accounts = json.loads(self.accounts_file.read_text())
        accounts[username]["attributes"] = attributes
        self.accounts_file.write_text(json.dumps(accounts, ensure_ascii=False))


def install() -> Path:
    """Return the server's Python, creating its virtual environment when it is missing."""
    python = VENV / "bin" / "python"
    marker = VENV / "installed.txt"
    wanted = (FOLDER / "requirements.txt").read_text()
    if python.exists() and marker.exists() and marker.read_text() == wanted:
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True, capture_output=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(FOLDER / "requirements.txt")],
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        cannot_start(
            "django-cas-server",
            f"pip install -r tests/servers/cas/requirements.txt failed: "
            f"{getattr(error, 'stderr', '') or error}",
        )
    marker.write_text(wanted)
    return python


def start(folder: Path, *, ticket_validity_seconds: int = 60):
    """Start the CAS server with its own database in ``folder``; return (process, CasServer)."""
    python = install()
    folder.mkdir(parents=True, exist_ok=True)
    accounts = folder / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS, ensure_ascii=False))
    port = free_port()
    log = folder / "cas.log"
    env = {
        **os.environ,
        "CAS_DATABASE": str(folder / "cas.sqlite3"),
        "CAS_USERS": str(accounts),
        "CAS_TICKET_VALIDITY": str(ticket_validity_seconds),
        "PYTHONWARNINGS": "ignore",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with log.open("w") as out:  # the child keeps its own copy
        process = subprocess.Popen(
            [str(python), str(FOLDER / "serve.py"), str(port)],
            cwd=FOLDER,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(process, port, "django-cas-server", log)
    return process, CasServer(f"http://127.0.0.1:{port}/cas", accounts)
