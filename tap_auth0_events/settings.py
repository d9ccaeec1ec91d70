"""The tap's settings: declared once, parsed once into a typed `Settings`; and the STATE and
catalog files checked before use. Messages name the setting or the file, never a value.

Each setting's default lives in its declaration (`SETTINGS`) and nowhere else: the JSON schema the
SDK shows with `--about`, the parsed `Settings` and the test that holds `meltano.yml` to these
declarations all read it from there. A setting given as `null` is a setting not given.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal
from urllib.parse import urlsplit

START_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# start_date: ISO 8601 calendar dates, extended and basic form (see utc_start_date); the tail both share.
_FRACTION_AND_ZONE = r"(?:[.,](?P<f>\d+))?)?)?(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
_EXTENDED = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})(?:[Tt ](?P<h>\d{2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})"
    + _FRACTION_AND_ZONE,
    re.ASCII,
)
_BASIC = re.compile(
    r"(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})(?:[Tt](?P<h>\d{2})(?:(?P<mi>\d{2})(?:(?P<s>\d{2})" + _FRACTION_AND_ZONE,
    re.ASCII,
)
_DOMAIN_PATTERN = r"[A-Za-z0-9.-]+(:\d+)?"
Kind = Literal["string", "integer"]


@dataclass(frozen=True)
class Setting:
    """One setting as users see it (`--about`, Meltano) and as the tap reads it."""

    name: str
    kind: Kind
    title: str
    description: str
    default: str | int | None = None
    secret: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def json_schema(self) -> dict[str, Any]:
        """The setting in the shape the Singer SDK's typing helpers give."""
        description = self.description
        if self.minimum is not None and self.maximum is not None:
            description += f" From {self.minimum} to {self.maximum}."
        schema: dict[str, Any] = {"type": [self.kind, "null"], "title": self.title, "description": description}
        if self.secret:
            schema.update(secret=True, writeOnly=True)
        if self.default is not None:
            schema["default"] = self.default
        if self.choices:
            schema["enum"] = [*self.choices, None]  # null: not set
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


def _seconds(name: str, title: str, description: str, default: int | None, maximum: int) -> Setting:
    return Setting(name, "integer", title, description, default=default, minimum=1, maximum=maximum)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "domain",
        "string",
        "Tenant domain",
        "The tenant's domain, e.g. acme.us.auth0.com. The API lives at https://{domain}.",
    ),
    Setting(
        "api_url",
        "string",
        "API base URL",
        "Replaces https://{domain} (for the emulator, proxies and tests). "
        "Plain http:// is accepted only for loopback hosts.",
    ),
    Setting(
        "api_token",
        "string",
        "Management API token",
        "A Management API token with the read:events scope (and, for a baseline, the read scopes the README lists). "
        "Or set client_id and client_secret.",
        secret=True,
    ),
    Setting(
        "client_id", "string", "Client ID", "Machine-to-machine application's client id (client-credentials grant)."
    ),
    Setting("client_secret", "string", "Client secret", "Machine-to-machine application's client secret.", secret=True),
    Setting(
        "audience",
        "string",
        "Token audience",
        "Audience for the client-credentials grant. Default: https://{domain}/api/v2/.",
    ),
    Setting(
        "start_date",
        "string",
        "Start date",
        "Where a first run starts: an ISO 8601 date (2026-01-01, midnight UTC) or date-time with a zone "
        "(2026-01-01T00:00:00Z, 2026-01-01T00:00:00.000Z, 2026-01-01T02:00:00+02:00), sent to Auth0 as "
        "from_timestamp in UTC to the second (a fraction rounds down). Without it a first run starts at the "
        "moment it runs and records that moment in STATE.",
    ),
    _seconds(
        "max_run_seconds",
        "Maximum run time (seconds)",
        "A run ends after this long even if the feed still has events.",
        default=3600,
        maximum=30 * 86400,
    ),
    _seconds(
        "idle_timeout_seconds",
        "Idle timeout (seconds)",
        "A run ends when no new event has arrived for this long on a live connection.",
        default=60,
        maximum=86400,
    ),
    _seconds(
        "read_timeout_seconds",
        "Read timeout (seconds)",
        "A connection silent for this long (no bytes, no heartbeat) is dead and is reopened.",
        default=20,
        maximum=3600,
    ),
    _seconds(
        "max_backoff_seconds",
        "Maximum backoff (seconds)",
        "Longest wait between reconnects after repeated faults (exponential backoff with jitter).",
        default=30,
        maximum=3600,
    ),
    Setting(
        "on_expired_offset",
        "string",
        "On expired offset",
        "fail (default): stop with a message when the stored offset has expired. restart_from_time: "
        "restart from just before the last event time kept in STATE, with a warning.",
        default="fail",
        choices=("fail", "restart_from_time"),
    ),
    Setting(
        "baseline",
        "string",
        "Baseline",
        "first_run (default): read the tenant's users, organizations, memberships, roles, connections and groups "
        "from the Management API on a first run (no event position in STATE), before its events. now: start a new "
        "baseline in this run (a STATE from before baselines, or to reconcile after missed events); set it for one "
        "run only. never: read no baseline. An unfinished baseline continues in the next run unless never.",
        default="first_run",
        choices=("first_run", "now", "never"),
    ),
    _seconds(
        "baseline_max_seconds",
        "Baseline time per run (seconds)",
        "The longest a run spends on an unfinished baseline before it reads events (what is left continues next "
        "run). Default: half of max_run_seconds.",
        default=None,
        maximum=30 * 86400,
    ),
)
SETTING_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def config_jsonschema() -> dict[str, Any]:
    """The settings as a JSON schema (a new dict each call: the SDK adds its own settings to it)."""
    return {
        "type": "object",
        "properties": {setting.name: setting.json_schema() for setting in SETTINGS},
        "$schema": "https://json-schema.org/draft/2020-12/schema",
    }


