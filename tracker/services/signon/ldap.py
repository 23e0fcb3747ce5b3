"""LDAP: check a user name and password by binding as the user, then read the entry and its groups."""

import socket
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from tracker.domain.signon import Profile, build_profile
from tracker.services.signon import ProviderUnavailable, Settings

USERNAME_MAX = 64


def authenticate(settings: Settings, username: str, password: str) -> Profile | None:
    """Return the directory profile when the password binds as ``username``; None when it does not.

    Raises ProviderUnavailable when the directory does not answer. An empty
    password is refused here: LDAP takes it as an anonymous bind and would
    "succeed".
    """
    username = (username or "").strip()
    if not username or not password or len(username) > USERNAME_MAX:
        return None
    reachable(settings.ldap_url, _seconds(settings))
    server = ldap3.Server(settings.ldap_url, connect_timeout=_seconds(settings), get_info=ldap3.NONE)
    try:
        dn = _user_dn(server, settings, username)
        if dn is None:
            return None
        conn = ldap3.Connection(
            server,
            user=dn,
            password=password,
            receive_timeout=_seconds(settings),
            raise_exceptions=False,
            auto_bind=ldap3.AUTO_BIND_NONE,
        )
        try:
            if not conn.bind():
                return None
            conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=[ldap3.ALL_ATTRIBUTES])
            if not conn.entries:
                return None
            attributes = {
                k: v
                for k, v in conn.entries[0].entry_attributes_as_dict.items()
                if k.lower() != "userpassword"
            }
            if settings.ldap_group_base:
                member = escape_filter_chars(dn)
                conn.search(
                    settings.ldap_group_base,
                    f"(|(member={member})(uniqueMember={member})(memberUid={escape_filter_chars(username)}))",
                    attributes=["cn"],
                )
                attributes["groups"] = [str(e.cn.value) for e in conn.entries if e.cn.value]
        finally:
            conn.unbind()  # also after a refused bind: the socket stays open until then
    except ldap_errors.LDAPException as error:
        raise ProviderUnavailable(type(error).__name__) from None
    # The directory's spelling of the name (uid), not the one typed.
    uid = attributes.get("uid") or [username]
    return build_profile(str(uid[0]), attributes)


def reachable(url: str, timeout: int) -> None:
    """Raise ProviderUnavailable unless the directory's port takes a connection.

    Asked before ldap3 connects: ldap3 leaves its socket open when the
    connection is refused.
    """
    parts = urlsplit(url)
    port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as error:
        raise ProviderUnavailable(type(error).__name__) from None


def _user_dn(server, settings: Settings, username: str) -> str | None:
    if settings.ldap_user_dn:
        return settings.ldap_user_dn.format(username=escape_rdn(username))
    conn = ldap3.Connection(
        server,
        user=settings.ldap_bind_dn,
        password=settings.ldap_bind_password,
        receive_timeout=_seconds(settings),
        raise_exceptions=False,
    )
    try:
        if not conn.bind():
            raise ProviderUnavailable("the search account cannot bind")
        conn.search(
            settings.ldap_base,
            settings.ldap_filter.format(username=escape_filter_chars(username)),
            attributes=[],
        )
        return conn.entries[0].entry_dn if len(conn.entries) == 1 else None
    finally:
        conn.unbind()


def _seconds(settings: Settings) -> int:
    # Whole seconds: ldap3 packs the timeouts into socket options as integers.
    return max(1, round(settings.timeout_seconds))
