"""Rate limits of the API per token, with the standard headers; the API and the login in a Redis outage."""

import pytest

from tests.conftest import post_form
from tests.integration.api_helpers import bearer, make_token


@pytest.fixture
def limits(app, monkeypatch):
    """Switch the limits on (they are off in the other tests) with fresh counters."""
    from tracker.extensions import limiter

    def set_limits(api="off"):
        monkeypatch.setitem(app.config, "API_RATE_LIMIT", api)
        with app.app_context():
            limiter.reset()

    yield set_limits
    with app.app_context():
        limiter.reset()


def test_the_api_answers_429_past_the_limit_with_the_headers(client, world, limits):
    limits(api="3/minute")
    secret = make_token(world, "requester")
    answers = [client.get("/api/v1/centres", headers=bearer(secret)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    first, refused = answers[0], answers[-1]
    assert first.headers["X-RateLimit-Limit"] == "3" and first.headers["X-RateLimit-Remaining"] == "2"
    assert int(first.headers["X-RateLimit-Reset"]) > 0
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"] == {
        "code": "rate_limited", "message": "Too many requests. Wait a moment and try again."}
    # Counted per token: another token still gets through.
    other = make_token(world, "leadership")
    assert client.get("/api/v1/centres", headers=bearer(other)).status_code == 200


def test_the_description_is_limited_per_address_without_a_token(client, world, limits):
    limits(api="2/minute")
    answers = [client.get("/api/v1/openapi.json").status_code for _ in range(3)]
    assert answers == [200, 200, 429]


def test_counters_live_in_memory_by_default_and_in_redis_in_production(tmp_path):
    from tracker.config import Environment, load

    embedded = load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert embedded["RATELIMIT_STORAGE_URI"] == "memory://"
    assert embedded["API_RATE_LIMIT"] == "120/minute" and embedded["LOGIN_ADDRESS_LIMIT"] == "20/10 minutes"
    production = load(Environment({"DATABASE_URL": "postgresql://desk@db.example/desk",
                                   "CELERY_BROKER_URL": "redis://cache.example:6379/0", "SECRET_KEY": "s3cret",
                                   "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert production["RATELIMIT_STORAGE_URI"] == "redis://cache.example:6379/0"
    own = load(Environment({"RATELIMIT_STORAGE_URI": "redis://limits.example:6379/3",
                            "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert own["RATELIMIT_STORAGE_URI"] == "redis://limits.example:6379/3"



@pytest.fixture
def rebind_limiter(app):
    """Give the session's app its limiter back after a test bound it to another app.

    The limiter is one object per process: binding it to a second app points
    its storage there, and an outage leaves it on its in-memory fallback.
    """
    from tracker.extensions import limiter

    yield
    with app.app_context():
        limiter.init_app(app)
        limiter._storage_dead = False
        limiter.reset()


def test_a_redis_outage_leaves_the_api_and_the_login_working(app_config, world, rebind_limiter, caplog):
    import logging

    from tests.conftest import IsolatedClient
    from tracker import create_app
    from tracker.extensions import db

    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1: every connection is refused
    outage = create_app({**app_config, "TRACKER_PRODUCTION": True, "RATELIMIT_STORAGE_URI": dead,
                         "CELERY_BROKER_URL": dead, "CELERY_BROKER_TRANSPORT_OPTIONS": {},
                         "API_RATE_LIMIT": "120/minute", "LOGIN_ADDRESS_LIMIT": "20/10 minutes",
                         "LOGIN_USER_BACKOFF_SECONDS": 30})
    client = IsolatedClient(outage, outage.response_class, use_cookies=True)
    secret = make_token(world, "requester")
    body = {"centre_id": world.centres["repairs"].id, "category_id": world.categories["water"].id,
            "location_id": world.locations["room"].id, "description": "The tap in room 301 leaks."}
    try:
        with caplog.at_level(logging.WARNING):
            filed = [client.post("/api/v1/tickets", json=body, headers=bearer(secret)) for _ in range(5)]
            read = [client.get(f"/api/v1/tickets/{f.get_json()['reference']}", headers=bearer(secret))
                    for f in filed if f.status_code == 201]
            login = post_form(client, "/login", {"username": "requester", "password": world.password})
            post_form(client, "/logout")
            wrong = post_form(client, "/login", {"username": "leadership", "password": "nope"})
    finally:
        with outage.app_context():
            db.engine.dispose()
    assert [f.status_code for f in filed] == [201] * 5
    assert [r.status_code for r in read] == [200] * 5
    assert login.status_code == 302 and wrong.status_code == 200
    assert any(r.levelno == logging.WARNING and "unreachable" in r.getMessage() for r in caplog.records)


def test_the_limit_counts_and_answers_its_headers_in_one_redis_round_trip(app_config, world, rebind_limiter,
                                                                          monkeypatch):
    import time

    import redis

    from tests.conftest import TEST_BROKER_URL, IsolatedClient
    from tracker import create_app
    from tracker.extensions import db, limiter

    # Redis when the run has one (CI), else the memory storage: the same headers either way.
    storage = TEST_BROKER_URL if TEST_BROKER_URL and TEST_BROKER_URL.startswith("redis") else "memory://"
    sent = []
    execute = redis.Redis.execute_command
    monkeypatch.setattr(redis.Redis, "execute_command", lambda self, *a, **k: sent.append(a[0]) or execute(
        self, *a, **k))
    limited = create_app({**app_config, "RATELIMIT_STORAGE_URI": storage, "API_RATE_LIMIT": "3/minute"})
    client = IsolatedClient(limited, limited.response_class, use_cookies=True)
    secret = make_token(world, "requester")
    try:
        with limited.app_context():
            limiter.reset()
        sent.clear()
        answers = [client.get("/api/v1/centres", headers=bearer(secret)) for _ in range(4)]
    finally:
        with limited.app_context():
            db.engine.dispose()
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    # One window's end; Redis gives whole seconds left, so the instant may move by one.
    resets = sorted(int(a.headers["X-RateLimit-Reset"]) for a in answers)
    assert resets[-1] - resets[0] <= 1 and time.time() < resets[0] <= time.time() + 62
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 60
    if storage != "memory://":
        # One script a request: the count and the seconds left together (tracker.ratelimit.OneTripFixedWindow).
        # (The first call loads the script: EVALSHA, NOSCRIPT, SCRIPT LOAD, EVALSHA.)
        assert "GET" not in sent and "TTL" not in sent, sent
        assert len([c for c in sent if c != "SCRIPT LOAD"]) <= 4 + 1, sent
