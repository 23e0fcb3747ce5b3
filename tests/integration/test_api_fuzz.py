"""Fuzz every API operation from its OpenAPI description (schemathesis), in-process against the WSGI app.

Each operation gets valid (positive) and invalid (negative) requests drawn
from the description, with a token that holds every staff role of the
repairs centre and leadership; the ticket paths are also tried on a real
ticket. Every answer must be no server error and match the description:
status code documented, body of the documented schema, content type.
Invalid requests must be refused (4xx). The number of examples is bounded
(API_FUZZ_EXAMPLES, default 25 per operation and mode) so the run takes a
minute or two; raise it to search longer.
"""

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation

from tests.factories import make_user
from tracker.domain.roles import Role
from tracker.domain.workflow import Status
from tracker.services.admin import api_tokens

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          negative_data_rejection]


def _isolated(app):
    """Give every fuzzed request an app context (and database session) of its own, as production does."""
    from tracker.extensions import db

    def wsgi(environ, start_response):
        db.session.rollback()
        with app.app_context():
            return list(app.wsgi_app(environ, start_response))

    return wsgi


def test_every_operation_survives_schema_driven_fuzzing(app, db, world, make_ticket):
    from tests.factories import T0

    repairs = world.centres["repairs"].id
    fuzzer = make_user("fuzzer", [(Role.REQUESTER, None), (Role.TECHNICIAN, repairs), (Role.DISPATCHER, repairs),
                                  (Role.CENTRE_HEAD, repairs), (Role.LEADERSHIP, None)])
    _token, secret = api_tokens.create_token(
        fuzzer, name="fuzz", scopes=["requester", "technician", "dispatcher", "centre_head", "leadership"], now=T0)
    ticket = make_ticket(status=Status.IN_PROGRESS, requester=fuzzer)
    make_ticket(status=Status.RESOLVED)
    auth = {"Authorization": f"Bearer {secret}"}

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _isolated(app))
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation but the description itself (schemathesis leaves out the document it reads).
    assert len(operations) >= 12, "; ".join(op.label for op in operations)
    tried = []
    for operation in operations:
        fixed = [None]
        if "{reference}" in operation.path and "/tickets/" in operation.path:
            fixed.append({"reference": ticket.reference})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in fixed:
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

                @settings(max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                          suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case):
                    # A case whose headers were made invalid on purpose (no or a
                    # wrong Authorization) goes as generated and must be refused;
                    # every other one carries the real token.
                    headers = None if case.meta and case.meta.is_negative_at(ParameterLocation.HEADER) else auth
                    case.call_and_validate(headers=headers, checks=CHECKS)

                run()
                tried.append((operation.label, mode.value, bool(path_parameters)))
    assert {label for label, _mode, _fixed in tried} == {op.label for op in operations}