@dataclass(frozen=True, slots=True)
class Settings:
    """The settings of one run, parsed and checked; secrets are left out of `repr`."""

    base_url: str  # api_url, or https://{domain}; no trailing slash
    domain: str | None
    api_url: str | None
    api_token: str | None = field(repr=False)
    client_id: str | None
    client_secret: str | None = field(repr=False)
    audience: str | None
    start_date: str | None
    max_run_seconds: int
    idle_timeout_seconds: int
    read_timeout_seconds: int
    max_backoff_seconds: int
    on_expired_offset: str
    baseline: str
    baseline_max_seconds: int | None

    @property
    def baseline_seconds(self) -> float:
        """How long a run may spend on a baseline: baseline_max_seconds, else half of max_run_seconds."""
        return float(self.baseline_max_seconds or self.max_run_seconds / 2)


class SettingsError(ValueError):
    """The settings cannot be used; `problems` has one line per problem, each naming its setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def parse_settings(config: Mapping[str, Any]) -> Settings:
    """The typed settings of `config` (keys this tap does not declare are ignored); SettingsError if unusable."""
    values, problems = _typed_values(config)
    if not problems:
        problems = _consistency_problems(values)
    if problems:
        raise SettingsError(problems)
    base_url = (values["api_url"] or f"https://{values['domain']}").rstrip("/")
    return Settings(base_url=base_url, **values)


def _typed_values(config: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Each declared setting's value (its default when absent or null), and what is wrong with them."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        value = config.get(setting.name)
        if value is None:
            values[setting.name] = setting.default
            continue
        if setting.kind == "integer":
            value = _whole_number(value)
        problem = _value_problem(setting, value)
        if problem:
            problems.append(f"{setting.name}: {problem}")
        else:
            values[setting.name] = value
    return values, problems


def _whole_number(value: Any) -> int | None:
    """The value if it is a JSON integer. Not 5.0: the SDK reads JSON numbers with a fraction or an
    exponent as Decimal, and its own schema check refuses them for an integer setting."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _value_problem(setting: Setting, value: Any) -> str | None:
    """What is wrong with one value (an integer setting's value already through `_whole_number`)."""
    if setting.kind == "string":
        if not isinstance(value, str):
            return "must be a string"
    elif value is None:
        return "must be a whole number"
    elif setting.minimum is not None and value < setting.minimum:
        return f"must be at least {setting.minimum}"
    elif setting.maximum is not None and value > setting.maximum:
        return f"must be at most {setting.maximum}"
    if setting.choices and value not in setting.choices:
        return f"must be one of {', '.join(setting.choices)}"
    return None


def _consistency_problems(values: dict[str, Any]) -> list[str]:
    """Problems between settings, or with a string's form."""
    problems = []
    if not values["domain"] and not values["api_url"]:
        problems.append("domain: required (e.g. acme.us.auth0.com), unless api_url is set")
    if values["api_url"]:
        problem = _api_url_problem(values["api_url"])
        if problem:
            problems.append(f"api_url: {problem}")
    if values["domain"] and not re.fullmatch(_DOMAIN_PATTERN, values["domain"]):
        problems.append("domain: must be a host name such as acme.us.auth0.com, without https:// or a path")
    if not values["api_token"] and not (values["client_id"] and values["client_secret"]):
        problems.append("api_token: required, or both client_id and client_secret")
    if values["start_date"]:
        try:
            values["start_date"] = utc_start_date(values["start_date"])
        except ValueError as problem:
            problems.append(f"start_date: {problem}")
    return problems


