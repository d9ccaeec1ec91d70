"""`tap-auth0-events-emulator`: serve the Events API emulator on 127.0.0.1 until stopped."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tap_auth0_events.emulator.generator import TEST_EVENT_SHARE, UNKNOWN_TYPE_SHARE
from tap_auth0_events.emulator.management import RATE_LIMITS
from tap_auth0_events.emulator.server import Emulator, EmulatorConfig


def _types(text: str) -> tuple[str, ...]:
    """`a.b,c.d` -> ("a.b", "c.d")."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _error_at(text: str) -> tuple[int, str]:
    """`120:payload_too_large` -> (120, "payload_too_large")."""
    index, sep, code = text.partition(":")
    if not sep or not index.isdigit() or not code:
        raise argparse.ArgumentTypeError("expected INDEX:CODE, e.g. 120:payload_too_large")
    return int(index), code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tap-auth0-events-emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--events", type=int, default=2000, help="events of history to start with")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--live-rate", type=float, default=1.0, help="events appended per second while running")
    parser.add_argument("--cycle-seconds", type=float, default=180.0, help="close each connection after this long")
    parser.add_argument("--heartbeat-seconds", type=float, default=5.0)
    parser.add_argument("--retry-ms", type=int, default=500)
    parser.add_argument("--chunked", action="store_true", help="send the stream with chunked transfer encoding")
    parser.add_argument("--port-file", help="write the chosen port here once listening")
    parser.add_argument(
        "--max-connections",
        type=int,
        help="at most this many event streams open at once; one more answers Auth0's HTTP 403 \"Maximum "
        "concurrent event stream connections reached\" (Auth0's plans: Free 1, Self-service 4, Enterprise 8)",
    )
    parser.add_argument(
        "--token-ttl-seconds",
        type=int,
        default=86400,
        help="lifetime of tokens from POST /oauth/token (client-credentials grant) (default %(default)s)",
    )
    _tenant_options(parser.add_argument_group("what the tenant sends"))
    _management_options(parser.add_argument_group("the tenant before its events, and the Management API"))
    return parser


# (flag, EmulatorConfig field, metavar, type, help) of the world before the log and the Management API.
_MANAGEMENT_VALUES: tuple[tuple[str, str, str, type, str], ...] = (
    (
        "--users-before",
        "users_before",
        "N",
        int,
        "users that existed before the first event, derived lazily from the seed",
    ),
    (
        "--organizations-before",
        "organizations_before",
        "N",
        int,
        "organizations before the first event, with members, member roles and enabled connections",
    ),
    (
        "--groups-before",
        "groups_before",
        "N",
        int,
        "groups before the first event, with members, roles and organization roles",
    ),
    (
        "--members-per-organization",
        "members_per_organization",
        "N",
        int,
        "mean members of an organization before the first event",
    ),
    (
        "--rate-limit-scale",
        "rate_limit_scale",
        "FACTOR",
        float,
        "multiply the --rate-limit-plan's burst and refill rate by this",
    ),
    (
        "--export-pending-seconds",
        "export_pending_seconds",
        "SECONDS",
        float,
        "a users export job is pending this long, then completed",
    ),
    (
        "--export-link-seconds",
        "export_link_seconds",
        "SECONDS",
        float,
        "how long a completed export's pre-signed location works (Auth0's: 60)",
    ),
)
_MANAGEMENT_FIELDS = (
    *(name for _, name, *_ in _MANAGEMENT_VALUES),
    "grant_read_scopes",
    "rate_limit_plan",
    "export_fails",
)


def _management_options(group: argparse._ArgumentGroup) -> None:
    """The world before the log (never announced by an event) and the Management API over it."""
    defaults = EmulatorConfig()
    for flag, name, metavar, kind, text in _MANAGEMENT_VALUES:
        default = getattr(defaults, name)
        group.add_argument(
            flag, dest=name, metavar=metavar, type=kind, default=default, help=f"{text} (default {default})"
        )
    group.add_argument(
        "--grant-read-scopes",
        action="store_true",
        help="grant every Management API read scope (read:users, read:organizations, ...) to the static token "
        "and to client-credentials tokens; without it they hold read:events only and the Management API "
        "answers 403 insufficient_scope",
    )
    group.add_argument(
        "--rate-limit-plan",
        choices=sorted(RATE_LIMITS),
        help="apply this Auth0 plan's Management API rate limits (token buckets per endpoint family, "
        "x-ratelimit-* headers, 429 when empty); default: no limit",
    )
    group.add_argument("--export-fails", action="store_true", help="every users export job ends failed")


def _tenant_options(tenant: argparse._ArgumentGroup) -> None:
    """The options that say what the tenant sends (types, shares, an error at a position)."""
    tenant.add_argument(
        "--unknown-types",
        type=_types,
        default=(),
        metavar="TYPE,...",
        help="also send events of these types, which the tap does not know (only to requests without "
        "event_type filters, or naming them), e.g. role.created,role.deleted",
    )
    tenant.add_argument(
        "--unknown-share",
        type=float,
        default=UNKNOWN_TYPE_SHARE,
        help="share of generated events that are of an --unknown-types type (default %(default)s)",
    )
    tenant.add_argument(
        "--unsupported-types",
        type=_types,
        default=(),
        metavar="TYPE,...",
        help="types this tenant does not have: a filter naming one answers HTTP 400, and none is ever sent",
    )
    tenant.add_argument(
        "--test-event-share",
        type=float,
        default=TEST_EVENT_SHARE,
        help='share of generated events that are test events ("a0purpose": "test") (default %(default)s)',
    )
    tenant.add_argument(
        "--bare-share",
        type=float,
        default=0.0,
        help="share of generated events with neither context nor previous_object, as in Auth0's own SDK "
        "tests (default %(default)s: only the generator's usual ones)",
    )
    tenant.add_argument(
        "--error-at",
        type=_error_at,
        metavar="INDEX:CODE",
        help="every connection reaching the event at this log index sends `event: error` with CODE "
        "instead and closes, e.g. 120:payload_too_large",
    )


def _config(args: argparse.Namespace) -> EmulatorConfig:
    return EmulatorConfig(
        seed=args.seed,
        initial_events=args.events,
        live_events_per_second=args.live_rate,
        cycle_seconds=args.cycle_seconds or None,
        heartbeat_seconds=args.heartbeat_seconds,
        retry_ms=args.retry_ms,
        chunked=args.chunked,
        unknown_types=args.unknown_types,
        unknown_share=args.unknown_share,
        unsupported_types=frozenset(args.unsupported_types),
        test_event_share=args.test_event_share,
        error_at=args.error_at,
        bare_share=args.bare_share,
        max_connections=args.max_connections,
        token_ttl_seconds=args.token_ttl_seconds,
        **{name: getattr(args, name) for name in _MANAGEMENT_FIELDS},
    )


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    emulator = Emulator(_config(args), port=args.port).start()
    print(f"Auth0 Events API emulator on {emulator.url} ({len(emulator.log)} events)", flush=True)
    print("  token: emulator-token   client: emulator-client / emulator-secret", flush=True)
    if args.port_file:
        with open(args.port_file, "w") as handle:
            handle.write(emulator.url.rsplit(":", 1)[1])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    emulator.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
