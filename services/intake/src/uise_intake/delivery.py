"""Taking a delivery in: the steps around intake's commands that touch the outside world. Store
the bytes first (by hash), then record the submission, its timeline, its outbox event and its
idempotency record in one transaction, then answer with the signed receipt. Nothing is
acknowledged while the event that carries it cannot be queued."""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
import weakref
from datetime import datetime

from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from uise_common.service import ServiceRuntime
from uise_common.telemetry import tag_submission
from uise_contracts.events import StoredObject
from uise_intake import commands
from uise_intake.commands import Delivery
from uise_intake.domain import PDF
from uise_intake.reasons import Refused, from_refused, refuse
from uise_intake.receipts import ReceiptSigner

RETRY_AFTER = {"Retry-After": "5"}
CHAIN_ATTEMPTS = 5  # versions of one chain recorded concurrently by several replicas


class Deliveries:
    def __init__(self, rt: ServiceRuntime, signer: ReceiptSigner) -> None:
        self.rt = rt
        self.signer = signer
        # Versions of one (participant, form, period) are recorded one at a time in this process;
        # another replica racing for the same chain loses on the unique `supersedes` and goes again.
        self._chain_locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()

    async def read(self, work):
        """A read-only command; Refused becomes its answer, a failing database a 503."""
        try:
            return await self.rt.read(work)
        except Refused as r:
            raise from_refused(r) from None
        except Exception as exc:
            raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER) from exc

    async def replay(self, caller_id: str, key: str | None, fp: str) -> JSONResponse | None:
        """The first answer to this Idempotency-Key, or None when it is new. The same key with
        anything different (another document, another signature) is refused."""
        found = await self.read(lambda s: commands.first_answer(s, caller_id, key))
        if found is None:
            return None
        if not hmac.compare_digest(found.fingerprint, fp):
            raise refuse("IDEMPOTENCY_KEY_REUSED", submission_id=found.submission_id)
        return JSONResponse(json.loads(found.response), status_code=found.status_code,
                            headers={"Location": f"/v1/submissions/{found.submission_id}",
                                     "Idempotent-Replayed": "true"})

    async def deliver(self, d: Delivery) -> JSONResponse:
        if not await self.rt.kafka_health.ok():
            raise refuse("KAFKA_UNAVAILABLE", headers=RETRY_AFTER)
        store = self.rt.store
        try:
            # side by side: the school waits for the slower of the two writes, not for both
            doc, proof = await asyncio.gather(
                asyncio.to_thread(store.put, d.document, "documents", d.media_type),
                asyncio.to_thread(store.put, d.proof, "scans" if d.paper else "signatures",
                                  PDF if d.paper else "application/pkcs7-signature"))
        except Exception as exc:
            raise refuse("STORAGE_UNAVAILABLE", headers=RETRY_AFTER) from exc
        submission_id = str(uuid.uuid4())
        tag_submission(submission_id)
        chain = (d.participant.participant_id, d.form_code, d.period.text)
        lock = self._chain_locks.get(chain)
        if lock is None:
            lock = self._chain_locks[chain] = asyncio.Lock()
        async with lock:
            return await self._record_version(d, submission_id, doc, proof, self.rt.clock.almaty())

    async def _record_version(self, d: Delivery, submission_id: str, doc: StoredObject, proof: StoredObject,
                              registered_at: datetime) -> JSONResponse:
        participant = d.participant
        for _attempt in range(CHAIN_ATTEMPTS):
            previous = await self.read(lambda s: commands.chain_head(
                s, participant.participant_id, d.form_code, d.period.text))
            try:
                commands.check_supersedes(d, previous)
            except Refused as r:
                raise from_refused(r) from None
            previous_id = previous.submission_id if previous else None
            receipt = self.signer.sign(commands.receipt_fields(d, submission_id, doc, proof, previous_id,
                                                                registered_at))

            def work(s, previous_id=previous_id, receipt=receipt):
                self.rt.emit(s, commands.record(s, d, submission_id, doc, proof, previous_id, receipt, registered_at))

            try:
                await self.rt.in_transaction(work)
            except IntegrityError:
                # Either a concurrent retry with the same Idempotency-Key won, or another version
                # of the same chain was recorded first: replay the first, or go again.
                if (first := await self.replay(d.caller_id, d.idempotency_key, d.fingerprint)) is not None:
                    return first
                continue
            except Exception as exc:
                raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER) from exc
            return JSONResponse(receipt, status_code=202, headers={"Location": f"/v1/submissions/{submission_id}"})
        raise refuse("DATABASE_UNAVAILABLE", headers=RETRY_AFTER)
