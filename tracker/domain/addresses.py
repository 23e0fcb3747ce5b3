"""Which network addresses a webhook may be sent to: public ones only, unless allowed.

An administrator types a webhook's address; the worker then posts from
inside the campus network. Loopback, private, link-local (cloud metadata
at 169.254.169.254), shared, multicast, unspecified and reserved addresses
are refused, in any spelling: IPv4-mapped and 6to4 IPv6 forms, NAT64, and
the short or numeric IPv4 forms ("127.1", "2130706433") that the resolver
accepts.
"""

from __future__ import annotations

import ipaddress
import re
import socket

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# What inet_aton would read as an IPv4 address: digits, dots and hex.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)
LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address | str) -> bool:
    """Return whether ``address`` is a public unicast address (and so may receive webhooks)."""
    address = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and not is_public(embedded):
            return False
    # is_global alone lets some multicast ranges through (Python 3.11).
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified
        or address.is_loopback or address.is_link_local or address.is_private
    )


def literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return the address ``host`` spells, in any form the resolver reads as one; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """Return whether ``host`` names this machine whatever the DNS says (RFC 6761)."""
    name = host.lower().rstrip(".")
    return name in LOCAL_NAMES or name.endswith(".localhost")
