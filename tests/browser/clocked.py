"""``wsgi:app`` with the application's clock moved: a live server at another time of day or week.

The integration tests move "now" by replacing the ``utcnow`` that a module
imported from ``tracker.clock`` (``monkeypatch.setattr("tracker.web.tickets.utcnow", ...)``).
A live server's code runs in gunicorn's processes, out of the test's reach,
so this module does the same there when gunicorn serves
``tests.browser.clocked:app`` (``LiveServer(app=..., extra_env=...)``):
every tracker module's ``utcnow``, and ``tracker.clock.utcnow`` itself for
the modules that import it later, reads the real clock moved by
``TEST_CLOCK_OFFSET_SECONDS``. The clock keeps ticking. Production serves
``wsgi:app``, which never imports anything under ``tests/``.
"""

import os
import sys
from datetime import datetime, timedelta

from tracker import clock
from wsgi import app

__all__ = ["app"]

_REAL = clock.utcnow
_OFFSET = timedelta(seconds=float(os.environ["TEST_CLOCK_OFFSET_SECONDS"]))


def utcnow() -> datetime:
    """Return the real instant moved by the offset (aware UTC, as tracker.clock.utcnow)."""
    return _REAL() + _OFFSET


clock.utcnow = utcnow
for _name, _module in list(sys.modules.items()):
    if _name.split(".")[0] in ("tracker", "workers", "wsgi") and getattr(_module, "utcnow", None) is _REAL:
        _module.utcnow = utcnow
