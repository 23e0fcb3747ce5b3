"""The login throttle: per user name with back-off, per client address, known devices, shared by processes."""

import json
import multiprocessing
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import IsolatedClient, post_form
from tests.factories import T0
from tracker.extensions import db
from tracker.models import LoginFailure
from tracker.services.admin import logins


@pytest.fixture
def throttle(app, monkeypatch):
    """Switch the throttle on (off in the other tests): 20 failures per address in 10 minutes, back-off after 5."""

    def set_throttle(address="20/10 minutes", free=5, backoff=30, most=900, device="10/hour"):
        for key, value in (("LOGIN_ADDRESS_LIMIT", address), ("LOGIN_USER_FREE_FAILURES", free),
                           ("LOGIN_USER_BACKOFF_SECONDS", backoff), ("LOGIN_USER_BACKOFF_MAX_SECONDS", most),
                           ("LOGIN_DEVICE_LIMIT", device)):
            monkeypatch.setitem(app.config, key, value)

    set_throttle()
    return set_throttle


def _browser(app, address="192.0.2.10") -> IsolatedClient:
    browser = IsolatedClient(app, app.response_class, use_cookies=True)
    browser.environ_base["REMOTE_ADDR"] = address
    return browser


def _try(browser, username, password):
    return post_form(browser, "/login", {"username": username, "password": password})


def test_forty_user_names_from_one_address_are_limited(app, world, throttle):
    sprayer = _browser(app)
    answers = [_try(sprayer, f"student{n:02d}", "Spring2026!").status_code for n in range(40)]
    assert answers == [200] * 20 + [429] * 20
    # The address waits, whatever name it tries, even a right password (from a device never used).
    refused = _try(sprayer, "requester", world.password)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 600
    assert "Too many failed attempts" in refused.get_data(as_text=True)
    # Another address is not concerned.
    assert _try(_browser(app, "192.0.2.11"), "requester", world.password).status_code == 302


def test_a_strangers_failures_do_not_block_the_user_on_a_known_device(app, world, throttle):
    user = world.users["requester"]
    phone = _browser(app, "198.51.100.7")
    assert _try(phone, user.username, world.password).status_code == 302
    post_form(phone, "/logout")
    stranger = _browser(app, "203.0.113.9")

    answers = [_try(stranger, user.username, f"guess-{n}").status_code for n in range(8)]

    assert answers[:5] == [200] * 5 and set(answers[5:]) == {429}
    # A new device waits too, even with the right password ...
    assert _try(_browser(app, "198.51.100.8"), user.username, world.password).status_code == 429
    # ... but the phone the user logged in on before is let through.
    assert _try(phone, user.username, world.password).status_code == 302


def test_the_known_device_cookie_belongs_to_its_user_and_cannot_be_forged(app, world, throttle):
    user, other = world.users["requester"], world.users["leadership"]
    browser = _browser(app)
    assert _try(browser, other.username, world.password).status_code == 302
    post_form(browser, "/logout")
    for n in range(6):
        _try(_browser(app, f"203.0.113.{n}"), user.username, "wrong")
    # The cookie vouches for the other user only.
    assert _try(browser, user.username, world.password).status_code == 429
    forged = _browser(app)
    forged.set_cookie("desk_device", json.dumps([[user.id, "x"]]), path="/login")
    assert _try(forged, user.username, world.password).status_code == 429


