"""The API's errors: one JSON shape for every refusal, in the reader's language.

Every answer that is not a success reads::

    {"error": {"code": "invalid", "message": "…", "fields": {"priority": ["…"]}}}

``code`` is stable (clients branch on it), ``message`` is translated,
``fields`` appears only when named fields are wrong. Services' TrackerErrors
keep their own status (400, 403, 404, 409, 422); request bodies and parameters
that do not fit the schema answer 400; HTTP errors (405, 413, 415, 429)
their own status.
"""

from flask import Blueprint, Flask, jsonify, request
from flask_babel import gettext
from werkzeug.exceptions import HTTPException, default_exceptions

from tracker.domain.i18n import N_
from tracker.errors import TrackerError

PREFIX = "/api/"

# Codes and default messages of the HTTP errors the API answers.
HTTP_ERRORS = {
    400: ("bad_request", N_("The request is not valid.")),
    401: ("unauthorized", N_("Send a valid personal access token: Authorization: Bearer <token>.")),
    403: ("forbidden", N_("Your token may not do that.")),
    404: ("not_found", N_("Not found.")),
    405: ("method_not_allowed", N_("This address does not answer that method.")),
    409: ("conflict", N_("The request conflicts with the current state.")),
    422: ("unprocessable", N_("The request cannot be processed.")),
    413: ("too_large", N_("The request body is too large.")),
    415: ("unsupported_media_type", N_("Send the body as JSON (Content-Type: application/json).")),
    429: ("rate_limited", N_("Too many requests. Wait a moment and try again.")),
    500: ("server_error", N_("Something went wrong on the server; nothing was changed.")),
}

# marshmallow's own messages, marked here so the catalogue carries them;
# ``fields`` messages are passed through gettext when they are shown.
MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Unknown field."),
    N_("Field may not be null."),
    N_("Invalid input type."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid list."),
    N_("Special numeric values (nan or infinity) are not permitted."),
)


class ApiError(Exception):
    """A refusal raised by the API layer itself (authentication, media type, body)."""

    def __init__(self, status: int, message: str | None = None, *, code: str | None = None,
                 fields: dict | None = None, headers: dict | None = None, **params):
        super().__init__(message)
        default_code, default_message = HTTP_ERRORS.get(status, ("error", N_("The request is not valid.")))
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.params = params
        self.fields = fields
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, *, fields: dict | None = None,
                   headers: dict | None = None):
    """Return the JSON error response; ``message`` is already translated."""
    error = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify({"error": error})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def is_api_request() -> bool:
    return request.path.startswith(PREFIX)


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """Return marshmallow's nested messages as {"field.sub": [translated message, …]}."""
    result: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, texts in flatten_messages(value, name).items():
                result.setdefault(field, []).extend(texts)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list | tuple):
                for field, texts in flatten_messages(item, prefix).items():
                    result.setdefault(field, []).extend(texts)
            else:
                result.setdefault(prefix, []).append(gettext(str(item)))
    else:
        result.setdefault(prefix, []).append(gettext(str(messages)))
    return result


def _validation_response(messages):
    """Answer a body or parameters that do not fit their schema: 400, ``invalid``, per field."""
    fields: dict[str, list[str]] = {}
    body_messages: list[str] = []
    # webargs nests the messages under the location (json, query, view_args): drop it.
    for location_messages in (messages.values() if isinstance(messages, dict) else [messages]):
        for field, texts in flatten_messages(location_messages).items():
            if field in ("", "_schema"):
                body_messages.extend(texts)
            else:
                fields.setdefault(field, []).extend(texts)
    message = " ".join(body_messages) or gettext("Some fields are not valid; nothing was changed.")
    return error_response(400, "invalid", message, fields=fields or None)


def http_error(error: HTTPException):
    """Answer an HTTP error (raised by Flask, webargs, Flask-Limiter) as the API's JSON."""
    data = getattr(error, "data", None) or {}
    if error.code == 400 and "messages" in data:
        return _validation_response(data["messages"])
    status = error.code or 500
    code, message = HTTP_ERRORS.get(status, ("error", N_("The request is not valid.")))
    headers = {}
    if status == 405:
        allowed = error.get_headers()
        headers.update({name: value for name, value in allowed if name.lower() == "allow"})
    if status == 413:
        limit = request.max_content_length
        text = gettext("The request body is too large: at most %(max)d bytes.", max=limit) if limit else gettext(message)
        return error_response(status, code, text, headers=headers)
    return error_response(status, code, gettext(message), headers=headers)


def api_error(error: ApiError):
    return error_response(
        error.status, error.code, gettext(error.message, **error.params), fields=error.fields, headers=error.headers
    )


def tracker_error(error: TrackerError):
    status = error.http_status if error.http_status in (400, 403, 404, 409, 422) else 400
    return error_response(status, error.code, error.translated())


def register_handlers(bp: Blueprint) -> None:
    """Answer every error of the API's views as JSON (called once, when the blueprint is built).

    Handlers are registered per status code: the pages' handlers for 403
    and 404 are app-wide per code and would win over a blueprint handler for
    HTTPException in general.
    """
    bp.register_error_handler(ApiError, api_error)
    bp.register_error_handler(TrackerError, tracker_error)
    for status in default_exceptions:
        if status >= 400:
            bp.register_error_handler(status, http_error)


def register_routing_errors(app: Flask) -> None:
    """Answer an unknown address or method under /api/ as JSON too.

    Routing fails before any blueprint is known, so no blueprint handler
    sees it; this runs before the view would.
    """

    @app.before_request
    def _routing_error():
        failure = request.routing_exception
        if failure is None or not is_api_request() or not isinstance(failure, HTTPException):
            return None
        if failure.code is not None and failure.code < 400:
            return None  # a redirect (a missing trailing slash) stays one
        from tracker.api.auth import choose_locale

        choose_locale(None)
        return http_error(failure)
