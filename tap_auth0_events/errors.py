"""Errors that end a run with a one-line cause the user can act on.

Messages never contain a token, a client secret or an Authorization header: they are built
from status codes, setting names and server error codes only.
"""

from __future__ import annotations


class TapAuth0EventsError(Exception):
    """A fatal problem: the run stops, writes the STATE it has earned, and exits non-zero."""

    exit_code = 1


class ConfigError(TapAuth0EventsError):
    """A setting is missing or wrong; found before any connection is made."""

    exit_code = 2


class AuthenticationError(TapAuth0EventsError):
    """HTTP 401, or the client-credentials grant was refused."""

    exit_code = 3


class PermissionDeniedError(TapAuth0EventsError):
    """HTTP 403: the token lacks the read:events scope."""

    exit_code = 4


class BadRequestError(TapAuth0EventsError):
    """HTTP 400/404: a malformed offset, an unsupported event type, a wrong URL."""

    exit_code = 5


class OffsetExpiredError(TapAuth0EventsError):
    """HTTP 410 or an in-stream cursor_expired/invalid_cursor: the stored offset is gone."""

    exit_code = 6


class StreamCorruptError(TapAuth0EventsError):
    """The same frame arrived broken several times in a row; the tap will not skip it."""

    exit_code = 7
