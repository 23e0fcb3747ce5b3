"""The JSON API under /api/v1: blueprint ``api``, described by OpenAPI 3.

Built on flask-smorest (marshmallow + apispec + webargs): a view's
marshmallow schemas parse and validate its parameters and body and dump
its answer, and the same schemas make the description served at
/api/v1/openapi.json, so the two cannot drift apart. Views call the same
services as the pages, with a ``ScopedUser`` for the token's owner.
"""

from flask import Flask
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint as SmorestBlueprint
from marshmallow import RAISE
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from tracker.api import auth, errors
from tracker.api.errors import ApiError
from tracker.api.schemas import ErrorSchema
from tracker.domain.i18n import N_

PREFIX = "/api/v1"


class Parser(FlaskParser):
    """webargs' Flask parser, strict about bodies: JSON or nothing, 400 for what does not fit."""

    DEFAULT_VALIDATION_STATUS = 400
    # An unknown query parameter is a mistake (a misspelt filter would
    # silently list everything): refuse it, as unknown body fields are.
    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def _raw_load_json(self, req):
        data = req.get_data(cache=True)  # 413 past the API's body limit
        if not data:
            return core.missing
        if not is_json_request(req):
            raise ApiError(415)
        try:
            return core.parse_json(data)
        except RecursionError:  # nesting deeper than the parser's stack
            raise ApiError(400, N_("The body is not valid JSON."), code="malformed") from None

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise ApiError(400, N_("The body is not valid JSON."), code="malformed")


class ApiBlueprint(SmorestBlueprint):
    ARGUMENTS_PARSER = Parser()


class Api(SmorestApi):
    """flask-smorest's Api documenting our error shape, leaving the pages' errors alone."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        # flask-smorest would answer every HTTP error of the whole site as
        # JSON; the blueprint answers its own (tracker.api.errors) instead.
        pass


bp = ApiBlueprint(
    "api", __name__, url_prefix=PREFIX,
    description="Tickets, their actions and comments, the catalogue, SLA figures and rectification items.",
)
errors.register_handlers(bp)
bp.before_request(auth.authenticate)
bp.teardown_request(auth.restore_session)

API_DESCRIPTION = """\
The campus service desk's JSON API. Authenticate every call (except this
description) with a personal access token made under *My account › API
tokens*: `Authorization: Bearer <token>`. A token acts for its owner with
only the roles chosen for it. Errors read
`{"error": {"code": …, "message": …, "fields": {…}}}`, in the language of
`Accept-Language` or else the owner's. Calls are rate limited per token
(`X-RateLimit-*` and `Retry-After` headers; 429 when exceeded). Creations
take an `Idempotency-Key` header: a retry with the same key and body creates
nothing more and answers what the first call created (keys last 24 hours).
"""


def register(app: Flask) -> SmorestApi:
    """Register the API blueprint and its OpenAPI description on ``app``."""
    from tracker.extensions import csrf

    api = Api(
        app,
        spec_kwargs={
            "title": "Campus service desk API",
            "version": "1",
            "openapi_version": "3.0.3",
            "info": {"description": API_DESCRIPTION},
            "security": [{"bearerAuth": []}],
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "A personal access token."}
    )
    api.register_blueprint(bp)
    # Token authentication: no session, so no cross-site request to forge.
    csrf.exempt(bp)
    errors.register_routing_errors(app)
    return api


# The views register their routes on ``bp`` when imported; this must happen
# before the blueprint is first registered on an app.
from tracker.api import catalog, quotes, rectification, standards, tickets  # noqa: E402, F401
