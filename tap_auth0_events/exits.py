"""Exit codes, chosen at the command's edge: the engine raises, the adapter exits.

The README's error table lists the same codes.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from tap_auth0_events.errors import (
    AuthenticationError,
    BadRequestError,
    InputError,
    OffsetExpiredError,
    PermissionDeniedError,
    StreamCorruptError,
    StreamStuckError,
    StreamUnreadableError,
    TapAuth0EventsError,
)

SETTINGS_EXIT_CODE = 1  # the SDK's, for a config that fails validation
TERMINATED_EXIT_CODE = 143  # 128 + SIGTERM, as a shell reports it
EXIT_CODES: dict[type[TapAuth0EventsError], int] = {
    InputError: 2,
    AuthenticationError: 3,
    PermissionDeniedError: 4,
    BadRequestError: 5,
    OffsetExpiredError: 6,
    StreamCorruptError: 7,
    StreamStuckError: 8,
    StreamUnreadableError: 9,
}


def exit_code(error: TapAuth0EventsError) -> int:
    for kind in type(error).__mro__:
        if kind in EXIT_CODES:
            return EXIT_CODES[kind]
    return 1


def marked(line: str, code: int) -> str:
    """The tap's last line before it exits `code`: the line, then `[exit <code>]`.

    The marker is stable (README, "Errors"): `meltano run` does not pass the tap's exit code on, but
    it does pass the tap's lines, so an orchestrator reads the code there and does not retry a
    failure that would happen again (tap_auth0_events_orchestrate).
    """
    return f"{line} [exit {code}]"


def exit_with(error: TapAuth0EventsError, logger: logging.Logger) -> NoReturn:
    """End the command with the error's one line and its exit code (STATE is already written)."""
    code = exit_code(error)
    logger.error("%s", marked(str(error), code))
    raise SystemExit(code)
