"""What /readyz shows about sign-on: each provider answers, the role mapping names known centres."""

import ldap3
import requests
from ldap3.core import exceptions as ldap_errors
from sqlalchemy import func, select

from tracker.extensions import db
from tracker.models import Centre
from tracker.services.signon import ProviderUnavailable, Settings

# /readyz is asked every few seconds: a provider that hangs must not hold it.
CHECK_TIMEOUT_SECONDS = 3


def check(settings: Settings) -> dict:
    """Return {"ok": bool, provider: {"ok": bool, "error": str}, ...}; errors say what to fix."""
    result: dict = {}
    if settings.cas_url:
        result["cas"] = _cas(settings)
    if settings.oidc_issuer:
        result["oidc"] = _oidc(settings)
    if settings.ldap_url:
        result["ldap"] = _ldap(settings)
    codes = sorted({rule.centre for rule in settings.rules if rule.centre})
    if codes:
        known = {
            c.lower()
            for c in db.session.execute(
                select(Centre.code).where(func.lower(Centre.code).in_([c.lower() for c in codes]))
            ).scalars()
        }
        unknown = [c for c in codes if c.lower() not in known]
        result["roles"] = {"ok": not unknown}
        if unknown:
            result["roles"]["error"] = f"TRACKER_SIGNON_ROLES names unknown centres: {', '.join(unknown)}"
    result["ok"] = all(v["ok"] for v in result.values())
    return result


def _cas(settings: Settings) -> dict:
    try:
        response = requests.get(
            f"{settings.cas_url}/login", timeout=CHECK_TIMEOUT_SECONDS, allow_redirects=False
        )
    except requests.RequestException as error:
        return {"ok": False, "error": f"TRACKER_CAS_URL does not answer ({type(error).__name__})"}
    if response.status_code >= 400:
        return {
            "ok": False,
            "error": f"TRACKER_CAS_URL/login answers {response.status_code}: is it the CAS base?",
        }
    return {"ok": True}


def _oidc(settings: Settings) -> dict:
    url = f"{settings.oidc_issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=CHECK_TIMEOUT_SECONDS)
        response.raise_for_status()
        metadata = response.json()
    except (requests.RequestException, ValueError) as error:
        return {
            "ok": False,
            "error": f"TRACKER_OIDC_ISSUER has no discovery document ({type(error).__name__})",
        }
    if str(metadata.get("issuer", "")).rstrip("/") != settings.oidc_issuer:
        return {"ok": False, "error": "TRACKER_OIDC_ISSUER differs from the issuer the provider names"}
    if "S256" not in metadata.get("code_challenge_methods_supported", ["S256"]):
        return {"ok": False, "error": "the OpenID provider does not offer PKCE with S256"}
    return {"ok": True}


def _ldap(settings: Settings) -> dict:
    from tracker.services.signon.ldap import reachable

    try:
        reachable(settings.ldap_url, CHECK_TIMEOUT_SECONDS)
    except ProviderUnavailable as error:
        return {"ok": False, "error": f"TRACKER_LDAP_URL does not answer ({error.detail})"}
    server = ldap3.Server(settings.ldap_url, connect_timeout=CHECK_TIMEOUT_SECONDS, get_info=ldap3.NONE)
    try:
        conn = ldap3.Connection(
            server,
            user=settings.ldap_bind_dn,
            password=settings.ldap_bind_password,
            receive_timeout=CHECK_TIMEOUT_SECONDS,
            raise_exceptions=False,
        )
        try:
            bound = conn.bind()
        finally:
            conn.unbind()
    except ldap_errors.LDAPException as error:
        return {"ok": False, "error": f"TRACKER_LDAP_URL does not answer ({type(error).__name__})"}
    if not bound:
        return {"ok": False, "error": "TRACKER_LDAP_BIND_DN cannot bind (wrong DN or password)"}
    return {"ok": True}
