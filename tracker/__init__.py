"""The campus service desk: application factory."""

from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_babel import get_locale
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import joinedload

from tracker import config as settings
from tracker.extensions import babel, csrf, db, login, migrate

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ("zh_CN", "en")

def create_app(overrides: dict | None = None) -> Flask:
    """Build the Flask app from the environment, then ``overrides`` (tests)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    app.config.from_mapping(settings.load())
    if overrides:
        app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A database host that stops answering (rather than refusing) must not
        # hold a page or /readyz until gunicorn kills the worker: give up on a
        # new connection after a few seconds (libpq's connect_timeout).
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {"connect_timeout": 5, **options.get("connect_args", {})}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config.get("TRUSTED_PROXIES"):
        # The client's address and scheme as the trusted proxies report them
        # (X-Forwarded-For, -Proto): the login throttle and the API limit
        # count per client, not per proxy. Without them the headers are
        # ignored: anyone can send them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        proxies = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from tracker.web import routing

    routing.register(app)  # before the first route: out-of-range ids are 404 on every route
    from tracker import logs, metrics

    logs.register(app)  # before the other hooks: every later hook and log line has the request id
    metrics.register(app)
    # Uploads are written here (and under tmp/ while checked): created at start.
    Path(app.config["ATTACHMENTS_DIR"]).mkdir(parents=True, exist_ok=True)

    db.init_app(app)
    from tracker.models.types import render_item

    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_item=render_item)
    login.init_app(app)
    csrf.init_app(app)
    from tracker.i18n import register_wtforms_translations

    register_wtforms_translations()
    babel.init_app(
        app,
        locale_selector=_request_locale,
        timezone_selector=lambda: app.config["TRACKER_TIMEZONE"],
        default_translation_directories=str(Path(__file__).parent / "translations"),
    )
    with app.app_context():
        _configure_engine(db.engine)

    from tracker.queueing import init_celery

    init_celery(app)

    from tracker import models  # noqa: F401  registers the tables
    from tracker.services import (
        audit,  # noqa: F401  records the administration history
        signon,
    )

    signon.configure(app)  # refuses unusable sign-on settings at start (ConfigError)
    _register_login()
    _register_blueprints(app)
    from tracker import api, ratelimit

    api.register(app)  # the JSON API under /api/v1 and its OpenAPI description
    from tracker.web.tokens import bp as tokens_bp

    app.register_blueprint(tokens_bp)  # personal access tokens for the API
    ratelimit.register(app)
    _register_template_helpers(app)
    _register_security_headers(app)

    from tracker.cli import register_cli

    register_cli(app)
    return app

def _configure_engine(engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    # The web and the worker write at once on the embedded default. WAL lets
    # readers run beside a writer; BEGIN IMMEDIATE takes the write lock at the
    # start, so a read-then-write transaction waits (busy_timeout) instead of
    # failing with "database is locked" when another writer got in between.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        from tracker.services import bulk

        bulk.tune_sqlite(connection)  # an import's writer: more page cache, fewer checkpoints
        connection.exec_driver_sql("BEGIN IMMEDIATE")

def _request_locale():
    """Return the reader's language as a parsed Babel locale (flask-babel would parse the text again per request)."""
    from babel import Locale

    from tracker.i18n import parsed_locale

    chosen = _select_locale()
    return chosen if isinstance(chosen, Locale) else parsed_locale(chosen)  # the API's is parsed already


def _select_locale():
    """Return the reader's language: a locale's name, or for the API the Locale it chose (api_locale)."""
    from flask_login import current_user

    if has_request_context() and request.path.startswith("/api/"):
        # The API ignores the session cookie: its own header, token owner or default.
        from tracker.api.auth import api_locale

        return api_locale()
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    if current_user and getattr(current_user, "is_authenticated", False) and current_user.locale in LOCALES:
        return current_user.locale
    match = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    if match == "zh":
        return "zh_CN"
    return match or "zh_CN"

def _register_login() -> None:
    from tracker.domain.i18n import N_
    from tracker.models import User

    login.login_view = "auth.login"
    login.login_message = N_("Please log in to continue.")
    login.login_message_category = "info"
    # The message is marked with N_ only: translate it when it is flashed.
    from flask_babel import gettext

    login.localize_callback = gettext

    # The roles with the user, in one statement: every page asks for them.
    # Built once: Session.get with options builds and keys its query anew on
    # every request (issue 20: about 0.15 ms of a filing's CPU).
    by_id = select(User).options(joinedload(User.roles)).where(User.id == bindparam("user_id"))

    @login.user_loader
    def _load_user(user_id: str):
        # The cookie holds "<id>.<session token>": a changed token ends the session.
        ident, _, token = user_id.partition(".")
        if not ident.isdigit():
            return None
        user = db.session.execute(by_id, {"user_id": int(ident)}).unique().scalar_one_or_none()
        if user is None or not user.is_active or user.session_token != token:
            return None
        return user

