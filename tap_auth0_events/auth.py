"""Bearer tokens for the Management API: a static token, or the client-credentials grant.

One provider per tap instance (no process-wide singleton), so two taps in one process with
different tenants never share a token.
"""

from __future__ import annotations

import time

import requests

from tap_auth0_events.errors import AuthenticationError
from tap_auth0_events.settings import Settings
from tap_auth0_events.vocabulary import TokenProvider

# Renew this long before the server-stated expiry, so a token never dies mid-handshake; a short-lived
# token is renewed when 90 % of its life has passed (a 60 s leeway on a 30 s token would fetch a new
# token for every connection, and Auth0 counts machine-to-machine tokens against a monthly quota).
EXPIRY_LEEWAY_SECONDS = 60.0
EXPIRY_LEEWAY_SHARE = 0.1


class StaticToken:
    """A token pasted into the config: it cannot be renewed, so a 401 is final."""

    can_refresh = False

    def __init__(self, token: str) -> None:
        self._token = token

    def token(self) -> str:
        return self._token

    def invalidate(self) -> None:
        """Nothing to renew; the caller turns the 401 into an error."""


class ClientCredentials:
    """Tokens from `POST {base}/oauth/token` (client-credentials grant), renewed before expiry."""

    can_refresh = True

    def __init__(
        self,
        session: requests.Session,
        token_url: str,
        client_id: str,
        client_secret: str,
        audience: str,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._audience = audience
        self._timeout = timeout
        self._token: str | None = None
        self._renew_at = 0.0  # time.monotonic() from which the token is renewed before use

    def token(self) -> str:
        if self._token is None or time.monotonic() >= self._renew_at:
            self._fetch()
        assert self._token is not None
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _fetch(self) -> None:
        try:
            response = self._session.post(
                self._token_url,
                json={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "audience": self._audience,
                },
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            # The exception text holds only the URL and the socket error, never the body we sent.
            raise AuthenticationError(f"could not reach {self._token_url} for a token: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise AuthenticationError(
                f"{self._token_url} refused client_id {self._client_id!r} "
                f"(HTTP {response.status_code}{_error_code(response)}): check client_id and client_secret, "
                "and that the application is authorized for the Management API"
            )
        if response.status_code != 200:
            raise AuthenticationError(
                f"token request to {self._token_url} failed with HTTP {response.status_code}{_error_code(response)}"
            )
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError, TypeError):
            raise AuthenticationError(f"{self._token_url} answered without an access_token") from None
        self._token = str(token)
        expires_in = body.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, (int, float)) else 3600.0
        self._renew_at = time.monotonic() + lifetime - min(EXPIRY_LEEWAY_SECONDS, lifetime * EXPIRY_LEEWAY_SHARE)


def _error_code(response: requests.Response) -> str:
    """The OAuth error code from a JSON body, if there is one (never the whole body)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return f", {body['error'][:60]}"
    return ""


def make_token_provider(settings: Settings, session: requests.Session) -> TokenProvider:
    """Pick the provider from the settings: `api_token`, or `client_id` + `client_secret`
    (`parse_settings` has made sure one of them is there)."""
    if settings.api_token:
        return StaticToken(settings.api_token)
    assert settings.client_id and settings.client_secret
    return ClientCredentials(
        session,
        token_url=f"{settings.base_url}/oauth/token",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        audience=settings.audience or f"https://{settings.domain or ''}/api/v2/",
    )
