"""Sign-on against real servers on loopback: slapd (LDAP), django-cas-server (CAS), oidc-provider (OpenID).

The servers are started once per session (tests/servers/); each test
switches sign-on on for the test app with the settings it needs.
"""

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import IsolatedClient, post_form
from tests.servers.flows import follow
from tracker.domain.roles import Role
from tracker.extensions import db
from tracker.models import AdminEvent, SignonIdentity, User, UserRole

PEOPLE = "ou=people,dc=campus,dc=test"
GROUPS = "ou=groups,dc=campus,dc=test"
ROLES = (
    "groups:students=requester; groups:repairs-techs=technician@repairs; "
    f"memberOf:cn=repairs-techs,{GROUPS}=technician@repairs; eduPersonAffiliation:student=requester; "
    "affiliation:student=requester"
)
HERE = "http://localhost/"


@pytest.fixture
def sign_on(app, world):
    """Switch sign-on on for the test app: ``sign_on(CAS_URL=..., ROLES=...)``; off again after the test."""
    from tracker.services import signon

    saved = {key: value for key, value in app.config.items() if key.startswith("SIGNON_")}

    def switch(**settings):
        for key in saved:
            app.config[key] = None
        app.config.update({f"SIGNON_{key}": value for key, value in settings.items()})
        app.config.setdefault("SIGNON_ROLES", ROLES)
        if app.config["SIGNON_ROLES"] is None:
            app.config["SIGNON_ROLES"] = ROLES
        return signon.configure(app)

    yield switch
    app.config.update(saved)
    signon.configure(app)


@pytest.fixture
def ldap_on(sign_on, ldap_directory):
    def switch(**extra):
        return sign_on(
            LDAP_URL=ldap_directory.url,
            LDAP_USER_DN=f"uid={{username}},{PEOPLE}",
            LDAP_GROUP_BASE=GROUPS,
            **extra,
        )

    switch()
    return switch


def flashed(client) -> list[str]:
    page = client.get("/login").get_data(as_text=True)
    return [html.unescape(m) for m in re.findall(r'class="flash flash-\w+">\s*([^<]+?)\s*<', page)]


def user_named(username: str) -> User | None:
    db.session.rollback()
    return db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def roles_of(user: User) -> set[str]:
    db.session.refresh(user)
    return {f"{r.role.value}@{r.centre.code}" if r.centre else r.role.value for r in user.roles}


# ---- LDAP ----


def test_ldap_first_sign_in_creates_the_account_from_the_directory(client, ldap_on):
    response = post_form(client, "/login", {"username": "S2023001", "password": "campus-pass-1"})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    user = user_named("s2023001")
    assert (user.display_name, user.email, user.phone) == ("李明", "liming@campus.test", "13800000001")
    assert roles_of(user) == {"requester"}
    identity = db.session.execute(
        select(SignonIdentity).where(SignonIdentity.user_id == user.id)
    ).scalar_one()
    assert (identity.provider, identity.subject, identity.number, identity.sign_in_count) == (
        "ldap",
        "s2023001",
        "2023001",
        1,
    )
    assert user.last_login_at is not None
    created = db.session.execute(
        select(AdminEvent).where(
            AdminEvent.entity == "user", AdminEvent.entity_id == user.id, AdminEvent.action == "created"
        )
    ).scalar_one()
    assert created.changes["display_name"] == [None, "李明"] or created.changes["display_name"][1] == "李明"
    # The directory account has no local password: the account page says where to change it.
    assert not user.check_password("campus-pass-1")
    account = client.get("/account").get_data(as_text=True)
    assert "Staff or student number 2023001" in account
    assert "change it with the campus directory" in account and 'name="new"' not in account


def test_ldap_sign_in_updates_the_account_and_the_mapped_roles_only(client, ldap_on, ldap_directory, world):
    assert post_form(client, "/login", {"username": "t1001", "password": "campus-pass-1"}).status_code == 302
    user = user_named("t1001")
    assert roles_of(user) == {"technician@repairs"}
    # An administrator grants a role by hand; the directory changes the phone and drops the group.
    db.session.add(UserRole(user_id=user.id, role=Role.DISPATCHER, centre_id=world.centres["dorm"].id))
    db.session.commit()
    ldap_directory.add(
        f"dn: uid=t1001,{PEOPLE}\nchangetype: modify\nreplace: telephoneNumber\n"
        "telephoneNumber: 010-6000-2002\n\n"
        f"dn: cn=repairs-techs,{GROUPS}\nchangetype: modify\nreplace: member\n"
        f"member: uid=s2023001,{PEOPLE}\n"
    )
    try:
        post_form(client, "/logout")
        second = IsolatedClient(client.application, client.application.response_class, use_cookies=True)
        assert (
            post_form(second, "/login", {"username": "t1001", "password": "campus-pass-1"}).status_code == 302
        )
        user = user_named("t1001")
        assert user.phone == "010-6000-2002"
        # Technician taken back (the directory no longer gives it); requester as no group maps now; dispatcher kept.
        assert roles_of(user) == {"dispatcher@dorm", "requester"}
    finally:
        ldap_directory.add(
            f"dn: cn=repairs-techs,{GROUPS}\nchangetype: modify\nreplace: member\n"
            f"member: uid=t1001,{PEOPLE}\n"
        )


