"""Error pages."""

from flask import Flask, render_template
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

    @app.errorhandler(TrackerError)
    def tracker_error(error):
        return render_template("errors/error.html", code=error.http_status, message=error.translated()), error.http_status
