"""Errors that end a run with a one-line cause the user can act on.

Messages never contain a token, a client secret or an Authorization header: they are built
from status codes, setting names and server error codes only. Which exit code each one gets is
decided at the command's edge (`exits.EXIT_CODES`), not here.
"""

from __future__ import annotations


class TapAuth0EventsError(Exception):
    """A fatal problem: the run stops, writes the STATE it has earned, and exits non-zero."""


class InputError(TapAuth0EventsError):
    """A STATE or catalog file that cannot be used; found before any connection is made."""


class AuthenticationError(TapAuth0EventsError):
    """HTTP 401, or the client-credentials grant was refused."""


class PermissionDeniedError(TapAuth0EventsError):
    """HTTP 403: the token lacks the read:events scope."""


class BadRequestError(TapAuth0EventsError):
    """HTTP 400/404: a malformed offset, an unsupported event type, a wrong URL."""


class OffsetExpiredError(TapAuth0EventsError):
    """HTTP 410 or an in-stream cursor_expired/invalid_cursor: the stored offset is gone."""


class StreamCorruptError(TapAuth0EventsError):
    """The same frame arrived broken several times in a row; the tap will not skip it."""


class StreamStuckError(TapAuth0EventsError):
    """The same `event: error` at the same position several times in a row; the tap will not skip it."""


class StreamUnreadableError(TapAuth0EventsError):
    """The run reached max_run_seconds having met only faults since its last progress."""


class MissingScopeError(PermissionDeniedError):
    """Management API HTTP 403 insufficient_scope: the token lacks a scope the baseline reads with."""

    def __init__(self, message: str, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.scopes = scopes


class NotFoundError(BadRequestError):
    """Management API HTTP 404: the object is gone (an organization deleted while paging); callers skip it."""


class ManagementUnavailableError(StreamUnreadableError):
    """The Management API kept failing (5xx, connection errors, 429s) past the retries allowed."""


class OutOfTimeError(StreamUnreadableError):
    """A wait would pass the run's deadline: the caller stops the baseline there and continues next run."""


class ExportFailedError(ManagementUnavailableError):
    """The users export job ended `failed`."""


class ExportLinkExpiredError(ManagementUnavailableError):
    """The users export's download link expired twice in a row without a line read in between."""
