"""Validation process: consumes good signatures, emits validated."""

from __future__ import annotations

from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_contracts.events import FormListApproved, SignatureChecked
from uise_contracts.topics import topic_for
from uise_validation import handlers
from uise_validation.adapters import MIGRATIONS


def consumers(rt: ServiceRuntime):
    return {
        topic_for(FormListApproved): handlers.on_formlist,
        topic_for(SignatureChecked): handlers.make_on_signature_checked(rt.store.get),
    }


SPEC = ServiceSpec(
    name="validation",
    description="Parses documents against their form version and runs its rules.",
    migrations=MIGRATIONS,
    consumers=consumers,
    uses_object_store=True,
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
