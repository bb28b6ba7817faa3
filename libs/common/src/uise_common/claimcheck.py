"""The claim check: an event's large user data travel by reference, through object storage.

A submission's figures and findings grow with its form (a form of a thousand text cells, each up
to a thousand characters, is megabytes), and the broker refuses a message over 1 MiB. When a
`Claimable` event (uise_contracts.events) would exceed `CLAIM_ABOVE_BYTES`, `check_in` writes
its `CLAIMED` fields as one JSON object to object storage, addressed by its SHA-256 like every
document (`claims/sha256/ab/ab…`: written before the event that names it, never overwritten), and
the event carries `claim` instead, with those fields empty. `resolve` reads the object back,
checks it against the hash and puts the fields back.

Both run in the consumer runner and `ServiceRuntime.emit` of a service with object storage
(`add_event(..., claims=...)`), so handlers see whole events and emit whole events. A service
without object storage (routing) sees a claimed event's fields empty and passes `claim` on as it
is: submission.accepted claims the same fields as submission.validated. A claim whose object does
not match its hash, or does not hold the fields, raises ClaimInvalid, which no retry can fix; an
object store that does not answer raises its own error, which a retry can.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from uise_common.objectstore import IntegrityError, ObjectStore
from uise_contracts.events import Claimable

# Far below the outbox's limit (uise_common.outbox.RECORD_MAX_BYTES, 900 KiB) so that what stays
# in the event beside the claim never reaches it; far above any event of today's forms (the
# largest, OSH-1, makes about 90 KB when every cell is wrong).
CLAIM_ABOVE_BYTES = 256 * 1024
KIND = "claims"
MEDIA_TYPE = "application/json"

E = TypeVar("E", bound=BaseModel)


class ClaimInvalid(Exception):
    """The claimed object is not what the event says: its hash, or its content. Deterministic."""


def claimed_fields(event: Claimable) -> bytes:
    """The CLAIMED fields as the object holds them: canonical JSON, so the same figures make the
    same object (and routing's submission.accepted names validation's)."""
    data = event.model_dump(mode="json", include=set(event.CLAIMED))
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class ClaimCheck:
    def __init__(self, store: ObjectStore, above_bytes: int = CLAIM_ABOVE_BYTES) -> None:
        self.store = store
        self.above_bytes = above_bytes

    def check_in(self, event: E) -> E:
        """`event`, or when it is a large Claimable, the same event carrying its CLAIMED fields
        by reference."""
        if not isinstance(event, Claimable) or event.claim is not None:
            return event
        if len(event.model_dump_json().encode()) <= self.above_bytes:
            return event
        stored = self.store.put(claimed_fields(event), KIND, MEDIA_TYPE)
        fields = type(event).model_fields
        emptied = {name: fields[name].get_default(call_default_factory=True) for name in event.CLAIMED}
        return event.model_copy(update={**emptied, "claim": stored})

    def resolve(self, event: E) -> E:
        """`event` with its claimed fields back (and no claim). Raises ClaimInvalid when the object
        does not hash to the claim or does not hold the fields."""
        if not isinstance(event, Claimable) or event.claim is None:
            return event
        try:
            data = self.store.get(event.claim)  # checks the SHA-256
        except IntegrityError as exc:
            raise ClaimInvalid(str(exc)) from exc
        try:
            fields = json.loads(data)
            if not isinstance(fields, dict):
                raise ValueError("the claimed object is not a JSON object")
            whole = event.model_dump(mode="json", exclude={"claim"})
            whole.update({name: fields[name] for name in event.CLAIMED if name in fields})
            return type(event).model_validate(whole)
        except (ValueError, ValidationError) as exc:  # JSONDecodeError is a ValueError
            raise ClaimInvalid(f"{event.claim.key}: {exc}") from exc
