"""Deadline process: records timeliness of every delivery."""

from __future__ import annotations

from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
)
from uise_contracts.topics import topic_for
from uise_deadline import handlers
from uise_deadline.adapters import MIGRATIONS


def consumers(_rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SubmissionReceived): handlers.on_received,
        topic_for(SubmissionAccepted): handlers.on_accepted,
    }


SPEC = ServiceSpec(
    name="deadline",
    description="Effective deadlines on the Kazakhstan calendar, timeliness and violations.",
    migrations=MIGRATIONS,
    consumers=consumers,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
