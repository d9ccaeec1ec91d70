"""The SSE decoder's messages as text, the way the WHATWG spec states them (for the decoder's tests).

The tap hands a message's data bytes straight to a JSON parser; the spec speaks of text decoded as
UTF-8 with replacement characters, which is what `TextDecoder` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from tap_auth0_events.sse import SSEDecoder


@dataclass(frozen=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None
    retry: int | None


class TextDecoder(SSEDecoder):
    """`SSEDecoder` whose `feed_text` gives `ServerSentEvent`s."""

    def feed_text(self, chunk: bytes) -> list[ServerSentEvent]:
        return [
            ServerSentEvent(event, data.decode("utf-8", "replace"), id_, retry)
            for event, data, id_, retry in self.feed(chunk)
        ]
