"""Error pages."""

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from tracker.errors import TrackerError


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
        from flask_babel import gettext

        from tracker.services.attachments import max_megabytes

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
