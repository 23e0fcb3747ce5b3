"""The API's Idempotency-Key: a creation retried with its key creates once (services.idempotency)."""

from flask import request

from tracker.api.auth import caller
from tracker.clock import utcnow
from tracker.services import idempotency

IDEMPOTENCY_PARAMETER = {
    "in": "header", "name": "Idempotency-Key", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.KEY_MAX},
    "description": (
        "Any unique string (a UUID) chosen by the client for this creation. Sent again with the same "
        "body within 24 hours, the call creates nothing more and answers what the first call created, "
        "with its status and `Idempotent-Replayed: true`; with another body or address it answers 422 "
        "(`idempotency_key_reused`). Keys are per user and forgotten after 24 hours."
    ),
}
REPLAYED_HEADER = {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                           "description": "Present when the answer is a repeat's (Idempotency-Key)."}}


def earlier_creation(kind: str) -> idempotency.Earlier | None:
    """Claim the call's Idempotency-Key (if it sent one) for a creation of ``kind``; return the earlier one.

    Raises KeyInvalid for an empty or overlong key, KeyReused (422) when the
    key came with another body or address.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    digest = idempotency.fingerprint(request.method, request.path, request.get_json(silent=True))
    return idempotency.claim(caller(), idempotency.check_key(key), kind, now=utcnow(), digest=digest)
