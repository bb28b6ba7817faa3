"""CloudEvents 1.0 in Kafka binary mode: the attributes travel as `ce_*` headers, the body is
the event model's JSON. W3C `traceparent` rides beside them (it is injected by the telemetry
middleware when publishing, and stored in the outbox so a relayed event keeps its trace)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    subject: str

    def headers(self) -> dict[str, str]:
        return {
            "ce_specversion": SPEC_VERSION,
            "ce_id": self.id,
            "ce_type": self.type,
            "ce_source": self.source,
            "ce_time": self.time.isoformat(),
            "ce_subject": self.subject,
            "content-type": CONTENT_TYPE,
        }

    @classmethod
    def from_headers(cls, headers: dict[str, str]) -> Envelope:
        """Read the envelope back; raises KeyError/ValueError on a header that is missing or bad."""
        return cls(
            id=headers["ce_id"],
            type=headers["ce_type"],
            source=headers["ce_source"],
            time=datetime.fromisoformat(headers["ce_time"]),
            subject=headers["ce_subject"],
        )


def make_envelope(event_type: str, source: str, subject: str, event_id: str | None = None) -> Envelope:
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        type=event_type,
        source=source,
        time=datetime.now(UTC),
        subject=subject,
    )
