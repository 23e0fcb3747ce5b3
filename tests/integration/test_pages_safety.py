"""Pages are safe and accessible by construction: headers, no inline code, labelled fields, cached assets."""

import re
from html.parser import HTMLParser

import pytest

from tests.conftest import post_form
from tracker.config import Environment, load
from tracker.web.assets import _Versions

PAGES = {
    None: ["/login"],
    "requester": ["/tickets/mine", "/tickets/new", "/tickets/new/repairs", "/tickets/{reference}", "/account",
                  "/notifications"],
    "technician": ["/queue/", "/tickets/{reference}"],
    "dispatcher": ["/queue/dispatch", "/tickets/", "/qr/", "/qr/sheets/{building}"],
    "leadership": ["/dashboard", "/weekly/", "/standards/centres"],
    "admin": ["/admin/users/new", "/admin/locations/new", "/admin/centres/new", "/admin/categories/new",
              "/standards/centres", "/standards/benchmarks", "/standards/links"],
}


class _Page(HTMLParser):
    """Collect what the checks need: scripts, inline handlers and styles, fields and their labels."""

    def __init__(self):
        super().__init__()
        self.inline_scripts = 0
        self.inline_attributes: list[str] = []
        self.label_for: set[str] = set()
        self.fields: list[dict] = []
        self.open_labels = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.inline_scripts += 1
        self.inline_attributes += [f"{tag} {name}" for name in attributes if name.startswith("on") or name == "style"]
        if tag == "label":
            self.open_labels += 1
            if attributes.get("for"):
                self.label_for.add(attributes["for"])
        if tag in ("input", "select", "textarea") and attributes.get("type") not in ("hidden", "submit", "button"):
            self.fields.append({**attributes, "_tag": tag, "_in_label": self.open_labels > 0})

    def handle_endtag(self, tag):
        if tag == "label":
            self.open_labels = max(self.open_labels - 1, 0)

    def unlabelled(self) -> list[str]:
        return [
            f"{field['_tag']} {field.get('name') or field.get('id')}" for field in self.fields
            if not (field["_in_label"] or field.get("id") in self.label_for or field.get("aria-label")
                    or field.get("aria-labelledby"))
        ]


def _walk(client, world, login_as, ticket):
    for who, paths in PAGES.items():
        if who is not None:
            login_as(who)
        for path in paths:
            path = path.format(reference=ticket.reference, building=world.locations["building"].id)
            response = client.get(path)
            assert response.status_code == 200, f"{who} {path}: {response.status_code}"
            yield f"{who} {path}", response
        if who is not None:
            post_form(client, "/logout")


def test_pages_send_security_headers_and_carry_no_inline_code(client, db, world, login_as, make_ticket):
    ticket = make_ticket(status="in_progress")
    for name, response in _walk(client, world, login_as, ticket):
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, name
        assert "frame-ancestors 'none'" in csp, name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        page = _Page()
        page.feed(response.get_data(as_text=True))
        # The CSP would block them in the browser: none may be there to block.
        assert page.inline_scripts == 0, f"{name}: inline <script>"
        assert not page.inline_attributes, f"{name}: inline handlers or styles {page.inline_attributes}"


def test_every_field_on_the_key_pages_has_a_label(client, db, world, login_as, make_ticket):
    ticket = make_ticket(status="in_progress")
    counted = 0
    for name, response in _walk(client, world, login_as, ticket):
        page = _Page()
        page.feed(response.get_data(as_text=True))
        counted += len(page.fields)
        assert not page.unlabelled(), f"{name}: fields without a label: {page.unlabelled()}"
    assert counted > 50


def test_static_addresses_carry_a_content_hash_and_are_cached_for_a_year(client, db):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/app\.css\?v=([0-9a-f]{12}))"', page)
    assert css, "the stylesheet's address has no version"
    versioned = client.get(css.group(1))
    assert versioned.status_code == 200
    assert versioned.headers["Cache-Control"].replace(" ", "").split(",") and {
        "public", "max-age=31536000", "immutable"} <= set(versioned.headers["Cache-Control"].replace(" ", "").split(","))
    versioned.close()
    for address in ("/static/app.css", "/static/app.css?v=000000000000"):
        plain = client.get(address)
        assert "no-cache" in plain.headers["Cache-Control"] and "immutable" not in plain.headers["Cache-Control"]
        assert plain.headers.get("ETag")
        plain.close()


def test_a_changed_file_gets_a_new_version(tmp_path):
    import os

    (tmp_path / "a.css").write_text("body { color: #000; }")
    versions = _Versions(str(tmp_path))
    first = versions.get("a.css")
    (tmp_path / "a.css").write_text("body { color: #111; }")
    os.utime(tmp_path / "a.css", (1, 1))
    assert versions.get("a.css") != first
    assert versions.get("../etc/passwd") is None and versions.get("missing.css") is None


@pytest.mark.parametrize("cookie", ["session", "remember_token"])
def test_production_cookies_are_secure_http_only_and_same_site(app_config, world, cookie, tmp_path):
    from tests.conftest import IsolatedClient
    from tracker import create_app

    production = load(Environment({
        "DATABASE_URL": "postgresql://desk@db.example/desk", "CELERY_BROKER_URL": "redis://cache.example:6379/0",
        "SECRET_KEY": "s3cret", "TRACKER_INSTANCE_PATH": str(tmp_path),
    }))
    cookies = {key: value for key, value in production.items() if key.startswith(("SESSION_COOKIE", "REMEMBER_COOKIE"))}
    assert cookies["SESSION_COOKIE_SECURE"] and cookies["REMEMBER_COOKIE_SECURE"]
    app = create_app({**app_config, **cookies})
    client = IsolatedClient(app, app.response_class, use_cookies=True)
    try:
        response = post_form(client, "/login", {"username": world.users["requester"].username,
                                                "password": world.password, "remember": "y"})
    finally:
        # This second app has its own engine and pool: close its connection
        # now, not whenever the collector finds it (a psycopg ResourceWarning
        # in some later test on PostgreSQL).
        with app.app_context():
            from tracker.extensions import db

            db.engine.dispose()
    assert response.status_code == 302
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{cookie}=")]
    assert headers, f"no {cookie} cookie set"
    attributes = {part.strip().split("=")[0].lower() for part in headers[-1].split(";")[1:]}
    assert {"secure", "httponly", "samesite"} <= attributes, headers[-1]
    assert "samesite=lax" in headers[-1].lower()
