"""The test CAS server's accounts: a JSON file (CAS_USERS) of user -> password and attributes."""

import json
import os

from cas_server.auth import AuthUser


def _accounts() -> dict:
    with open(os.environ["CAS_USERS"], encoding="utf-8") as fh:
        return json.load(fh)


class FileAuthUser(AuthUser):
    def test_password(self, password):
        account = _accounts().get(self.username)
        return account is not None and password == account["password"]

    def attributs(self):
        return dict(_accounts().get(self.username, {}).get("attributes", {}))
