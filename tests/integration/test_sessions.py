"""Ending sessions on the server: logout, password changes and deactivation refuse old cookies and tokens."""

from sqlalchemy import select

from tests.conftest import IsolatedClient, post_form
from tests.integration.api_helpers import bearer, make_token
from tracker.extensions import db
from tracker.models import ApiToken, User

COOKIES = ("session", "remember_token")


def _browser(app) -> IsolatedClient:
    return IsolatedClient(app, app.response_class, use_cookies=True)


def _logged_in(app, user, password, *, remember=True) -> IsolatedClient:
    browser = _browser(app)
    data = {"username": user.username, "password": password}
    if remember:
        data["remember"] = "y"
    response = post_form(browser, "/login", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return browser


def _copy(app, browser, name: str) -> IsolatedClient:
    """Return a new browser holding only ``browser``'s cookie ``name`` (an attacker's replay)."""
    cookie = browser.get_cookie(name)
    assert cookie is not None, f"no {name} cookie"
    replay = _browser(app)
    replay.set_cookie(name, cookie.value)
    return replay


def _is_logged_in(browser) -> bool:
    response = browser.get("/tickets/mine")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_an_old_session_cookie_is_refused_after_logout(app, world):
    browser = _logged_in(app, world.users["requester"], world.password, remember=False)
    stolen = _copy(app, browser, "session")
    assert _is_logged_in(stolen)

    post_form(browser, "/logout")

    assert not _is_logged_in(stolen)
    assert not _is_logged_in(browser)


def test_the_remember_me_cookie_is_refused_after_logout(app, world):
    browser = _logged_in(app, world.users["requester"], world.password)
    stolen = _copy(app, browser, "remember_token")
    assert _is_logged_in(_copy(app, browser, "remember_token"))

    post_form(browser, "/logout")

    assert not _is_logged_in(stolen)


def test_logout_ends_the_users_sessions_on_every_device(app, world):
    user = world.users["requester"]
    phone = _logged_in(app, user, world.password)
    desk = _logged_in(app, user, world.password)

    post_form(phone, "/logout")

    assert not _is_logged_in(desk)
    assert _is_logged_in(_logged_in(app, user, world.password))


def test_an_own_password_change_ends_the_other_sessions_and_remember_cookies(app, world):
    user = world.users["requester"]
    other = _logged_in(app, user, world.password)
    old = {name: _copy(app, other, name) for name in COOKIES}
    here = _logged_in(app, user, world.password)

    response = post_form(here, "/account", {"current": world.password, "new": "a new secret",
                                            "repeat": "a new secret"})

    assert response.status_code == 302
    assert _is_logged_in(here)  # the browser that changed it stays logged in
    assert not _is_logged_in(other)
    assert not any(_is_logged_in(browser) for browser in old.values())


def _admin_form(user, **extra) -> dict:
    return {"display_name": user.display_name, "global_roles": ["requester"], **extra}


def test_a_password_set_by_the_admin_refuses_the_remember_cookie(app, client, world, login_as):
    victim = world.users["requester"]
    old = _copy(app, _logged_in(app, victim, world.password), "remember_token")
    login_as("admin")

    response = post_form(client, f"/admin/users/{victim.id}",
                         _admin_form(victim, is_active="y", new_password="a brand new secret"))

    assert response.status_code == 302
    assert not _is_logged_in(old)


def test_deactivation_refuses_the_remember_cookie_also_after_reactivation(app, client, world, login_as):
    victim = world.users["requester"]
    old = _copy(app, _logged_in(app, victim, world.password), "remember_token")
    login_as("admin")

    assert post_form(client, f"/admin/users/{victim.id}", _admin_form(victim)).status_code == 302
    assert not _is_logged_in(old)
    assert post_form(client, f"/admin/users/{victim.id}", _admin_form(victim, is_active="y")).status_code == 302
    assert not _is_logged_in(old)


def _tokens(user) -> list[ApiToken]:
    db.session.expire_all()
    return list(db.session.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalars())


def test_an_own_password_change_revokes_the_users_api_tokens(app, client, world, login_as):
    user = world.users["requester"]
    secret = make_token(world, "requester")
    other = make_token(world, "leadership")
    assert client.get("/api/v1/centres", headers=bearer(secret)).status_code == 200
    login_as("requester")

    response = post_form(client, "/account", {"current": world.password, "new": "a new secret",
                                              "repeat": "a new secret"})

    assert response.status_code == 302
    assert client.get("/api/v1/centres", headers=bearer(secret)).status_code == 401
    assert client.get("/api/v1/centres", headers=bearer(other)).status_code == 200
    (token,) = _tokens(user)
    assert token.revoked_at is not None and token.revoked_by_id == user.id


def test_a_password_set_by_the_admin_revokes_the_users_api_tokens(app, client, world, login_as):
    victim = world.users["requester"]
    secret = make_token(world, "requester")
    admin = login_as("admin")

    response = post_form(client, f"/admin/users/{victim.id}",
                         _admin_form(victim, is_active="y", new_password="a brand new secret"))

    assert response.status_code == 302
    assert client.get("/api/v1/centres", headers=bearer(secret)).status_code == 401
    (token,) = _tokens(victim)
    assert token.revoked_by_id == admin.id
    # The history records the password change, as for any administration.
    events = client.get(f"/admin/users/{victim.id}").get_data(as_text=True)
    assert "Password" in events


def test_a_refused_password_change_keeps_the_sessions_and_tokens(app, world):
    user = world.users["requester"]
    secret = make_token(world, "requester")
    other = _logged_in(app, user, world.password)
    here = _logged_in(app, user, world.password)

    post_form(here, "/account", {"current": "not it", "new": "a new secret", "repeat": "a new secret"})

    assert _is_logged_in(other) and _is_logged_in(here)
    assert here.get("/api/v1/centres", headers=bearer(secret)).status_code == 200
    assert db.session.get(User, user.id).check_password(world.password)
