"""Validation process: reads documents with a good signature against their form version, runs
its rules, outliers and consolidation checks; holds queried ones until they are explained."""

from __future__ import annotations

from decimal import Decimal

from uise_common.hierarchy import ancestors_in
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import (
    FormListApproved,
    InfoRequestIssued,
    ParticipantUpserted,
    SignatureChecked,
    SubmissionAccepted,
    SubmissionExplained,
    SubmissionReturned,
)
from uise_contracts.topics import topic_for
from uise_validation import api, handlers
from uise_validation.adapters import MIGRATIONS, READ_MODEL, KnownParticipant
from uise_validation.outliers import OutlierPolicy


def outlier_policy(rt: ServiceRuntime) -> OutlierPolicy:
    s = rt.settings
    if s.validation_outlier_method not in ("auto", "z", "modified_z", "minmax"):
        raise ValueError(f"UISE_VALIDATION_OUTLIER_METHOD: auto, z, modified_z or minmax, not "
                         f"{s.validation_outlier_method!r}")
    return OutlierPolicy(s.validation_outlier_method, Decimal(str(s.validation_outlier_z)),
                         Decimal(str(s.validation_outlier_modified_z)),
                         Decimal(str(s.validation_outlier_minmax_tolerance)))


def consumers(rt: ServiceRuntime):
    return {
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(InfoRequestIssued): handlers.on_inforequest,
        topic_for(ParticipantUpserted): handlers.on_participant,
        topic_for(SubmissionAccepted): handlers.on_accepted,
        topic_for(SubmissionReturned): handlers.on_returned,
        topic_for(SubmissionExplained): handlers.on_explained,
        topic_for(SignatureChecked): handlers.make_on_signature_checked(
            rt.store.get, outlier_policy(rt), rt.settings.validation_outlier_min_peers),
    }


SPEC = ServiceSpec(
    name="validation",
    description="Reads documents against the form version in force, runs its rules, outliers and "
                "consolidation checks, holds queries until they are explained; dry runs and finding reports.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=consumers,
    router=lambda rt: api.router(rt, outlier_policy(rt)),
    uses_object_store=True,
    hierarchy=ancestors_in(KnownParticipant),
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