def test_local_administrator_logs_in_beside_ldap_and_a_wrong_password_is_refused(client, ldap_on, world):
    response = post_form(client, "/login", {"username": "s2023001", "password": "wrong"})
    assert response.status_code == 200
    assert "Wrong user name or password." in response.get_data(as_text=True)
    assert user_named("s2023001") is None
    admin = world.users["admin"]
    assert (
        post_form(client, "/login", {"username": admin.username, "password": world.password}).status_code
        == 302
    )


@pytest.mark.parametrize(
    "language, message",
    [
        ("en", "The campus directory has no name for the account nameless."),
        ("zh-CN", "校园目录中没有账号 nameless 的姓名。"),
    ],
)
def test_directory_entry_without_a_name_is_refused_in_the_users_language(client, ldap_on, language, message):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    response = post_form(client, "/login", {"username": "nameless", "password": "campus-pass-1"})
    assert response.status_code == 200
    assert message in html.unescape(response.get_data(as_text=True))
    assert user_named("nameless") is None


def test_user_in_no_mapped_group_is_refused_or_a_requester_as_configured(client, ldap_on):
    ldap_on(UNMAPPED="refuse")
    response = post_form(client, "/login", {"username": "v9001", "password": "campus-pass-1"})
    assert "is in no group that may use the service desk" in response.get_data(as_text=True)
    assert user_named("v9001") is None
    ldap_on(UNMAPPED="requester")
    assert post_form(client, "/login", {"username": "v9001", "password": "campus-pass-1"}).status_code == 302
    assert roles_of(user_named("v9001")) == {"requester"}


def test_sign_on_never_takes_over_a_local_administrator(client, sign_on, ldap_directory, world):
    admin = world.users["admin"]
    # The directory has an entry with the administrator's user name.
    ldap_directory.add(
        f"dn: uid={admin.username},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {admin.username}\n"
        f"cn: Someone Else\nsn: Else\nuserPassword: campus-pass-1\n"
    )
    sign_on(LDAP_URL=ldap_directory.url, LDAP_USER_DN=f"uid={{username}},{PEOPLE}")
    response = post_form(client, "/login", {"username": admin.username, "password": "campus-pass-1"})
    assert "belongs to a local administrator account" in response.get_data(as_text=True)
    assert user_named(admin.username).display_name == admin.display_name


def test_ldap_that_does_not_answer_is_a_message_and_shown_on_readyz(client, sign_on, world):
    from tests.servers import free_port

    sign_on(
        LDAP_URL=f"ldap://127.0.0.1:{free_port()}",
        LDAP_USER_DN=f"uid={{username}},{PEOPLE}",
        TIMEOUT_SECONDS="2",
    )
    response = post_form(client, "/login", {"username": "s2023001", "password": "campus-pass-1"})
    assert response.status_code == 200
    assert "The campus sign-on does not answer." in response.get_data(as_text=True)
    ready = client.get("/readyz")
    assert ready.status_code == 200  # shown, not counted: local passwords still work
    assert ready.json["checks"]["signon"]["ldap"]["ok"] is False
    assert "TRACKER_LDAP_URL does not answer" in ready.json["checks"]["signon"]["ldap"]["error"]
    # Local passwords still work.
    admin = world.users["admin"]
    assert (
        post_form(client, "/login", {"username": admin.username, "password": world.password}).status_code
        == 302
    )


# ---- CAS ----