def utc_start_date(value: str) -> str:
    """An ISO 8601 date or date-time with a zone as Auth0's `from_timestamp` takes it: UTC, whole
    seconds, `YYYY-MM-DDTHH:MM:SSZ` (20 characters at most). A date is its midnight UTC; an offset is
    converted; a fraction of a second rounds down. ValueError, in words, for anything else.

    Calendar dates in the extended (2026-01-31T10:00:00+02:00) or basic (20260131T100000+0200) form,
    the time to the hour, minute, second or a fraction of any length; a space is taken for the T, as
    RFC 3339 allows. Parsed here rather than by `datetime.fromisoformat`, which takes far fewer
    spellings on Python 3.10 than on 3.11."""
    text = value.strip()
    match = _EXTENDED.fullmatch(text) or _BASIC.fullmatch(text)
    if match is None:
        raise ValueError("must be an ISO 8601 date or date-time with a zone, e.g. 2026-01-31 or 2026-01-31T00:00:00Z")
    parts = match.groupdict()
    if parts["h"] is not None and parts["z"] is None:
        raise ValueError("a date-time needs a zone: add Z for UTC (2026-01-31T00:00:00Z) or an offset such as +02:00")
    try:
        moment = datetime(
            int(parts["y"]),
            int(parts["mo"]),
            int(parts["d"]),
            int(parts["h"] or 0),
            int(parts["mi"] or 0),
            int(parts["s"] or 0),
            tzinfo=_zone(parts["z"]),
        )
        utc = moment.astimezone(timezone.utc)  # the fraction is dropped: rounds down
    except (ValueError, OverflowError):
        raise ValueError("not a real date and time") from None
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def _zone(text: str | None) -> timezone:
    """`Z`, `+HH`, `+HH:MM` or `+HHMM` (ValueError past 23:59)."""
    if text is None or text in "Zz":
        return timezone.utc
    hours, minutes = int(text[1:3]), int(text[3:].lstrip(":") or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("offset out of range")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if text[0] == "-" else offset)


def _api_url_problem(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return "must be an http(s) URL such as https://acme.us.auth0.com"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL such as https://acme.us.auth0.com"
    if parts.scheme == "http" and not _is_loopback(host):
        return "plain http:// is accepted only for loopback hosts (127.0.0.1, ::1, localhost); use https://"
    if parts.query or parts.fragment:
        return "must not carry a query string or fragment"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- the config, STATE and catalog files -------------------------------------------------------


def config_file_problem(error: Exception) -> str:
    """What an error reading a `--config` file says, in words that never quote the file's content."""
    if isinstance(error, FileNotFoundError):
        return "not found"
    if isinstance(error, OSError):
        return f"cannot be read ({error.strerror or type(error).__name__})"
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, ValueError) and hasattr(error, "lineno"):  # json's and simplejson's JSONDecodeError
        return f"not valid JSON (line {error.lineno})"
    return "must be a JSON object of settings"  # the SDK merged a list or a number into its dict


def parse_state(text: str) -> tuple[Any, str | None]:
    """A STATE file's value, and what is wrong with it (None: nothing). Never quotes the content."""
    state, problem = _parse_json(text, ": fix it or clear the state (meltano state clear)")
    if problem is None:
        problem = _state_shape_problem(state)
    return state, problem


def parse_catalog(text: str) -> tuple[Any, str | None]:
    """A catalog file's value, and what is wrong with it (None: nothing)."""
    catalog, problem = _parse_json(text)
    if problem is None and (not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list)):
        problem = "must be a JSON object with a `streams` list (run --discover to get one)"
    return catalog, problem


def _parse_json(text: str, advice: str = "") -> tuple[Any, str | None]:
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"not valid JSON (line {getattr(exc, 'lineno', '?')}){advice}"


def _state_shape_problem(state: Any) -> str | None:
    if not isinstance(state, dict):
        return "must be a JSON object"
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return "bookmarks must be an object of stream name -> bookmark"
    for name, bookmark in bookmarks.items():
        if not isinstance(bookmark, dict):
            return f"bookmarks.{name} must be an object"
        for key in ("offset", "from_timestamp", "newest_event_time"):
            if key in bookmark and bookmark[key] is not None and not isinstance(bookmark[key], str):
                return f"bookmarks.{name}.{key} must be a string"
    return None
