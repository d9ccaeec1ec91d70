"""The SDK internals the tap relies on (listed in sdk_seam's docstring) were verified on one range of
singer-sdk versions: an upgrade past it must be a conscious step, so this fails until it is."""

from __future__ import annotations

import importlib.metadata
import inspect

from packaging.specifiers import SpecifierSet
from singer_sdk import Stream, Tap

from tap_auth0_events import sdk_seam


def test_installed_singer_sdk_is_in_the_verified_range() -> None:
    installed = importlib.metadata.version("singer-sdk")
    assert installed in SpecifierSet(sdk_seam.VERIFIED_SDK_VERSIONS), (
        f"singer-sdk {installed} is outside {sdk_seam.VERIFIED_SDK_VERSIONS}: check each internal listed in "
        "tap_auth0_events/sdk_seam.py against it, then widen VERIFIED_SDK_VERSIONS"
    )


def test_every_internal_listed_still_exists_with_its_signature() -> None:
    assert list(inspect.signature(Stream._write_schema_message).parameters) == ["self"]
    assert list(inspect.signature(Stream._write_record_message).parameters) == ["self", "record"]
    assert list(inspect.signature(Tap._validate_config).parameters) == ["self", "raise_errors"]
    assert list(inspect.signature(Tap._handle_termination).parameters) == ["self", "signum", "frame"]
    assert list(inspect.signature(Tap.cb_test).parameters) == ["ctx", "param", "value"]
    assert "ABORT_AT_RECORD_COUNT" in vars(Stream)
    assert callable(Tap.sync_all)