def cas_ticket(client, cas, username: str) -> str:
    """Sign in at the CAS server's own login page; return the URL it sends the browser back to."""
    start = client.get("/login/cas")
    assert start.status_code == 302 and start.headers["Location"].startswith(cas.url + "/login?service=")
    return follow(
        start.headers["Location"],
        {"username": username, "password": cas.password},
        back_to=HERE + "login/cas/done",
    )


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_cas_first_sign_in_creates_the_account_and_logout_ends_the_cas_session(client, sign_on, cas):
    sign_on(CAS_URL=cas.url)
    back = cas_ticket(client, cas, "2023002")
    assert "ticket=ST-" in back
    response = client.get(local(back))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = user_named("2023002")
    assert (user.display_name, user.email, user.phone) == ("张伟", "zhangwei@campus.test", "13800000002")
    assert roles_of(user) == {"requester"}
    identity = db.session.execute(
        select(SignonIdentity).where(SignonIdentity.user_id == user.id)
    ).scalar_one()
    assert (identity.provider, identity.number) == ("cas", "2023002")
    # Single logout: the desk's session ends, then CAS's.
    out = post_form(client, "/logout")
    assert out.headers["Location"].startswith(cas.url + "/logout?service=")
    assert client.get("/", follow_redirects=False).status_code == 302


def test_cas_group_gives_a_centre_role_and_the_next_sign_in_updates_it(client, sign_on, cas):
    sign_on(CAS_URL=cas.url)
    assert client.get(local(cas_ticket(client, cas, "t1002"))).status_code == 302
    assert roles_of(user_named("t1002")) == {"technician@repairs"}
    cas.set_attributes("t1002", {"cn": "赵强", "mail": "zq@campus.test", "eduPersonAffiliation": "student"})
    try:
        post_form(client, "/logout")
        assert client.get(local(cas_ticket(client, cas, "t1002"))).status_code == 302
        user = user_named("t1002")
        assert user.email == "zq@campus.test" and roles_of(user) == {"requester"}
        assert (
            db.session.execute(
                select(SignonIdentity.sign_in_count).join(User).where(User.username == "t1002")
            ).scalar_one()
            == 2
        )
    finally:
        from tests.servers.cas_server import ACCOUNTS

        cas.set_attributes("t1002", ACCOUNTS["t1002"]["attributes"])


def test_cas_ticket_used_twice_or_expired_is_refused(client, sign_on, cas):
    sign_on(CAS_URL=cas.url)
    back = cas_ticket(client, cas, "2023002")
    assert client.get(local(back)).status_code == 302
    post_form(client, "/logout")
    replayed = client.get(local(back))
    assert replayed.headers["Location"] == "/login"
    assert "The campus sign-on ticket has expired or was already used. Please sign in again." in flashed(
        client
    )
    late = cas_ticket(client, cas, "2023002")
    time.sleep(4)  # the test CAS server keeps tickets 3 s
    assert client.get(local(late)).headers["Location"] == "/login"
    assert "The campus sign-on ticket has expired or was already used. Please sign in again." in flashed(
        client
    )
    assert client.get("/").status_code == 302  # not signed in


def test_cas_without_a_name_is_refused_and_creates_nothing(client, sign_on, cas):
    sign_on(CAS_URL=cas.url)
    client.get(local(cas_ticket(client, cas, "x0001")))
    assert any("has no name for the account x0001" in m for m in flashed(client))
    assert user_named("x0001") is None


def test_cas_protocol_2_validates_at_service_validate(client, sign_on, cas):
    sign_on(CAS_URL=cas.url, CAS_VERSION="2")
    assert client.get(local(cas_ticket(client, cas, "2023002"))).status_code == 302
    assert user_named("2023002") is not None


# ---- OpenID Connect ----


def oidc_callback(client, openid, login: str) -> str:
    start = client.get("/login/oidc")
    assert start.status_code == 302, start.get_data(as_text=True)[:300]
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    return follow(
        start.headers["Location"], {"login": login, "password": "any"}, back_to=HERE + "login/oidc/done"
    )


def oidc_on(sign_on, openid, **extra):
    return sign_on(
        OIDC_ISSUER=openid.issuer, OIDC_CLIENT_ID=openid.client_id, OIDC_SCOPE=openid.scope, **extra
    )


def test_oidc_sign_in_with_pkce_creates_the_account_and_logout_ends_the_provider_session(
    client, sign_on, openid
):
    oidc_on(sign_on, openid)
    response = client.get(local(oidc_callback(client, openid, "s2023003")))
    assert response.status_code == 302 and response.headers["Location"] == "/", flashed(client)
    user = user_named("s2023003")
    assert (user.display_name, user.email, user.phone) == ("陈静", "chenjing@campus.test", "13800000003")
    assert roles_of(user) == {"requester"}
    assert (
        db.session.execute(
            select(SignonIdentity.number).where(SignonIdentity.user_id == user.id)
        ).scalar_one()
        == "2023003"
    )
    out = post_form(client, "/logout")
    location = out.headers["Location"]
    assert location.startswith(openid.issuer + "/session/end?")
    query = parse_qs(urlsplit(location).query)
    assert query["post_logout_redirect_uri"] == [HERE + "login"] and query["id_token_hint"]
    # The provider accepts the logout request (its confirmation page).
    assert requests.get(location, timeout=10).status_code == 200


