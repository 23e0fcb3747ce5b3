"""Personal access tokens on the account pages: made, shown once, limited to one's roles, revoked."""

import re

from sqlalchemy import func, select

from tests.conftest import csrf_token, post_form
from tracker.extensions import db
from tracker.models import ApiToken

SECRET_RE = re.compile(r'<code id="new-token"[^>]*>(desk_[A-Za-z0-9_-]+)</code>')


def _make(client, **fields):
    page = client.get("/account/tokens/").get_data(as_text=True)
    assert "Make a token" in page
    data = {"name": "Campus portal", "scopes": ["requester"], **fields}
    return post_form(client, "/account/tokens/", data)


def test_a_user_makes_a_token_that_is_shown_once_and_works(client, world, login_as):
    login_as("technician")
    made = _make(client, scopes=["requester"])
    assert made.status_code == 200
    page = made.get_data(as_text=True)
    secret = SECRET_RE.search(page).group(1)
    token = db.session.execute(select(ApiToken)).scalar_one()
    assert token.scopes == ["requester"] and token.token_hash != secret and secret not in token.prefix
    again = client.get("/account/tokens/").get_data(as_text=True)
    assert secret not in again and token.prefix in again  # listed by its first characters only
    answer = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    # Scoped to requester: the technician's centre work is not visible through it.
    assert client.get("/api/v1/figures", headers={"Authorization": f"Bearer {secret}"}).status_code == 403


def test_a_token_cannot_carry_a_role_the_user_lacks(client, world, login_as):
    login_as("requester")
    refused = _make(client, scopes=["admin"])
    assert refused.status_code == 400
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 0


def test_a_token_needs_a_name_and_a_future_expiry(client, world, login_as):
    login_as("requester")
    assert _make(client, name="").status_code == 400
    assert _make(client, expires_on="2001-01-01").status_code == 400
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 0
    made = _make(client, expires_on="2099-01-01")
    assert made.status_code == 400  # more than three years ahead
    assert db.session.execute(select(func.count()).select_from(ApiToken)).scalar_one() == 0


def test_a_revoked_token_is_refused_at_once(client, world, login_as):
    login_as("requester")
    secret = SECRET_RE.search(_make(client).get_data(as_text=True)).group(1)
    token = db.session.execute(select(ApiToken)).scalar_one()
    revoked = post_form(client, f"/account/tokens/{token.id}/revoke")
    assert revoked.status_code == 302
    assert client.get("/api/v1/centres", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "revoked" in client.get("/account/tokens/").get_data(as_text=True)


def test_nobody_revokes_another_users_token(client, world, login_as):
    from tests.integration.api_helpers import make_token

    secret = make_token(world, "requester")
    token = db.session.execute(select(ApiToken)).scalar_one()
    login_as("other_requester")
    post_form(client, f"/account/tokens/{token.id}/revoke")
    db.session.expire_all()
    assert db.session.get(ApiToken, token.id).revoked_at is None
    assert client.get("/api/v1/centres", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert csrf_token(client)
