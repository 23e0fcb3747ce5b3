"""Sign-on through the campus directory: CAS, OpenID Connect and LDAP (docs/logins.md).

Each is switched on by its settings (tracker.config.SIGNON_VARIABLES);
``configure`` checks them when the app starts and refuses a setting it
cannot use with a ConfigError that names it. Local passwords stay for
administrators and for campuses without sign-on.
"""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app

from tracker.config import SIGNON_VARIABLES, ConfigError
from tracker.domain.i18n import N_
from tracker.domain.signon import MappingError, RoleRule, parse_role_map
from tracker.errors import TrackerError

PROVIDERS = ("cas", "oidc", "ldap")


class SignonRefused(TrackerError):
    """The directory's answer or account cannot sign in; nothing was created or changed."""

    http_status = 403
    code = "signon_refused"


class ProviderUnavailable(TrackerError):
    """The campus sign-on did not answer, or answered with something that is not CAS/OpenID/LDAP."""

    http_status = 503
    code = "signon_unavailable"

    def __init__(self, detail: str = ""):
        super().__init__(
            N_(
                "The campus sign-on does not answer. Try again in a few minutes, "
                "or log in with a password if you have one."
            )
        )
        self.detail = detail


@dataclass(frozen=True)
class Settings:
    cas_url: str | None = None
    cas_version: int = 3
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scope: str = "openid profile email phone"
    ldap_url: str | None = None
    ldap_user_dn: str | None = None
    ldap_base: str | None = None
    ldap_filter: str = "(uid={username})"
    ldap_bind_dn: str | None = None
    ldap_bind_password: str | None = None
    ldap_group_base: str | None = None
    rules: tuple[RoleRule, ...] = ()
    # "requester": a user in no mapped group signs in as a requester; "refuse": they are refused.
    unmapped: str = "requester"
    label: str | None = None
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> tuple[str, ...]:
        return tuple(
            p for p, on in zip(PROVIDERS, (self.cas_url, self.oidc_issuer, self.ldap_url), strict=True) if on
        )


def settings() -> Settings:
    return current_app.extensions["signon"]


def configure(app: Flask) -> Settings:
    """Check the sign-on settings in ``app.config``; store and return them. Raises ConfigError."""
    config = app.config

    def value(key: str) -> str | None:
        text = config.get(key)
        return str(text).strip() or None if text is not None else None

    def variable(key: str) -> str:
        return SIGNON_VARIABLES[key]

    production = bool(config.get("TRACKER_PRODUCTION"))
    cas_url = _web_url(value("SIGNON_CAS_URL"), variable("SIGNON_CAS_URL"), production)
    version_text = value("SIGNON_CAS_VERSION") or "3"
    if version_text not in ("2", "3"):
        raise ConfigError(
            f"{variable('SIGNON_CAS_VERSION')}={version_text!r}: write 2 (/serviceValidate) "
            "or 3 (/p3/serviceValidate)."
        )
    issuer = _web_url(value("SIGNON_OIDC_ISSUER"), variable("SIGNON_OIDC_ISSUER"), production)
    client_id = value("SIGNON_OIDC_CLIENT_ID")
    if issuer and not client_id:
        raise ConfigError(
            f"{variable('SIGNON_OIDC_ISSUER')} is set but {variable('SIGNON_OIDC_CLIENT_ID')} "
            "is not: register the service desk with the OpenID provider and give its client id."
        )
    ldap_url = value("SIGNON_LDAP_URL")
    if ldap_url:
        parts = urlsplit(ldap_url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ConfigError(
                f"{variable('SIGNON_LDAP_URL')}={ldap_url!r} is not an LDAP address: write e.g. "
                "ldaps://ldap.campus.edu.cn or ldap://127.0.0.1:389."
            )
        user_dn, base = value("SIGNON_LDAP_USER_DN"), value("SIGNON_LDAP_BASE")
        if user_dn and "{username}" not in user_dn:
            raise ConfigError(
                f"{variable('SIGNON_LDAP_USER_DN')}={user_dn!r} must contain {{username}}, e.g. "
                "uid={username},ou=people,dc=campus,dc=edu,dc=cn."
            )
        if not user_dn and not base:
            raise ConfigError(
                f"{variable('SIGNON_LDAP_URL')} is set: also set {variable('SIGNON_LDAP_USER_DN')} "
                f"(bind as a DN built from the user name) or {variable('SIGNON_LDAP_BASE')} "
                "(search for the user first)."
            )
    ldap_filter = value("SIGNON_LDAP_FILTER") or "(uid={username})"
    if "{username}" not in ldap_filter:
        raise ConfigError(f"{variable('SIGNON_LDAP_FILTER')}={ldap_filter!r} must contain {{username}}.")
    try:
        rules = parse_role_map(value("SIGNON_ROLES"))
    except MappingError as error:
        raise ConfigError(f"{variable('SIGNON_ROLES')}: {error}") from None
    unmapped = (value("SIGNON_UNMAPPED") or "requester").lower()
    if unmapped not in ("requester", "refuse"):
        raise ConfigError(
            f"{variable('SIGNON_UNMAPPED')}={unmapped!r}: write requester (a user in no mapped "
            "group signs in as a requester) or refuse."
        )
    timeout_text = value("SIGNON_TIMEOUT_SECONDS") or "10"
    try:
        timeout = float(timeout_text)
        if not 0 < timeout <= 120:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"{variable('SIGNON_TIMEOUT_SECONDS')}={timeout_text!r}: write seconds, "
            "more than 0 and at most 120."
        ) from None
    result = Settings(
        cas_url=cas_url,
        cas_version=int(version_text),
        oidc_issuer=issuer,
        oidc_client_id=client_id,
        oidc_client_secret=value("SIGNON_OIDC_CLIENT_SECRET"),
        oidc_scope=value("SIGNON_OIDC_SCOPE") or "openid profile email phone",
        ldap_url=ldap_url,
        ldap_user_dn=value("SIGNON_LDAP_USER_DN"),
        ldap_base=value("SIGNON_LDAP_BASE"),
        ldap_filter=ldap_filter,
        ldap_bind_dn=value("SIGNON_LDAP_BIND_DN"),
        ldap_bind_password=value("SIGNON_LDAP_BIND_PASSWORD"),
        ldap_group_base=value("SIGNON_LDAP_GROUP_BASE"),
        rules=rules,
        unmapped=unmapped,
        label=value("SIGNON_LABEL"),
        timeout_seconds=timeout,
    )
    if result.oidc_issuer and "openid" not in result.oidc_scope.split():
        raise ConfigError(f"{variable('SIGNON_OIDC_SCOPE')}={result.oidc_scope!r} must contain openid.")
    app.extensions["signon"] = result
    if result.oidc_issuer:
        from tracker.services.signon import oidc

        oidc.register(app, result)
    return result


def _web_url(url: str | None, variable: str, production: bool) -> str | None:
    """Return ``url`` without its trailing slash; raise ConfigError when it is not a usable web address."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(
            f"{variable}={url!r} is not a web address: write e.g. https://cas.campus.edu.cn/cas "
            "(no query, no #)."
        )
    if production and parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{variable}={url!r}: in production the sign-on must be reached over https "
            "(tickets and codes would cross the network in the clear)."
        )
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
