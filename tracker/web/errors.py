"""Error pages, and the request guard that refuses text the database cannot store."""

from collections.abc import Iterable

from flask import Flask, current_app, g, render_template, request
from flask_babel import gettext
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import InternalServerError

from tracker.domain.i18n import N_
from tracker.domain.limits import text_problem
from tracker.errors import TrackerError
from tracker.extensions import login

# Errors that mean the database cannot be reached now (down, restarting, a
# dropped connection, a full pool), not that the request was wrong: 503,
# try again. A connection that died is invalidated by SQLAlchemy and the
# pool connects anew on the next request, so the app recovers by itself.
DATABASE_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
RETRY_AFTER_SECONDS = 30

UNAVAILABLE_MESSAGE = N_("The service cannot reach its database for a moment; nothing was changed. "
                         "Try again in a minute.")


def register(app: Flask) -> None:
    @app.errorhandler(403)
    def forbidden(_error):
        return render_template("errors/error.html", code=403), 403

    @app.errorhandler(404)
    def not_found(_error):
        return render_template("errors/error.html", code=404), 404

    @app.errorhandler(CSRFError)
    def csrf_failed(_error):
        return render_template("errors/error.html", code=400, csrf=True), 400

    @app.errorhandler(413)
    def too_large(_error):
        from tracker.services.requests.attachments import max_megabytes

        _drain_body()
        message = gettext(
            "The file is larger than %(max)s MB, the most a file may have. Nothing was saved: go back and "
            "choose a smaller file.",
            max=max_megabytes(),
        )
        return render_template("errors/error.html", code=413, message=message), 413

    @app.errorhandler(TrackerError)
    def tracker_error(error):
        return render_template("errors/error.html", code=error.http_status, message=error.translated()), error.http_status

    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, database_unavailable)

    @app.errorhandler(InternalServerError)
    def server_error(_error):
        return render_without_database(500)

    app.before_request(refuse_unstorable_text)


def database_unavailable(error):
    """Answer 503 with Retry-After, as the API's JSON or the app's page, without touching the database."""
    from tracker.api.errors import error_response, is_api_request

    current_app.logger.warning("database unavailable (%s): %s", request.path, str(error).splitlines()[0])
    _forget_user()  # before any gettext: choosing the language may ask for the user
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if is_api_request():
        return error_response(503, "unavailable", gettext(UNAVAILABLE_MESSAGE), headers=headers)
    return render_without_database(503, message=gettext(UNAVAILABLE_MESSAGE), headers=headers)


def render_without_database(code: int, *, message: str | None = None, headers: dict | None = None):
    """Render the error page with no query: the reader shows as logged out."""
    _forget_user()
    return render_template("errors/error.html", code=code, message=message), code, headers or {}


def _forget_user() -> None:
    """Show the reader as logged out for the rest of the request, without asking the database.

    The failed session must not be used again, and the language selector
    and the page's header would otherwise load the user (Flask-Login's
    loader), their menu and unread count. The language still follows the
    reader: the session's choice (set at login) or the browser's.
    """
    g._login_user = login.anonymous_user()  # Flask-Login's per-request user: its loader is not called again


def refuse_unstorable_text():
    """Answer 400 when a page request carries text the database cannot store.

    PostgreSQL's text types refuse NUL (the one control character they
    refuse) and UTF-8 cannot hold a lone surrogate: a search or a form with
    one would otherwise fail in the query (a 500, a CSV export cut off).
    Checked here once for the address, the query string, form fields and a
    JSON body of every page; the API's schemas check their fields with the
    same rule (tracker.domain.limits) and answer per field. An upload that
    may be larger than MAX_CONTENT_LENGTH sets its limit in a
    url_value_preprocessor, which runs before this reads the form.
    """
    from tracker.api.errors import is_api_request

    if is_api_request():
        return None
    problem = _first_problem([request.path, *request.args.items(multi=True)])
    if problem is None and request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if request.is_json:
            problem = _first_problem(request.get_json(silent=True))
        else:
            problem = _first_problem(request.form.items(multi=True))
    if problem is None:
        return None
    message = gettext(problem) + " " + gettext("Nothing was changed: go back and remove it.")
    return render_template("errors/error.html", code=400, message=message), 400


def _first_problem(value) -> str | None:
    """Return the first reason some text in ``value`` (nested lists, dicts, pairs) cannot be stored."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        value = value.items()
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        for item in value:
            problem = _first_problem(item)
            if problem:
                return problem
    return None


DRAIN_MAX_BYTES = 64 * 1024 * 1024


def _drain_body() -> None:
    """Read and drop what is left of a refused upload, up to DRAIN_MAX_BYTES.

    A server that answers while the browser is still sending closes a socket
    with unread data, which resets the connection: the browser would show a
    network error instead of the page that says what was wrong.
    """
    stream = request.environ.get("wsgi.input")
    remaining = min(request.content_length or DRAIN_MAX_BYTES, DRAIN_MAX_BYTES)
    try:
        while remaining > 0:
            chunk = stream.read(min(remaining, 64 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError, AttributeError):
        pass  # the client went away: nothing to answer anyway