def _register_blueprints(app: Flask) -> None:
    from tracker.auth.views import bp as auth_bp
    from tracker.web.admin import bp as admin_bp
    from tracker.web.admin_ops import bp as admin_ops_bp
    from tracker.web.dashboards import bp as dashboards_bp
    from tracker.web.escalations import bp as escalations_bp
    from tracker.web.home import bp as home_bp
    from tracker.web.notifications import bp as notifications_bp
    from tracker.web.queue import bp as queue_bp
    from tracker.web.tickets import bp as tickets_bp
    from tracker.web.weekly import bp as weekly_bp

    for blueprint in (home_bp, auth_bp, tickets_bp, queue_bp, notifications_bp, escalations_bp, admin_bp,
                      admin_ops_bp):
        app.register_blueprint(blueprint)
    app.register_blueprint(weekly_bp)
    from tracker.web.supervision import bp as supervision_bp

    app.register_blueprint(supervision_bp)  # supervision orders (督办)
    app.register_blueprint(dashboards_bp)
    from tracker.web.display import bp as display_bp
    from tracker.web.display import links_bp as display_links_bp

    app.register_blueprint(display_bp)  # the wall display, logged in or by a display link
    app.register_blueprint(display_links_bp)
    from tracker.web.attachments import bp as attachments_bp

    app.register_blueprint(attachments_bp)
    from tracker.web.rectification import bp as rectification_bp

    app.register_blueprint(rectification_bp)

    from tracker.web.feedback import bp as feedback_bp
    from tracker.web.follow_ups import bp as follow_ups_bp

    app.register_blueprint(feedback_bp)
    app.register_blueprint(follow_ups_bp)
    from tracker.web.scorecards import bp as scorecards_bp

    app.register_blueprint(scorecards_bp)
    from tracker.web.scorecard_settings import contractors_bp, rules_bp

    app.register_blueprint(rules_bp)  # follow-up shares per centre and category
    app.register_blueprint(contractors_bp)  # contractors and their technicians
    from tracker.web.qr import bp as qr_bp

    app.register_blueprint(qr_bp)

    from tracker.web.surveys import bp as surveys_bp

    app.register_blueprint(surveys_bp)

    from tracker.web.imports import bp as imports_bp

    app.register_blueprint(imports_bp)

    from tracker.web.standards_admin import bp as standards_admin_bp

    app.register_blueprint(standards_admin_bp)

    from tracker.web.standards import bp as standards_bp

    app.register_blueprint(standards_bp)

    from tracker.web.materials import bp as materials_bp

    app.register_blueprint(materials_bp)

    from tracker.web.dispatch import bp as dispatch_bp

    app.register_blueprint(dispatch_bp)  # duty rosters and dispatch settings (docs/dispatch.md)
    from tracker.web.health import bp as health_bp

    app.register_blueprint(health_bp)  # /healthz and /readyz for the proxy and monitoring

    from tracker.web.signon import bp as signon_bp

    app.register_blueprint(signon_bp)  # CAS and OpenID Connect sign-on (docs/logins.md)

    from tracker.web import errors

    errors.register(app)

def _register_template_helpers(app: Flask) -> None:
    from tracker.web import assets, gettext, helpers

    helpers.register(app)
    gettext.register(app)  # translated strings are text: "<token>" is shown, not parsed
    assets.register(app)

def _register_security_headers(app: Flask) -> None:
    csp = (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )
    from urllib.parse import urlsplit

    signon = app.extensions["signon"]
    providers = sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, filter(None, (
        signon.cas_url, signon.oidc_issuer)))})
    if providers:
        # The logout form's answer redirects to the provider (single logout);
        # browsers check form-action on that redirect too.
        csp = csp.replace("form-action 'self'", "form-action 'self' " + " ".join(providers))

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("TRACKER_PRODUCTION"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.after_request
    def _few_flashes(response):
        # Notes wait in the session cookie for the next page. A client that
        # never reads a page (a script filing request after request) would
        # grow the cookie with each one, and every request would carry and
        # decode them all: the newest few are kept, as a person would see.
        flashes = session.get("_flashes")
        if flashes is not None and len(flashes) > MAX_WAITING_FLASHES:
            session["_flashes"] = flashes[-MAX_WAITING_FLASHES:]
        return response


# Notes (flash messages) kept for the next page, at most.
MAX_WAITING_FLASHES = 5

__all__ = ["create_app", "get_locale"]
