"""The `tap-auth0-events` command.

A plain sync — config files, optional STATE and catalog, no stream maps, no flattening, no
deselected fields: what Meltano runs on a schedule — starts without importing the Singer SDK
(its first request goes out after ~0.17 s instead of ~0.43 s) and runs the same `Syncer`, sink
and codec as the SDK tap's fast path, writing the same messages. Everything else (`--discover`,
`--about`, `--config=ENV`, stream maps, any problem with the input, whose messages the SDK gives)
goes to the SDK's CLI unchanged.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from tap_auth0_events.selection import KEY_PROPERTIES, REPLICATION_KEY, plain_selection
from tap_auth0_events.settings import CONFIG_SCHEMA, config_errors, read_catalog, read_state

NAME = "tap-auth0-events"
LOG_FORMAT = "{asctime:23s} | {levelname:8s} | {name:30s} | {message}"  # the SDK's console format
_VALUE_OPTIONS = ("--config", "--state", "--catalog")


@dataclass
class PlainSync:
    config: dict[str, Any]
    state: dict[str, Any] = field(default_factory=dict)
    streams: list[str] | None = None  # None: no catalog, every stream
    log_config: dict[str, Any] | None = None  # SINGER_SDK_LOG_CONFIG's, as the SDK applies it


def main(argv: list[str] | None = None) -> None:
    # Start-up (imports, schemas) allocates many objects and no garbage cycles: the cyclic GC would
    # scan them several times for nothing (~25 ms). It runs again from the sync (or the SDK's CLI) on.
    gc.disable()
    request = plain_sync_request(sys.argv[1:] if argv is None else argv)
    if request is None:
        from tap_auth0_events.tap import main as sdk_main

        _resume_gc()
        sdk_main()
    else:
        run_plain_sync(request)
    sys.exit(0)


def _resume_gc() -> None:
    gc.freeze()  # what start-up made lives for the whole run: later collections skip it
    gc.enable()


def plain_sync_request(argv: list[str]) -> PlainSync | None:
    """The run `argv` asks for when it is a plain sync with valid input, else None."""
    options = _parse(argv)
    if options is None or not options.get("--config") or "ENV" in options["--config"]:
        return None
    if _log_level() is None:
        return None
    log_config = None
    if "SINGER_SDK_LOG_CONFIG" in os.environ:  # Meltano sets it, to a JSON file
        log_config = _read_json(os.environ["SINGER_SDK_LOG_CONFIG"])
        if not isinstance(log_config, dict):
            return None  # YAML, or missing: the SDK reads it (or says it is missing)
    config: dict[str, Any] = {}
    for path in options["--config"]:
        loaded = _read_json(path)
        if not isinstance(loaded, dict):
            return None
        config.update(loaded)
    # Settings the SDK acts on (stream_maps, flattening_*, ...) are not ours: let it act on them.
    if not set(config) <= set(CONFIG_SCHEMA["properties"]) or config_errors(config):
        return None
    request = PlainSync(config, log_config=log_config)
    for path in options.get("--state", ()):
        text = _read_text(path)
        if text is None or not text.strip():
            return None
        state, problem = read_state(text)
        if problem:
            return None
        request.state = _loaded_state(state)
    for path in options.get("--catalog", ()):
        text = _read_text(path)
        if text is None or not text.strip():
            return None
        catalog, problem = read_catalog(text)
        request.streams = None if problem else plain_selection(catalog)
        if request.streams is None:
            return None
    return request


def run_plain_sync(request: PlainSync) -> None:
    """What `TapAuth0Events.sync_all` does on its fast path, from the same parts."""
    from tap_auth0_events import __version__
    from tap_auth0_events.event_types import EVENT_TYPES, stream_name
    from tap_auth0_events.output import FastSink, write_message
    from tap_auth0_events.records import RawCodec
    from tap_auth0_events.schemas import shared_schema
    from tap_auth0_events.sync import Syncer

    logger = _setup_logging(request.log_config)
    logger.info("%s v%s (plain sync: started without loading the Meltano SDK)", NAME, __version__)
    syncer = Syncer(request.config, request.state, logger)
    out = sys.stdout.buffer

    def on_signal(signum: int, frame: Any) -> None:
        if syncer.syncing:
            syncer.request_stop()
            return
        write_message(out, {"type": "STATE", "value": request.state})  # as the SDK does before a sync
        logger.info("Gracefully shutting down...")
        sys.exit(0)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    # In the SDK's order (by name), from the catalog's selection or all of them.
    streams = sorted(
        (_Stream(stream_name(event_type), event_type) for event_type in EVENT_TYPES),
        key=lambda stream: stream.name,
    )
    if request.streams is not None:
        streams = [stream for stream in streams if stream.name in request.streams]
    if not streams:
        logger.warning("no stream is selected; nothing to do")
        return
    for stream in streams:
        write_message(
            out,
            {
                "type": "SCHEMA",
                "stream": stream.name,
                "schema": shared_schema(stream.event_type),
                "key_properties": KEY_PROPERTIES,
                "bookmark_properties": [REPLICATION_KEY],
            },
        )
    logger.info("syncing %d streams on one connection (fast path)", len(streams))
    _resume_gc()
    syncer.run(streams, FastSink(out), RawCodec())


@dataclass(frozen=True, slots=True)
class _Stream:
    name: str
    event_type: str


def _parse(argv: list[str]) -> dict[str, list[str]] | None:
    """`--config/--state/--catalog` values (`--opt value` or `--opt=value`); None for anything else."""
    options: dict[str, list[str]] = {}
    args = iter(argv)
    for arg in args:
        name, equals, value = arg.partition("=")
        if name not in _VALUE_OPTIONS:
            return None
        if not equals:
            value = next(args, None)
            if value is None:
                return None
        options.setdefault(name, []).append(value)
    if len(options.get("--state", ())) > 1 or len(options.get("--catalog", ())) > 1:
        return None
    return options


def _loaded_state(state: dict[str, Any]) -> dict[str, Any]:
    """STATE as the SDK loads it (`Tap.load_state`): the bookmarks' keys, one by one, and nothing else."""
    loaded: dict[str, Any] = {}
    for name, bookmark in state.get("bookmarks", {}).items():
        for key, value in bookmark.items():
            loaded.setdefault("bookmarks", {}).setdefault(name, {})[key] = value
    return loaded


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def _read_json(path: str) -> Any:
    text = _read_text(path)
    try:
        return None if text is None else json.loads(text)
    except ValueError:
        return None


def _log_level() -> str | None:
    """The level the SDK would log at (`TAP_AUTH0_EVENTS_LOGLEVEL`, `LOGLEVEL`, INFO), if valid."""
    level = (os.environ.get("TAP_AUTH0_EVENTS_LOGLEVEL") or os.environ.get("LOGLEVEL") or "INFO").upper()
    return level if isinstance(logging.getLevelName(level), int) else None


def _setup_logging(log_config: dict[str, Any] | None) -> logging.Logger:
    """What the SDK's console logging set-up does: a handler in its format, then the log config."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, style="{"))
    root = logging.getLogger()
    root.setLevel(_log_level() or "INFO")
    root.addHandler(handler)
    if log_config is not None:
        from logging import config as logging_config

        logging_config.dictConfig(log_config)
    return logging.getLogger(NAME)
