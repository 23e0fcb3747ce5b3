"""Rate limits of the API, per token.

Flask-Limiter counts; the storage is memory on the embedded default and
Redis in production (RATELIMIT_STORAGE_URI, see tracker.config). The limit
is read from the config at each request (API_RATE_LIMIT), so a deployment
or a test changes it without a new app, and "off" switches it off. Answers
carry X-RateLimit-Limit, -Remaining, -Reset and, once refused, Retry-After;
the refusal is JSON. Failed logins have their own throttle, in the
database (tracker.services.admin.logins).

When the storage is unreachable the limiter counts in memory and logs a
warning (tracker.extensions): a Redis outage never stops a request.
"""

import logging
import time

from flask import Flask, current_app, g, has_request_context, render_template, request
from flask.logging import default_handler
from flask_babel import gettext
from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter, WindowStats

from tracker.extensions import limiter

OFF = ("", "off", "none", "0")
_api_limited = False


def _is_off(name: str) -> bool:
    return str(current_app.config.get(name) or "").strip().lower() in OFF


# ---------------------------------------------------------------- API


def api_key() -> str:
    """Count per token (its hash: the secret is not kept, even in the counter's name), else per address."""
    from tracker.services.admin.api_tokens import hash_secret

    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "api-token:" + hash_secret(secret.strip())[:32]
    return "api-address:" + (request.remote_addr or "unknown")


# Flask-Limiter parses a limit before it asks whether the request is exempt:
# a switched-off limit still needs a string it can read.
UNUSED = "1/second"


def api_limit() -> str:
    return UNUSED if api_exempt() else current_app.config.get("API_RATE_LIMIT")


def api_exempt() -> bool:
    return _is_off("API_RATE_LIMIT")


# ---------------------------------------------------------------- one round trip


# INCRBY, the window's expiry when it starts (as limits' incr_expire.lua), and the seconds left.
_HIT_AND_TTL = """
local current = redis.call("incrby", KEYS[1], ARGV[2])
if tonumber(current) == tonumber(ARGV[2]) then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""
ONE_TRIP = "fixed-window-one-trip"


class OneTripFixedWindow(FixedWindowRateLimiter):
    """Limits' fixed window, counting in Redis with one round trip a request instead of three.

    Flask-Limiter hits the counter (one script), then reads the counter and
    its expiry again for the X-RateLimit-* headers (GET, TTL): here the hit
    returns both and the headers take them from ``g``. Same keys, same
    counts, same headers; any other storage (memory) counts as before.
    """

    def __init__(self, storage):
        super().__init__(storage)
        self._script = None

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if not isinstance(self.storage, RedisStorage) or not has_request_context():
            return super().hit(item, *identifiers, cost=cost)
        if self._script is None:
            self._script = self.storage.get_connection().register_script(_HIT_AND_TTL)
        key = item.key_for(*identifiers)
        count, ttl = self._script([self.storage.prefixed_key(key)], [item.get_expiry(), cost])
        windows = g.setdefault("rate_windows", {})
        windows[key] = WindowStats(max(int(ttl), 0) + time.time(), max(0, item.amount - int(count)))
        return int(count) <= item.amount

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        known = g.get("rate_windows", {}).get(item.key_for(*identifiers)) if has_request_context() else None
        return known or super().get_window_stats(item, *identifiers)


STRATEGIES[ONE_TRIP] = OneTripFixedWindow


# ---------------------------------------------------------------- wiring


def register(app: Flask) -> None:
    """Bind the limiter to ``app``, limit the API blueprint, and answer a refused page politely."""
    from tracker.api import bp as api_bp
    from tracker.api.errors import http_error, is_api_request

    global _api_limited
    app.config.setdefault("RATELIMIT_STRATEGY", ONE_TRIP)
    limiter.init_app(app)
    _show_warnings(limiter.logger)
    if not _api_limited:
        # The limiter is one object for every app made in a process (tests make
        # several): the blueprint's limit is added to it once.
        limiter.limit(api_limit, key_func=api_key, exempt_when=api_exempt)(api_bp)
        _api_limited = True

    @app.errorhandler(429)
    def too_many(error):
        if is_api_request():
            return http_error(error)
        message = gettext("Too many failed attempts. Wait a minute, then try again.")
        return render_template("errors/rate_limited.html", message=message), 429


def _show_warnings(logger: logging.Logger) -> None:
    """Send the limiter's warnings (its storage is unreachable) where Flask's own go, unless someone listens.

    Flask-Limiter gives its logger a NullHandler, which also keeps Python's
    last-resort handler quiet: under gunicorn, with no logging configured,
    the outage warning would go nowhere.
    """
    current = logger
    while current is not None:
        if any(not isinstance(handler, logging.NullHandler) for handler in current.handlers):
            return
        if not current.propagate:
            break
        current = current.parent
    logger.addHandler(default_handler)
