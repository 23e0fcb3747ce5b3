"""OpenID Connect: authorization code with PKCE through Authlib's Flask client.

The provider's endpoints come from its discovery document
(``<issuer>/.well-known/openid-configuration``), fetched on the first
sign-in and kept per process. State, nonce and the PKCE verifier travel
in the signed session cookie, so any gunicorn worker finishes a sign-in
another one began.
"""

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from joserfc.errors import JoseError

from tracker.domain.i18n import N_
from tracker.domain.signon import Profile, build_profile
from tracker.services.signon import ProviderUnavailable, Settings, SignonRefused

NAME = "campus"


def register(app: Flask, settings: Settings) -> None:
    oauth = OAuth(app)
    client_kwargs = {
        "scope": settings.oidc_scope,
        "code_challenge_method": "S256",
        "timeout": settings.timeout_seconds,
    }
    if not settings.oidc_client_secret:
        # A public client: PKCE alone proves the code is ours.
        client_kwargs["token_endpoint_auth_method"] = "none"
    oauth.register(
        NAME,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=f"{settings.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    app.extensions["signon_oauth"] = oauth


def client(app: Flask):
    return app.extensions["signon_oauth"].create_client(NAME)


def begin(app: Flask, redirect_uri: str):
    """Return the redirect to the provider's sign-in page. Raises ProviderUnavailable."""
    try:
        return client(app).authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError, KeyError) as error:
        raise ProviderUnavailable(type(error).__name__) from None


def finish(app: Flask, error: str | None) -> tuple[Profile, str, str | None]:
    """Exchange the code in the request; return the profile, the subject and the ID token.

    Raises SignonRefused for a code the provider refuses (replayed, expired)
    or a state this browser did not start, and ProviderUnavailable when the
    provider does not answer.
    """
    if error:
        raise SignonRefused(
            N_("The campus sign-on did not sign you in (%(error)s). Please try again."), error=error[:60]
        )
    oauth_client = client(app)
    try:
        token = oauth_client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        if "userinfo_endpoint" in oauth_client.load_server_metadata():
            # The ID token may carry only "sub": the profile claims come from the userinfo endpoint.
            extra = oauth_client.userinfo(token=token)
            if extra.get("sub") == claims.get("sub"):
                claims.update(extra)
    except (AuthlibBaseError, JoseError):
        # A spent or expired code (invalid_grant), a state this browser did not
        # start, an ID token that fails its checks (issuer, audience, nonce).
        raise SignonRefused(
            N_("This sign-in was already used or has expired. Please sign in again.")
        ) from None
    except (requests.RequestException, ValueError, KeyError) as error:
        raise ProviderUnavailable(type(error).__name__) from None
    subject = str(claims.get("sub") or "")
    username = str(claims.get("preferred_username") or subject)
    return build_profile(username, claims), subject, token.get("id_token")


def logout_url(app: Flask, id_token: str | None, return_to: str) -> str | None:
    """Return the provider's end_session_endpoint for RP-initiated logout; None when it has none."""
    from urllib.parse import urlencode

    try:
        endpoint = client(app).load_server_metadata().get("end_session_endpoint")
    except (requests.RequestException, ValueError):
        return None
    if not endpoint:
        return None
    settings = app.extensions["signon"]
    params = {"post_logout_redirect_uri": return_to, "client_id": settings.oidc_client_id}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