def test_a_known_device_that_fails_too_often_counts_as_unknown(app, world, throttle):
    throttle(device="3/hour")
    user = world.users["requester"]
    phone = _browser(app)
    assert _try(phone, user.username, world.password).status_code == 302
    post_form(phone, "/logout")
    for n in range(6):
        _try(_browser(app, f"203.0.113.{n}"), user.username, "wrong")
    assert [_try(phone, user.username, "wrong").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_wait_doubles_with_each_failure_up_to_the_maximum(app, world, throttle):
    throttle(address="off", free=3, backoff=30, most=100)
    name, t = world.users["requester"].username, T0

    def attempt(at, password="wrong"):
        try:
            return logins.log_in(name, password, address="192.0.2.1", now=at)
        except logins.LoginThrottled as refused:
            return refused.retry_after

    assert [attempt(t) for _ in range(3)] == [None] * 3  # free
    assert attempt(t) == 30
    assert attempt(t + timedelta(seconds=30)) is None  # failure 4, 30 s later
    assert attempt(t + timedelta(seconds=31)) == 59  # waits 60 s from failure 4
    assert attempt(t + timedelta(seconds=90)) is None  # failure 5
    assert attempt(t + timedelta(seconds=91)) == 99  # 120 s, capped at 100
    assert attempt(t + timedelta(seconds=190), world.password).username == name
    # A day later the failures are forgotten, and the next failure deletes them.
    assert attempt(t + timedelta(days=1, seconds=190)) is None
    assert db.session.execute(select(func.count(LoginFailure.id))).scalar_one() == 1


def test_a_refused_attempt_checks_no_password_and_records_nothing(app, world, throttle):
    throttle(address="off", free=1)
    name = world.users["requester"].username
    assert logins.log_in(name, "wrong", address="192.0.2.1", now=T0) is None
    with pytest.raises(logins.LoginThrottled):
        logins.log_in(name, world.password, address="192.0.2.1", now=T0)
    assert db.session.execute(select(func.count(LoginFailure.id))).scalar_one() == 1


def _fail_in_another_process(app, attempts: int) -> list[int]:
    """Fail ``attempts`` logins as "requester" from a forked web process; return its answers."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run():
        with app.app_context():
            # The parent's pooled connections stay the parent's (SQLAlchemy's advice for fork).
            db.engine.dispose(close=False)
            other = _browser(app, "203.0.113.50")
            sender.send([_try(other, "requester", f"guess-{n}").status_code for n in range(attempts)])

    db.session.rollback()  # SQLite: the other process needs the write lock
    process = context.Process(target=run)
    process.start()
    try:
        assert receiver.poll(30), "the other process did not answer"
        return receiver.recv()
    finally:
        process.join(10)


def test_failures_in_another_process_count_here(app, world, throttle):
    assert _fail_in_another_process(app, 5) == [200] * 5

    # This process saw none of those attempts, and still makes the user name wait.
    assert _try(_browser(app, "192.0.2.99"), "requester", world.password).status_code == 429


@pytest.mark.parametrize("variable, value", [
    ("TRACKER_LOGIN_ADDRESS_LIMIT", "lots"),
    ("TRACKER_LOGIN_DEVICE_LIMIT", "off"),
    ("TRACKER_LOGIN_USER_FREE_FAILURES", "-1"),
    ("TRACKER_LOGIN_USER_BACKOFF_SECONDS", "half a minute"),
])
def test_a_throttle_setting_it_cannot_read_stops_the_start(tmp_path, variable, value):
    from tracker.config import ConfigError, Environment, load

    with pytest.raises(ConfigError, match=variable):
        load(Environment({variable: value, "TRACKER_INSTANCE_PATH": str(tmp_path)}))
    assert load(Environment({"TRACKER_LOGIN_ADDRESS_LIMIT": "off",
                             "TRACKER_INSTANCE_PATH": str(tmp_path)}))["LOGIN_ADDRESS_LIMIT"] == "off"


def test_x_forwarded_for_is_believed_only_from_trusted_proxies(app, app_config, world, throttle):
    from tracker import create_app

    def spray(browser, clients):
        return [post_form(browser, "/login", {"username": f"student{n:02d}", "password": "Spring2026!"},
                          headers={"X-Forwarded-For": client}).status_code for n, client in enumerate(clients)]

    # No proxy trusted (the default): a made-up header does not make a new client.
    assert spray(_browser(app, "192.0.2.10"), [f"198.51.100.{n}" for n in range(21)])[-1] == 429

    behind = create_app({**app_config, "TRUSTED_PROXIES": 1, "LOGIN_ADDRESS_LIMIT": "20/10 minutes"})
    try:
        nginx = _browser(behind, "10.0.0.2")  # every request comes from the proxy
        # Each client as the proxy reports it is counted apart ...
        assert spray(nginx, [f"203.0.113.{n}" for n in range(21)]) == [200] * 21
        # ... and one client is limited, also when it sends its own header first (the proxy appends the peer).
        assert spray(nginx, ["192.0.2.77"] * 20) == [200] * 20
        assert spray(nginx, ["10.9.9.9, 192.0.2.77"]) == [429]
        assert spray(nginx, ["192.0.2.78"]) == [200]
    finally:
        with behind.app_context():
            db.engine.dispose()


def test_trusted_proxies_is_a_count(tmp_path):
    from tracker.config import ConfigError, Environment, load

    assert load(Environment({"TRACKER_INSTANCE_PATH": str(tmp_path)}))["TRUSTED_PROXIES"] == 0
    assert load(Environment({"TRACKER_TRUSTED_PROXIES": "2", "TRACKER_INSTANCE_PATH": str(tmp_path)}))[
        "TRUSTED_PROXIES"] == 2
    with pytest.raises(ConfigError, match="TRACKER_TRUSTED_PROXIES"):
        load(Environment({"TRACKER_TRUSTED_PROXIES": "nginx", "TRACKER_INSTANCE_PATH": str(tmp_path)}))


def test_an_unknown_user_name_costs_a_password_check_like_a_known_one(app, world, monkeypatch):
    """No user names learnt from how fast a wrong login answers: every failure checks a password hash."""
    checked = []
    real = logins.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash.split("$", 1)[0])
        return real(pwhash, password)

    monkeypatch.setattr(logins, "check_password_hash", counting)
    browser = _browser(app)
    assert _try(browser, "nobody-here", "Spring2026!").status_code == 200
    assert _try(browser, "no-one-either", "Spring2026!").status_code == 200
    # Hashed with the configured method, as the users' own passwords are.
    assert checked == [app.config["PASSWORD_HASH_METHOD"]] * 2
