"""panva's oidc-provider (npm) on loopback, installed with ``npm ci`` into tests/servers/oidc/node_modules."""

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers import HERE, cannot_start, free_port, wait_for_port

FOLDER = HERE / "oidc"
CLIENT_ID = "desk"
SCOPE = "openid profile email phone campus"

ACCOUNTS = {
    "s2023003": {
        "claims": {
            "name": "陈静",
            "preferred_username": "s2023003",
            "email": "chenjing@campus.test",
            "phone_number": "13800000003",
            "student_number": "2023003",
            "affiliation": ["student"],
        }
    },
    "t1003": {
        "claims": {
            "name": "刘洋",
            "preferred_username": "t1003",
            "email": "liuyang@campus.test",
            "employee_number": "T1003",
            "groups": ["repairs-techs"],
            "affiliation": ["staff"],
        }
    },
    "x0002": {"claims": {"preferred_username": "x0002", "affiliation": ["student"]}},
}


@dataclass
class OpenIdProvider:
    issuer: str
    accounts_file: Path
    client_id: str = CLIENT_ID
    scope: str = SCOPE

    def set_claims(self, login: str, claims: dict) -> None:
        accounts = json.loads(self.accounts_file.read_text())
        accounts[login] = {"claims": claims}
        self.accounts_file.write_text(json.dumps(accounts, ensure_ascii=False))


def install() -> None:
    """Install the provider from package-lock.json when node_modules is missing or older than the lock."""
    node_modules = FOLDER / "node_modules" / ".package-lock.json"
    if (
        node_modules.exists()
        and node_modules.stat().st_mtime >= (FOLDER / "package-lock.json").stat().st_mtime
    ):
        return
    if not shutil.which("npm") or not shutil.which("node"):
        cannot_start("oidc-provider", "node and npm are not installed (sudo apt-get install nodejs npm)")
    try:
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--silent"],
            cwd=FOLDER,
            check=True,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        cannot_start(
            "oidc-provider", f"npm ci in tests/servers/oidc failed: {getattr(error, 'stderr', '') or error}"
        )


def start(folder: Path):
    """Start the provider with its accounts in ``folder``; return (process, OpenIdProvider)."""
    install()
    folder.mkdir(parents=True, exist_ok=True)
    accounts = folder / "accounts.json"
    accounts.write_text(json.dumps(ACCOUNTS, ensure_ascii=False))
    port = free_port()
    log = folder / "oidc.log"
    with log.open("w") as out:  # the child keeps its own copy
        process = subprocess.Popen(
            ["node", str(FOLDER / "provider.mjs"), str(port)],
            cwd=FOLDER,
            env={**os.environ, "OIDC_ACCOUNTS": str(accounts)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(process, port, "oidc-provider", log)
    return process, OpenIdProvider(f"http://127.0.0.1:{port}", accounts)
