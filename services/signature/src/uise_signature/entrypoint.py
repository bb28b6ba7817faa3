"""Signature process: consumes received submissions, emits signature-checked."""

from __future__ import annotations

from datetime import timedelta

from uise_common.pki.cms import TrustStore
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SubmissionReceived,
)
from uise_contracts.topics import topic_for
from uise_signature import handlers
from uise_signature.adapters import MIGRATIONS, READ_MODEL


def consumers(rt: ServiceRuntime):
    s = rt.settings
    trust = TrustStore.from_settings(s)
    on_received = handlers.make_on_received(
        rt.store.get, lambda: trust, max_age=timedelta(days=s.signature_max_age_days),
        clock_skew=timedelta(seconds=s.signature_clock_skew_seconds))
    return {
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(InfoRequestIssued): handlers.on_inforequest,
        topic_for(SubmissionReceived): on_received,
    }


SPEC = ServiceSpec(
    name="signature",
    description="Verifies CMS signatures and the signer's authority.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    uses_object_store=True,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
