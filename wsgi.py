"""WSGI entry point: ``gunicorn wsgi:app``; ``flask --app wsgi ...``."""

from tracker import create_app
from tracker.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # A clear line instead of a traceback: the operator has a setting to fix.
    raise SystemExit(f"campus service desk cannot start: {error}") from None
