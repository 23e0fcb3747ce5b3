"""Errors that services raise for bad input or refused actions.

A message is an untranslated msgid with ``%(name)s`` placeholders; it is
translated when shown (``translated()``), in the user's language, so the
service layer never needs a request or a locale.
"""

from tracker.domain.i18n import N_


class TrackerError(Exception):
    """A refusal the user can understand; nothing was changed."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params

    def translated(self) -> str:
        """Return the message in the current locale (needs an app context)."""
        from flask_babel import gettext

        from tracker.i18n import shown

        return gettext(self.message, **{k: shown(v) for k, v in self.params.items()})


class ValidationFailed(TrackerError):
    code = "invalid"


class NotFound(TrackerError):
    http_status = 404
    code = "not_found"

    def __init__(self, message: str = N_("Not found."), **params):
        super().__init__(message, **params)


class PermissionDenied(TrackerError):
    http_status = 403
    code = "forbidden"

    def __init__(self, message: str = N_("You are not allowed to do that."), **params):
        super().__init__(message, **params)


class Conflict(TrackerError):
    """The record is not in a state that allows the action."""

    http_status = 409
    code = "conflict"


class ActionForbidden(Conflict):
    """The actor may not take this action on the record, whatever its state.

    A Conflict for the pages, which show the message either way; the API
    answers 403, as for any other permission refusal.
    """

    http_status = 403
    code = "forbidden"
