"""Helpers for the API tests: personal access tokens for the test world's users."""

from tests.factories import T0
from tracker.services.admin import api_tokens


def make_token(world, who: str, scopes=None, *, expires_at=None, now=T0) -> str:
    """Make a token for a world user (all their roles unless ``scopes``); return the secret."""
    user = world.users[who]
    chosen = scopes if scopes is not None else sorted({r.role.value for r in user.roles})
    _token, secret = api_tokens.create_token(user, name=f"{who} test", scopes=chosen, expires_at=expires_at, now=now)
    return secret


def bearer(secret: str, **headers) -> dict:
    return {"Authorization": f"Bearer {secret}", **headers}
