"""Intake process: the HTTP front door plus the consumers that keep timelines.

    python -m uise_intake                       serve (also: `uise-intake serve`)
"""

from __future__ import annotations

from uise_common import metrics
from uise_common.hierarchy import ancestors_in
from uise_common.service import ServiceRuntime, ServiceSpec, run
from uise_intake import api, handlers
from uise_intake.adapters import MIGRATIONS, READ_MODEL, KnownParticipant, submissions_by_state
from uise_intake.receipts import ReceiptSigner


def router(rt: ServiceRuntime):
    signer = ReceiptSigner.load_or_create(rt.settings.data_dir / "intake-receipt.key")
    return api.router(rt, signer)


SPEC = ServiceSpec(
    name="intake",
    description="Receives signed submissions, issues signed receipts (delivery time = clause 10), "
    "and shows each submission's timeline.",
    migrations=MIGRATIONS,
    read_model=READ_MODEL,
    consumers=lambda _rt: handlers.CONSUMERS,
    router=router,
    uses_object_store=True,
    hierarchy=ancestors_in(KnownParticipant),
    gauges={metrics.SUBMISSIONS: submissions_by_state},
)


def main() -> None:
    run(SPEC)


if __name__ == "__main__":
    main()
