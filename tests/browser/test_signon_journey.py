"""A student signs in through the campus OpenID provider's own pages, files a request, and signs out of both."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, DEVICES, TIMEOUT_MS
from tests.browser.server import LiveServer
from tests.browser.test_request_journey import WORLD, assert_fits, file_request
from tests.conftest import TEST_BROKER_URL


@pytest.fixture(scope="module")
def signon_server(live_system, openid, cas):
    """A second gunicorn on the browser tests' database, with CAS and OpenID Connect sign-on switched on."""
    server = LiveServer(
        database_url=live_system.env["DATABASE_URL"],
        instance_path=Path(live_system.env["TRACKER_INSTANCE_PATH"]),
        log_path=ARTIFACTS / "signon-server.log",
        broker_url=TEST_BROKER_URL,
        workers=2,
    )
    server.env.update(
        TRACKER_CAS_URL=cas.url,
        TRACKER_OIDC_ISSUER=openid.issuer,
        TRACKER_OIDC_CLIENT_ID=openid.client_id,
        TRACKER_OIDC_SCOPE=openid.scope,
        TRACKER_SIGNON_ROLES=(
            "affiliation:student=requester; eduPersonAffiliation:student=requester; "
            "groups:repairs-techs=technician@repairs"
        ),
        TRACKER_SIGNON_UNMAPPED="refuse",
    )
    server.start(timeout=120)  # a busy machine boots two workers slowly
    try:
        yield server
    finally:
        server.stop()


def test_student_signs_in_at_the_campus_provider_files_a_request_and_signs_out_of_both(
    browser, signon_server, openid, shots
):
    context = browser.new_context(base_url=signon_server.url, locale="en-US", **DEVICES["desktop"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/login")
        campus = page.locator("#signon-oidc")
        # The campus button comes before the password form.
        assert (
            page.locator("main a#signon-oidc, main input[name=password]").first.get_attribute("id")
            == "signon-oidc"
        )
        shots.take(page, "login-page")
        campus.click()
        # The provider's own login page.
        page.wait_for_url(f"{openid.issuer}/interaction/**")
        page.locator("input[name=login]").fill("s2023003")
        page.locator("input[name=password]").fill("student-password")
        shots.take(page, "provider-login")
        page.locator("button[type=submit]").first.click()
        # Its consent page: the desk asks for the profile, e-mail, phone and campus claims.
        page.wait_for_url(f"{openid.issuer}/interaction/**")
        shots.take(page, "provider-consent")
        page.locator("button[type=submit]").first.click()
        page.wait_for_url(f"{signon_server.url}/**")
        expect(page.get_by_role("button", name="Log out", include_hidden=True)).to_have_count(1)
        expect(page.locator("body")).to_contain_text("陈静")
        shots.take(page, "signed-in")

        world = WORLD["en"]
        reference = file_request(
            page,
            centre=world["centre"],
            category=world["category"],
            place=world["place"],
            description="The tap in room 301 drips all night.",
            shots=shots,
        )
        expect(page.locator("body")).to_contain_text("The tap in room 301 drips all night.")
        shots.take(page, f"filed-{reference}")

        page.get_by_role("button", name="Log out").click()
        # The provider asks to confirm ending its session too.
        page.wait_for_url(f"{openid.issuer}/session/end**")
        shots.take(page, "provider-logout")
        page.locator("button[autofocus], button[type=submit]").first.click()
        page.wait_for_url(f"{signon_server.url}/login**")
        expect(page.locator(".flash")).to_contain_text("You are logged out.")
        shots.take(page, "signed-out")

        # Signed out of both: the desk asks to log in, and the provider asks for the login again.
        page.goto("/account")
        page.wait_for_url(f"{signon_server.url}/login**")
        page.locator("#signon-oidc").click()
        page.wait_for_url(f"{openid.issuer}/interaction/**", timeout=30_000)
        expect(page.locator("input[name=login]")).to_be_visible()
        shots.take(page, "provider-asks-again")
    finally:
        context.close()


def test_login_page_with_the_campus_button_fits_a_phone_in_chinese(browser, signon_server, shots):
    context = browser.new_context(base_url=signon_server.url, locale="zh-CN", **DEVICES["phone"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/login")
        expect(page.locator("#signon-oidc")).to_have_text("校园账号登录（OpenID）")
        expect(page.locator("main")).to_contain_text("或用用户名和密码登录")
        assert_fits(page)
        shots.take(page, "login-phone-zh")
    finally:
        context.close()


def test_logging_out_of_cas_elsewhere_ends_the_session_here(browser, signon_server, cas, shots):
    """CAS's single logout: the CAS server posts the logout to the desk, which ends the user's sessions."""
    context = browser.new_context(base_url=signon_server.url, locale="en-US", **DEVICES["desktop"])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto("/login")
        page.locator("#signon-cas").click()
        page.wait_for_url(f"{cas.url}/login**")
        page.locator("input[name=username]").fill("2023002")
        page.locator("input[name=password]").fill(cas.password)
        shots.take(page, "cas-login")
        page.locator("form button[type=submit], form input[type=submit]").first.click()
        page.wait_for_url(f"{signon_server.url}/**")
        expect(page.get_by_role("button", name="Log out")).to_have_count(1)
        expect(page.locator("body")).to_contain_text("张伟")
        shots.take(page, "signed-in-through-cas")
        # The student logs out at CAS itself (e.g. from another campus application).
        page.goto(f"{cas.url}/logout")
        shots.take(page, "cas-logged-out")
        page.goto("/account")
        page.wait_for_url(f"{signon_server.url}/login**")
        expect(page.locator("#signon-cas")).to_be_visible()
        shots.take(page, "desk-asks-to-log-in")
    finally:
        context.close()
