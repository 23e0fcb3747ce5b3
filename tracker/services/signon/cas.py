"""CAS protocol 2.0/3.0: the login redirect, service ticket validation, the logout redirect.

Validation asks ``/p3/serviceValidate`` (protocol 3.0, attributes in the
answer) or ``/serviceValidate`` (2.0; many campus servers add attributes
there too). Either way the answer is the CAS XML, read with the standard
library's parser (expat refuses entity expansion bombs).
"""

from urllib.parse import urlencode
from xml.etree import ElementTree

import requests

from tracker.domain.i18n import N_
from tracker.domain.signon import Profile, build_profile
from tracker.services.signon import ProviderUnavailable, Settings, SignonRefused

NS = "{http://www.yale.edu/tp/cas}"


def login_url(settings: Settings, service: str) -> str:
    return f"{settings.cas_url}/login?{urlencode({'service': service})}"


def logout_url(settings: Settings, return_to: str) -> str:
    """CAS ends its own session and sends the browser back to ``return_to`` (``service``; ``url`` for 2.0)."""
    return f"{settings.cas_url}/logout?{urlencode({'service': return_to, 'url': return_to})}"


def validate(settings: Settings, ticket: str, service: str) -> Profile:
    """Return the profile the CAS server gives for ``ticket``.

    Raises SignonRefused for a ticket the server refuses (expired, already
    used, for another service) and ProviderUnavailable when it does not
    answer or answers with something that is not CAS.
    """
    if not ticket or len(ticket) > 256:
        raise SignonRefused(_EXPIRED)
    path = "/p3/serviceValidate" if settings.cas_version == 3 else "/serviceValidate"
    try:
        response = requests.get(
            f"{settings.cas_url}{path}",
            params={"service": service, "ticket": ticket},
            timeout=settings.timeout_seconds,
        )
        response.raise_for_status()
        root = ElementTree.fromstring(response.content)
    except (requests.RequestException, ElementTree.ParseError) as error:
        raise ProviderUnavailable(type(error).__name__) from None
    failure = root.find(f"{NS}authenticationFailure")
    if failure is not None:
        raise SignonRefused(_EXPIRED)
    success = root.find(f"{NS}authenticationSuccess")
    if success is None:
        raise ProviderUnavailable("not a CAS answer")
    username = (success.findtext(f"{NS}user") or "").strip()
    attributes: dict[str, list[str]] = {}
    block = success.find(f"{NS}attributes")
    for element in list(block) if block is not None else ():
        if element.tag.startswith(NS):
            attributes.setdefault(element.tag[len(NS) :], []).append((element.text or "").strip())
    return build_profile(username, attributes)


SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"


def logout_ticket(body: str) -> str | None:
    """Return the service ticket a CAS single logout request names (samlp:SessionIndex); None if unreadable."""
    if not body or len(body) > 10_000:
        return None
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None
    ticket = (root.findtext(f"{SAMLP}SessionIndex") or "").strip()
    return ticket[:256] or None


_EXPIRED = N_("The campus sign-on ticket has expired or was already used. Please sign in again.")