def test_oidc_group_claim_gives_the_technician_role(client, sign_on, openid):
    oidc_on(sign_on, openid)
    client.get(local(oidc_callback(client, openid, "t1003")))
    assert roles_of(user_named("t1003")) == {"technician@repairs"}


def test_oidc_replayed_code_is_refused(client, sign_on, openid):
    oidc_on(sign_on, openid)
    back = oidc_callback(client, openid, "s2023003")
    cookie = client.get_cookie("session").value
    assert client.get(local(back)).status_code == 302
    post_form(client, "/logout")
    # The same browser state and code again: the provider refuses the spent code.
    replay = IsolatedClient(client.application, client.application.response_class, use_cookies=True)
    replay.set_cookie("session", cookie)
    assert replay.get(local(back)).headers["Location"] == "/login"
    assert "This sign-in was already used or has expired. Please sign in again." in flashed(replay)
    assert replay.get("/").status_code == 302
    assert db.session.execute(select(func.count()).select_from(SignonIdentity)).scalar_one() == 1


def test_oidc_account_without_a_name_is_refused(client, sign_on, openid):
    oidc_on(sign_on, openid)
    client.get(local(oidc_callback(client, openid, "x0002")))
    assert any("has no name for the account x0002" in m for m in flashed(client))
    assert user_named("x0002") is None


def test_misconfigured_provider_is_a_message_and_shown_on_readyz(client, sign_on, openid, cas):
    from tests.servers import free_port

    sign_on(
        OIDC_ISSUER=f"http://127.0.0.1:{free_port()}", OIDC_CLIENT_ID="desk", CAS_URL=cas.url + "/nowhere"
    )
    response = client.get("/login/oidc")
    assert response.headers["Location"] == "/login"
    assert "The campus sign-on does not answer." in " ".join(flashed(client))
    checks = client.get("/readyz").json["checks"]["signon"]
    assert checks["ok"] is False
    assert "TRACKER_OIDC_ISSUER has no discovery document" in checks["oidc"]["error"]
    assert "answers 404" in checks["cas"]["error"]
    sign_on(
        OIDC_ISSUER=openid.issuer, OIDC_CLIENT_ID="desk", CAS_URL=cas.url, ROLES="groups:x=technician@NOSUCH"
    )
    checks = client.get("/readyz").json["checks"]["signon"]
    assert checks["oidc"] == {"ok": True} and checks["cas"] == {"ok": True}
    assert checks["roles"] == {"ok": False, "error": "TRACKER_SIGNON_ROLES names unknown centres: NOSUCH"}


def test_login_page_shows_the_campus_buttons_before_the_password_form(client, sign_on, openid, cas):
    sign_on(OIDC_ISSUER=openid.issuer, OIDC_CLIENT_ID="desk", CAS_URL=cas.url, LABEL="统一身份认证")
    page = client.get("/login").get_data(as_text=True)
    assert page.index('id="signon-cas"') < page.index('id="signon-oidc"') < page.index('name="password"')
    assert "统一身份认证" in page


def logout_request(ticket: str) -> str:
    return (
        '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="x" Version="2.0" IssueInstant="2026-12-07T05:00:00Z">'
        f"<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>{ticket}</samlp:SessionIndex>"
        "</samlp:LogoutRequest>"
    )


def test_cas_logout_request_ends_the_sessions_of_its_ticket_only(client, sign_on, cas):
    """The POST CAS sends at single logout (the real one is in tests/browser/test_signon_journey.py)."""
    sign_on(CAS_URL=cas.url)
    back = cas_ticket(client, cas, "2023002")
    assert client.get(local(back)).status_code == 302
    ticket = parse_qs(urlsplit(back).query)["ticket"][0]
    server = IsolatedClient(client.application, client.application.response_class, use_cookies=False)
    for body in (logout_request("ST-guessed"), "<not xml", ""):
        assert server.post("/login/cas/done", data={"logoutRequest": body}).status_code == 204
    assert client.get("/account").status_code == 200  # still signed in
    assert server.post("/login/cas/done", data={"logoutRequest": logout_request(ticket)}).status_code == 204
    assert client.get("/account").status_code == 302  # the session ended
