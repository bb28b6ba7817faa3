"""Deadline process: effective deadlines on the Kazakhstan calendar, timeliness of every
delivery, `missing` sweeps, reminders and escalations on durable timers, and each node's
`consolidation.due`."""

from __future__ import annotations

from uise_common import metrics
from uise_common.hierarchy import ancestors_in
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SubmissionAccepted,
    SubmissionReceived,
    SubmissionReturned,
)
from uise_contracts.topics import topic_for
from uise_deadline import api, consolidation, handlers
from uise_deadline.adapters import MIGRATIONS, READ_MODEL, KnownParticipant, violations_by_kind
from uise_deadline.schedule import parse_leads
from uise_deadline.scheduler import Scheduler


def schedule(rt: ServiceRuntime) -> handlers.Schedule:
    s = rt.settings
    return handlers.Schedule(parse_leads(s.deadline_reminder_leads),
                             parse_leads(s.deadline_escalation_after)[0] if s.deadline_escalation_after else None)


def consumers(rt: ServiceRuntime):
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.make_on_formlist(schedule(rt)),
        topic_for(InfoRequestIssued): handlers.make_on_inforequest(schedule(rt)),
        topic_for(SubmissionReceived): handlers.on_received,
        topic_for(SubmissionAccepted): consolidation.on_accepted,
        topic_for(SubmissionReturned): consolidation.on_returned,
    }


async def timers(rt: ServiceRuntime) -> None:
    await Scheduler(rt, rt.settings.deadline_tick_seconds, rt.settings.deadline_lease_seconds).run()


SPEC = ServiceSpec(
    name="deadline",
    description="Effective deadlines on the Kazakhstan calendar, timeliness, missing violations, reminders.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    router=lambda rt: api.router(rt, schedule(rt)),
    hierarchy=ancestors_in(KnownParticipant),
    background=timers,
    gauges={metrics.VIOLATIONS: violations_by_kind},
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
