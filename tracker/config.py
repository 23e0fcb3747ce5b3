"""Settings from the environment, read once.

Nothing else in the project reads ``os.environ``. With nothing set, the
embedded default runs on one machine with no server: SQLite and a kombu
filesystem broker under ``instance/``, and a secret key generated there once.
"""

import os
import secrets
from dataclasses import dataclass
from datetime import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or unusable; the message says which and what to do."""


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Environment:
    """The subset of the process environment this project uses."""

    values: dict

    @classmethod
    def current(cls) -> "Environment":
        return cls(dict(os.environ))

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.values.get(name)
        return value if value not in (None, "") else default


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Written once with owner-only permissions: sessions survive restarts.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def filesystem_broker_options(instance: Path) -> dict:
    """Return kombu filesystem transport options with folders under ``instance``."""
    queue = instance / "broker" / "queue"
    processed = instance / "broker" / "processed"
    # Broadcast exchanges (worker control); kombu's default is ./control.
    control = instance / "broker" / "control"
    for folder in (queue, processed, control):
        folder.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
        "control_folder": str(control),
        "store_processed": False,
        # kombu sleeps this long whenever the queue looks empty *or* the
        # worker holds its prefetch limit (acks_late, multiplier 1): with the
        # default 1 s a worker took about two tasks a second, no more than a
        # busy beat sends, and beat's tasks expired waiting in the folder.
        "polling_interval": 0.1,
    }


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _weekly_schedule(env: Environment) -> tuple[int | None, time]:
    """Return the weekly report's weekday (0 = Monday, None = off) and local time.

    Raises ConfigError for a day or time it cannot read.
    """
    day = (env.get("TRACKER_WEEKLY_REPORT_DAY", "mon") or "").strip().lower()
    if day in ("off", "none", "never"):
        weekday = None
    elif day in WEEKDAYS or day in _WEEKDAY_NAMES:
        weekday = WEEKDAYS.index(day[:3])
    else:
        raise ConfigError(
            f"TRACKER_WEEKLY_REPORT_DAY={day!r} is not a weekday: write mon, tue, wed, thu, fri, sat, sun, "
            "or off for no scheduled report."
        )
    text = (env.get("TRACKER_WEEKLY_REPORT_TIME", "08:00") or "").strip()
    try:
        hours, minutes = (int(part) for part in text.split(":"))
        at = time(hours, minutes)
    except ValueError:
        raise ConfigError(
            f"TRACKER_WEEKLY_REPORT_TIME={text!r} is not a time of day: write HH:MM in the campus time zone, "
            "e.g. 08:00."
        ) from None
    return weekday, at


def load(env: Environment | None = None) -> dict:
    """Return the Flask config mapping built from the environment.

    Raises ConfigError in production mode when a required value is missing
    or the database is SQLite.
    """
    env = env or Environment.current()
    instance = Path(env.get("TRACKER_INSTANCE_PATH", str(DEFAULT_INSTANCE))).resolve()
    database_url = env.get("DATABASE_URL")
    broker_url = env.get("CELERY_BROKER_URL")
    tracker_env = (env.get("TRACKER_ENV") or "").lower()
    # A server database means a real deployment unless explicitly development.
    is_production = tracker_env == "production" or (
        tracker_env != "development"
        and database_url is not None
        and not database_url.startswith("sqlite")
    )

    if is_production:
        missing = [
            name
            for name, value in (
                ("SECRET_KEY", env.get("SECRET_KEY")),
                ("DATABASE_URL", database_url),
                ("CELERY_BROKER_URL", broker_url),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "Production mode needs these environment variables: "
                + ", ".join(missing)
                + ". Set them (see README.md, 'Production'), or unset "
                "DATABASE_URL/TRACKER_ENV to run the embedded default."
            )
        if database_url.startswith("sqlite"):
            raise ConfigError(
                "Production mode refuses SQLite: set DATABASE_URL to a "
                "PostgreSQL URL such as postgresql+psycopg://user@host/dbname."
            )

    if database_url and database_url.startswith("postgresql://"):
        # psycopg 3 is the driver; plain postgresql:// would ask for psycopg2.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://"):]

    weekly_weekday, weekly_time = _weekly_schedule(env)

    instance.mkdir(parents=True, exist_ok=True)
    config = {
        "TRACKER_PRODUCTION": is_production,
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": env.get("SECRET_KEY") or _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{instance / 'tracker.db'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "CELERY_BROKER_URL": broker_url or "filesystem://",
        "CELERY_BROKER_TRANSPORT_OPTIONS": (
            {} if broker_url else filesystem_broker_options(instance)
        ),
        "CELERY_BEAT_SCHEDULE_FILE": str(instance / "celerybeat-schedule"),
        "TRACKER_TIMEZONE": env.get("TRACKER_TIMEZONE", "Asia/Shanghai"),
        "BABEL_DEFAULT_LOCALE": env.get("TRACKER_DEFAULT_LOCALE", "zh_CN"),
        "BABEL_DEFAULT_TIMEZONE": env.get("TRACKER_TIMEZONE", "Asia/Shanghai"),
        "TRACKER_BASE_URL": env.get("TRACKER_BASE_URL", "http://127.0.0.1:8000"),
        "DEMO_PASSWORD": env.get("TRACKER_DEMO_PASSWORD"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": is_production and not _truthy(env.get("TRACKER_INSECURE_COOKIES")),
        "REMEMBER_COOKIE_SECURE": is_production and not _truthy(env.get("TRACKER_INSECURE_COOKIES")),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "PAGE_SIZE": 50,
        # Workers: how often beat sweeps SLA clocks and the outbox.
        "SLA_SWEEP_SECONDS": float(env.get("TRACKER_SLA_SWEEP_SECONDS", "2")),
        "OUTBOX_SWEEP_SECONDS": float(env.get("TRACKER_OUTBOX_SWEEP_SECONDS", "15")),
        "SLA_SWEEP_BATCH": int(env.get("TRACKER_SLA_SWEEP_BATCH", "2000")),
        # Replays whose worker died: checked this often; stalled when their
        # heartbeat is older than this (services/sla/standards/saved.py).
        "REPLAY_RECLAIM_SECONDS": float(env.get("TRACKER_REPLAY_RECLAIM_SECONDS", "60")),
        "REPLAY_STALLED_SECONDS": float(env.get("TRACKER_REPLAY_STALLED_SECONDS", "600")),
        # The level of beat's and the worker's "sent/received/succeeded" lines
        # of the periodic tasks (workers/logs.py); each task logs its changes at INFO.
        "ROUTINE_TASK_LOG_LEVEL": env.get("TRACKER_ROUTINE_TASK_LOG_LEVEL", "DEBUG").upper(),
        "STATS_REFRESH_SECONDS": float(env.get("TRACKER_STATS_REFRESH_SECONDS", "20")),
        # The "now" counts (backlog, late, at risk, escalations) the dashboards and the wall display read:
        # counted by beat this often; older than the max age (worker or beat down), pages count live.
        "NOW_COUNTS_SECONDS": float(env.get("TRACKER_NOW_COUNTS_SECONDS", "60")),
        "NOW_COUNTS_MAX_AGE_SECONDS": float(env.get("TRACKER_NOW_COUNTS_MAX_AGE_SECONDS", "180")),
        # The weekly report: made for the last full week at this weekday (0 =
        # Monday; None: never by itself) and local time, checked this often.
        "WEEKLY_REPORT_WEEKDAY": weekly_weekday,
        "WEEKLY_REPORT_TIME": weekly_time,
        "WEEKLY_REPORT_CHECK_SECONDS": float(env.get("TRACKER_WEEKLY_REPORT_CHECK_SECONDS", "60")),
        "OUTBOX_MAX_ATTEMPTS": int(env.get("TRACKER_OUTBOX_MAX_ATTEMPTS", "8")),
        # The wait after a notice's first failed attempt; it doubles per attempt (at most 6 h).
        "OUTBOX_BACKOFF_SECONDS": float(env.get("TRACKER_OUTBOX_BACKOFF_SECONDS", "30")),
        # How long a worker's claim on a notice lasts; renewed just before each send.
        "OUTBOX_CLAIM_SECONDS": float(env.get("TRACKER_OUTBOX_CLAIM_SECONDS", "120")),
        # E-mail: SMTP when MAIL_SERVER is set, else written as .eml files
        # under instance/mail/ (the embedded default has no mail server).
        "MAIL_SERVER": env.get("MAIL_SERVER"),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _truthy(env.get("MAIL_USE_TLS")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME"),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD"),
        "MAIL_FROM": env.get("MAIL_FROM", "service-desk@localhost"),
        "MAIL_FOLDER": str(instance / "mail"),
        "WEBHOOK_TIMEOUT_SECONDS": float(env.get("TRACKER_WEBHOOK_TIMEOUT", "5")),
        # Webhooks to loopback, private, link-local ... addresses are refused
        # (when saved and when sent) unless this is set: a robot on the LAN.
        "WEBHOOK_ALLOW_PRIVATE": _truthy(env.get("TRACKER_WEBHOOK_ALLOW_PRIVATE")),
        # werkzeug's default; tests use a cheap method to stay fast.
        "PASSWORD_HASH_METHOD": "scrypt",
    }
    config.update(_attachment_settings(env, instance))
    config.update(_rectification_settings(env))
    config.update(_feedback_settings(env))
    config.update(_api_settings(env, broker_url))
    config.update(_login_settings(env))
    config.update(_display_settings(env))
    config.update(_survey_settings(env))
    config.update(_operations_settings(env, instance, is_production))
    config.update(_signon_settings(env))
    return config


# Sign-on (docs/logins.md): the environment variable of each setting. They
# are checked when the app starts (tracker.services.signon.configure), also
# when a test passes them as overrides.
SIGNON_VARIABLES = {
    "SIGNON_CAS_URL": "TRACKER_CAS_URL",
    "SIGNON_CAS_VERSION": "TRACKER_CAS_VERSION",
    "SIGNON_OIDC_ISSUER": "TRACKER_OIDC_ISSUER",
    "SIGNON_OIDC_CLIENT_ID": "TRACKER_OIDC_CLIENT_ID",
    "SIGNON_OIDC_CLIENT_SECRET": "TRACKER_OIDC_CLIENT_SECRET",
    "SIGNON_OIDC_SCOPE": "TRACKER_OIDC_SCOPE",
    "SIGNON_LDAP_URL": "TRACKER_LDAP_URL",
    "SIGNON_LDAP_USER_DN": "TRACKER_LDAP_USER_DN",
    "SIGNON_LDAP_BASE": "TRACKER_LDAP_BASE",
    "SIGNON_LDAP_FILTER": "TRACKER_LDAP_FILTER",
    "SIGNON_LDAP_BIND_DN": "TRACKER_LDAP_BIND_DN",
    "SIGNON_LDAP_BIND_PASSWORD": "TRACKER_LDAP_BIND_PASSWORD",
    "SIGNON_LDAP_GROUP_BASE": "TRACKER_LDAP_GROUP_BASE",
    "SIGNON_ROLES": "TRACKER_SIGNON_ROLES",
    "SIGNON_UNMAPPED": "TRACKER_SIGNON_UNMAPPED",
    "SIGNON_LABEL": "TRACKER_SIGNON_LABEL",
    "SIGNON_TIMEOUT_SECONDS": "TRACKER_SIGNON_TIMEOUT_SECONDS",
}


def _signon_settings(env: Environment) -> dict:
    """Return the sign-on settings as written; none set: local passwords only."""
    return {key: env.get(variable) for key, variable in SIGNON_VARIABLES.items()}


def metrics_directory(env: Environment | None = None) -> Path:
    """Return the folder where every process of this machine writes its metrics.

    PROMETHEUS_MULTIPROC_DIR as prometheus_client names it, else metrics/
    under the instance folder. gunicorn's hooks (gunicorn.conf.py) read it
    before any app exists.
    """
    env = env or Environment.current()
    instance = Path(env.get("TRACKER_INSTANCE_PATH", str(DEFAULT_INSTANCE))).resolve()
    return Path(env.get("PROMETHEUS_MULTIPROC_DIR", str(instance / "metrics"))).resolve()


def _operations_settings(env: Environment, instance: Path, is_production: bool) -> dict:
    """Return who may read /metrics, where the processes write them, and the log format.

    TRACKER_METRICS_ALLOW is a comma-separated list of addresses or CIDR
    networks. With neither it nor TRACKER_METRICS_TOKEN set, /metrics
    refuses everyone. Raises ConfigError for an address it cannot read or a
    log format other than json or text.
    """
    import ipaddress

    allowed = []
    for item in (env.get("TRACKER_METRICS_ALLOW", "") or "").split(","):
        if not item.strip():
            continue
        try:
            allowed.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigError(
                f"TRACKER_METRICS_ALLOW: {item.strip()!r} is not an address or network: write e.g. "
                "10.0.0.0/8,127.0.0.1."
            ) from None
    log_format = (env.get("TRACKER_LOG_FORMAT") or ("json" if is_production else "text")).strip().lower()
    if log_format not in ("json", "text"):
        raise ConfigError(f"TRACKER_LOG_FORMAT={log_format!r}: write json or text.")
    return {
        "METRICS_TOKEN": env.get("TRACKER_METRICS_TOKEN"),
        "METRICS_ALLOW": tuple(allowed),
        "METRICS_DIR": str(metrics_directory(env)),
        # One JSON object a line in production, plain text on the embedded default.
        "LOG_FORMAT": log_format,
    }


def _attachment_settings(env: Environment, instance: Path) -> dict:
    """Return where attachments are stored and how large and many they may be.

    The request limit (MAX_CONTENT_LENGTH) is one file plus room for the
    form around it: a larger body is refused with 413 before it is read.
    """
    max_bytes = int(env.get("TRACKER_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
    return {
        "ATTACHMENTS_DIR": str(Path(env.get("TRACKER_ATTACHMENTS_DIR", str(instance / "attachments"))).resolve()),
        "ATTACHMENT_MAX_BYTES": max_bytes,
        "ATTACHMENTS_PER_OWNER_MAX": int(env.get("TRACKER_ATTACHMENTS_PER_OWNER_MAX", "20")),
        # Declared in the header, checked before decoding: 8192 x 6144, the largest 50 MP phone frame.
        "ATTACHMENT_MAX_PIXELS": int(env.get("TRACKER_ATTACHMENT_MAX_PIXELS", str(8192 * 6144))),
        # Decoded: 6144 x 4096, an iPhone's 24 MP HEIC (5712 x 4284) passes; 3 to 4 bytes a pixel.
        # A larger JPEG is decoded at 1/2, 1/4 or 1/8 size; a larger PNG, WebP or HEIC is refused.
        "ATTACHMENT_DECODE_PIXELS": int(env.get("TRACKER_ATTACHMENT_DECODE_PIXELS", str(6144 * 4096))),
        # Per web process. At most QUEUE more wait, WAIT_SECONDS each, then "try again": keep
        # AT_ONCE + QUEUE below gunicorn's --threads (4), so a thread is left for everyone else.
        "ATTACHMENT_DECODES_AT_ONCE": int(env.get("TRACKER_ATTACHMENT_DECODES_AT_ONCE", "1")),
        "ATTACHMENT_DECODE_QUEUE": int(env.get("TRACKER_ATTACHMENT_DECODE_QUEUE", "2")),
        "ATTACHMENT_DECODE_WAIT_SECONDS": float(env.get("TRACKER_ATTACHMENT_DECODE_WAIT_SECONDS", "30")),
        "MAX_CONTENT_LENGTH": max_bytes + 1024 * 1024,
    }


def _rectification_settings(env: Environment) -> dict:
    """Return when rectification items count as at risk, how often they are swept, and what a hotspot is.

    TRACKER_RECTIFICATION_AT_RISK is a share of the time from creation to
    the deadline ("75%") or a number of days before the deadline ("14d").
    Raises ConfigError for a value it cannot read.
    """
    text = (env.get("TRACKER_RECTIFICATION_AT_RISK", "75%") or "").strip().lower()
    share = days = None
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
            valid = 0 < share < 1
        elif text.endswith("d"):
            days = int(text[:-1])
            valid = days > 0
        else:
            valid = False
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(
            f"TRACKER_RECTIFICATION_AT_RISK={text!r} is neither a share of the time to the deadline (e.g. 75%) "
            "nor a number of days before it (e.g. 14d)."
        )
    settings = {
        "RECTIFICATION_AT_RISK_SHARE": share,
        "RECTIFICATION_AT_RISK_DAYS": days,
        "RECTIFICATION_SWEEP_SECONDS": float(env.get("TRACKER_RECTIFICATION_SWEEP_SECONDS", "30")),
        # Repeat faults: this many requests of one category at one place within the window.
        "HOTSPOT_WINDOW_DAYS": int(env.get("TRACKER_HOTSPOT_WINDOW_DAYS", "30")),
        "HOTSPOT_MIN_TICKETS": int(env.get("TRACKER_HOTSPOT_MIN_TICKETS", "3")),
    }
    if settings["HOTSPOT_WINDOW_DAYS"] < 1 or settings["HOTSPOT_MIN_TICKETS"] < 2:
        raise ConfigError(
            "TRACKER_HOTSPOT_WINDOW_DAYS must be at least 1 and TRACKER_HOTSPOT_MIN_TICKETS at least 2."
        )
    return settings


def _feedback_settings(env: Environment) -> dict:
    """Return how requesters' ratings, follow-ups and automatic closure behave.

    Raises ConfigError for a value that is not a whole number in range.
    """
    names = {
        # A rating can be changed this long after it was first given.
        "FEEDBACK_EDIT_MINUTES": ("TRACKER_FEEDBACK_EDIT_MINUTES", "60", 0),
        # The signed rating link in the "resolved" e-mail works this long.
        "FEEDBACK_LINK_DAYS": ("TRACKER_FEEDBACK_LINK_DAYS", "14", 1),
        # Closed requests drawn per centre each week for a follow-up call; 0: none.
        "FOLLOW_UP_SAMPLE_PER_CENTRE": ("TRACKER_FOLLOW_UP_SAMPLE_PER_CENTRE", "5", 0),
        # A follow-up is due at the close of this many working days after it opens.
        "FOLLOW_UP_DUE_WORKING_DAYS": ("TRACKER_FOLLOW_UP_DUE_WORKING_DAYS", "3", 1),
        # Resolved requests whose policy has no confirmation target close after this many days.
        "AUTO_CLOSE_DAYS": ("TRACKER_AUTO_CLOSE_DAYS", "7", 1),
        # The fixed wait above is looked for at most this often per worker process (0: every sweep).
        "AUTO_CLOSE_SCAN_SECONDS": ("TRACKER_AUTO_CLOSE_SCAN_SECONDS", "60", 0),
        # Scorecards: a reopen or a new request at the same place and category this many
        # days after a resolution makes it rework (docs/scorecards.md).
        "SCORECARD_REWORK_DAYS": ("TRACKER_SCORECARD_REWORK_DAYS", "7", 1),
    }
    settings = {}
    for key, (variable, default, minimum) in names.items():
        text = (env.get(variable, default) or "").strip()
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise ConfigError(f"{variable}={text!r} is not a whole number of at least {minimum}.")
        settings[key] = value
    # The working days of follow-ups are counted on this business calendar (its code).
    settings["FOLLOW_UP_CALENDAR"] = env.get("TRACKER_FOLLOW_UP_CALENDAR", "office")
    settings["FOLLOW_UP_SAMPLE_CHECK_SECONDS"] = float(env.get("TRACKER_FOLLOW_UP_SAMPLE_CHECK_SECONDS", "300"))
    return settings


def _api_settings(env: Environment, broker_url: str | None) -> dict:
    """Return the JSON API's body limit and the rate limits of the API and the login form.

    A limit is written as Flask-Limiter reads it ("120/minute", "10 per
    minute;100 per hour"); "off" switches it off. Counters live in memory on
    the embedded default (per web process) and in Redis in production: the
    broker's unless RATELIMIT_STORAGE_URI names another.
    """
    storage = env.get("RATELIMIT_STORAGE_URI")
    if storage is None:
        storage = broker_url if broker_url and broker_url.startswith(("redis://", "rediss://")) else "memory://"
    return {
        "API_RATE_LIMIT": env.get("TRACKER_API_RATE_LIMIT", "120/minute"),
        "RATELIMIT_STORAGE_URI": storage,
        # Give up on an unreachable Redis within a second: the limiter then
        # counts in memory (tracker.extensions) instead of holding the request.
        "RATELIMIT_STORAGE_OPTIONS": (
            {"socket_connect_timeout": 1, "socket_timeout": 1} if storage.startswith(("redis", "rediss")) else {}
        ),
        "API_MAX_BODY_BYTES": int(env.get("TRACKER_API_MAX_BODY_BYTES", str(64 * 1024))),
        # Personal access tokens record their last use at most this often (a write per request is too many).
        "API_TOKEN_TOUCH_SECONDS": float(env.get("TRACKER_API_TOKEN_TOUCH_SECONDS", "60")),
    }


def _display_settings(env: Environment) -> dict:
    """Return the wall display's refresh interval (seconds) and its links' rate limit.

    A screen polls its figures every TRACKER_DISPLAY_REFRESH_SECONDS (at least
    1, at most 60: the issue asks for a refresh at least every minute).
    TRACKER_DISPLAY_RATE_LIMIT counts per client address and link, as
    Flask-Limiter reads it; "off" switches it off. A web process counts a
    scope's figures at most every TRACKER_DISPLAY_CACHE_SECONDS (0: every
    request), shared by the screens that show it.
    """
    text = env.get("TRACKER_DISPLAY_REFRESH_SECONDS", "30")
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 1 <= seconds <= 60:
        raise ConfigError(f"TRACKER_DISPLAY_REFRESH_SECONDS={text!r} is not a number of seconds from 1 to 60.")
    text = env.get("TRACKER_DISPLAY_CACHE_SECONDS", "10")
    try:
        cache = float(text)
    except ValueError:
        cache = -1.0
    if not 0 <= cache <= 60:
        raise ConfigError(f"TRACKER_DISPLAY_CACHE_SECONDS={text!r} is not a number of seconds from 0 to 60.")
    return {
        "DISPLAY_REFRESH_SECONDS": seconds,
        "DISPLAY_CACHE_SECONDS": cache,
        "DISPLAY_RATE_LIMIT": env.get("TRACKER_DISPLAY_RATE_LIMIT", "30/minute"),
    }


def _login_settings(env: Environment) -> dict:
    """Return the login throttle's settings (tracker.services.admin.logins) and how many proxies to trust.

    TRACKER_LOGIN_ADDRESS_LIMIT and TRACKER_LOGIN_DEVICE_LIMIT are written as
    Flask-Limiter reads a limit ("20/10 minutes"); "off" switches the address
    limit off. A back-off of 0 seconds switches the per-user-name one off.
    Raises ConfigError for a value it cannot read.
    """
    from limits import parse_many

    settings = {}
    for key, variable, default in (
        # Failed logins from one client address, across all user names (password spraying).
        ("LOGIN_ADDRESS_LIMIT", "TRACKER_LOGIN_ADDRESS_LIMIT", "20/10 minutes"),
        # Failed logins a known device may make for its user before it counts as unknown.
        ("LOGIN_DEVICE_LIMIT", "TRACKER_LOGIN_DEVICE_LIMIT", "10/hour"),
    ):
        text = (env.get(variable, default) or "").strip()
        is_off = key == "LOGIN_ADDRESS_LIMIT" and text.lower() in ("off", "none")
        try:
            if not is_off:
                parse_many(text)
        except ValueError:
            raise ConfigError(f"{variable}={text!r} is not a limit: write e.g. {default!r}.") from None
        settings[key] = text
    for key, variable, default in (
        # Failed logins of one user name (from unknown devices) before the back-off starts.
        ("LOGIN_USER_FREE_FAILURES", "TRACKER_LOGIN_USER_FREE_FAILURES", "5"),
        # The first wait; it doubles with each further failure, up to the maximum. 0: no back-off.
        ("LOGIN_USER_BACKOFF_SECONDS", "TRACKER_LOGIN_USER_BACKOFF_SECONDS", "30"),
        ("LOGIN_USER_BACKOFF_MAX_SECONDS", "TRACKER_LOGIN_USER_BACKOFF_MAX_SECONDS", "900"),
        # Reverse proxies in front of the app whose X-Forwarded-For and -Proto
        # are believed (README, Production); 0: the peer's address is the client's.
        ("TRUSTED_PROXIES", "TRACKER_TRUSTED_PROXIES", "0"),
    ):
        text = (env.get(variable, default) or "").strip()
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value < 0:
            raise ConfigError(f"{variable}={text!r} is not a whole number of at least 0.")
        settings[key] = value
    return settings


def _survey_settings(env: Environment) -> dict:
    """Return where uploaded survey files are kept, how large they may be, and which run in the request."""
    return {
        # None: the folder survey-uploads/ of INSTANCE_PATH.
        "SURVEY_UPLOAD_DIR": env.get("TRACKER_SURVEY_UPLOAD_DIR"),
        "SURVEY_MAX_BYTES": int(env.get("TRACKER_SURVEY_MAX_BYTES", str(50 * 1024 * 1024))),
        # Files up to this size are checked and imported during the request; larger ones by a worker.
        "SURVEY_INLINE_MAX_BYTES": int(env.get("TRACKER_SURVEY_INLINE_MAX_BYTES", str(256 * 1024))),
    }
