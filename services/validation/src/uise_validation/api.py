"""Validation's HTTP API: a dry run (the same findings a submission would get, nothing
recorded), and a submission's finding report, as JSON for machines and as the workbook with its
problem cells highlighted for people."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from uise_common import auth, reads
from uise_common.auth import Principal
from uise_common.hierarchy import ancestors_in
from uise_common.http import ApiError, documents, refusals
from uise_common.inputs import FormCode, PeriodText, Ref
from uise_common.service import ServiceRuntime
from uise_contracts.events import Finding, StoredObject
from uise_validation import handlers
from uise_validation.adapters import KnownParticipant, Result
from uise_validation.domain import check_identity, judge, read_document
from uise_validation.outliers import OutlierPolicy
from uise_validation.report import report
from uise_validation.sniffing import media_type_of

DRY_RUN = auth.allow(auth.SUBMISSIONS_WRITE)
READ = auth.allow(auth.SUBMISSIONS_READ, subtree="resource")
READS_KIND = "findings"  # validation's rows of uise_common.reads: a submission's finding workbook
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ancestors = ancestors_in(KnownParticipant)
STATUS = {"RESULT_UNKNOWN": 404, "NOT_A_PARTICIPANT": 403, "DOCUMENT_TOO_LARGE": 413}


def unknown(submission_id: str) -> ApiError:
    return ApiError(404, "RESULT_UNKNOWN", f"no validation result for {submission_id} (yet), or not yours to read",
                    f"нет результата проверки {submission_id} (пока) или он не ваш",
                    f"{submission_id} тексеру нәтижесі жоқ (әзірше) немесе ол сіздікі емес")


def result_view(r: Result) -> dict:
    return {"submission_id": r.submission_id, "participant_id": r.participant_id, "form_code": r.form_code,
            "period": r.period, "status": "queried" if r.status == "queried" else ("valid" if r.ok else "invalid"),
            "form_version": r.form_version, "list_year": r.list_year, "list_version": r.list_version,
            "findings": json.loads(r.findings), "explanations": json.loads(r.explanations)}


def router(rt: ServiceRuntime, policy: OutlierPolicy) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["validation"])
    limit = rt.settings.max_document_bytes

    @api.post("/dry-run", responses=refusals(STATUS, "NOT_A_PARTICIPANT", "DOCUMENT_TOO_LARGE", "UNKNOWN_FORM"))
    async def dry_run(who: Annotated[Principal, Depends(DRY_RUN)],
                      form_code: Annotated[FormCode, Form()], period: Annotated[PeriodText, Form()],
                      document: Annotated[UploadFile, File(description="XLSX from the template, CSV or JSON")]) -> dict:
        """Check a document before submitting it: the same reading, rules, outliers and
        consolidation checks a submission gets, for the caller's organization; nothing is
        recorded. `explanations` is not taken here: the queries come back to be explained."""
        if who.participant_id is None:
            raise ApiError(403, "NOT_A_PARTICIPANT", "a dry run is for an organization's documents",
                           "пробная проверка — для документов организации", "сынақ тексеру ұйым құжаттары үшін")
        data = await document.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "DOCUMENT_TOO_LARGE", f"the document is larger than {limit} bytes",
                           f"документ больше {limit} байт", f"құжат {limit} байттан үлкен")

        def context(s):
            found = handlers.form_for(s, form_code, period)
            if found is None:
                return None
            return found, handlers.context_for(s, who.participant_id, found[0], form_code, period, policy,
                                               rt.settings.validation_outlier_min_peers)

        known = await rt.read(context)
        if known is None:
            raise ApiError(422, "UNKNOWN_FORM", f"form {form_code} is not on an approved list for {period}",
                           f"формы {form_code} нет в утверждённом перечне на {period}",
                           f"{form_code} нысаны {period} бекітілген тізбесінде жоқ")
        (form, row), ctx = known

        def check() -> dict:
            doc = read_document(data, media_type_of(data, document.filename), form)
            judgement = judge(form, doc, check_identity(doc, form_code, period, who.participant_id), ctx, {})
            return {"ok": judgement.ok, "would_be": "queried" if judgement.queried else (
                        "valid" if judgement.ok else "rejected"),
                    "form_code": form_code, "period": period, "form_version": form.version, "list_year": row.year,
                    "list_version": row.list_version,
                    "findings": [f.model_dump(mode="json") for f in judgement.findings],
                    "open_queries": [f.model_dump(mode="json") for f in judgement.open_queries]}

        return await asyncio.to_thread(check)

    def readable(s, who: Principal, submission_id: str) -> Result | None:
        r = s.get(Result, submission_id)
        if r is None or r.participant_id is None or not who.reaches(ancestors(s, r.participant_id)):
            return None
        return r

    @api.get("/results/{submission_id}", responses=refusals(STATUS, "RESULT_UNKNOWN"))
    async def result(submission_id: Ref,
                     who: Annotated[Principal, Depends(READ)]) -> dict:
        """A submission's findings (each with its cells, the values seen, the relation expected,
        kk/ru/en messages and any explanation) and the form version it was judged by."""
        found = await rt.read(lambda s: readable(s, who, submission_id))
        if found is None:
            raise unknown(submission_id)
        return result_view(found)

    @api.get("/results/{submission_id}/report.xlsx", response_class=Response, responses={
        **refusals(STATUS, "RESULT_UNKNOWN"), **documents(XLSX)})
    async def result_workbook(submission_id: Ref, who: Annotated[Principal, Depends(READ)],
                              request: Request) -> Response:
        """The submitted workbook (or the template filled with the values read) with every
        problem cell highlighted and commented in kk/ru/en, and a sheet of all findings. It
        carries the submission's figures: the read is recorded (…/reads)."""
        by = reads.reader(who, request)

        def load(s):
            r = readable(s, who, submission_id)
            found = handlers.form_for(s, r.form_code, r.period) if r is not None else None
            if found is None:
                return None
            reads.record(s, by, READS_KIND, submission_id, "xlsx", reads.FILE)
            return r, found[0]

        loaded = await rt.in_transaction(load)
        if loaded is None:
            raise unknown(submission_id)
        r, form = loaded
        stored = StoredObject.model_validate_json(r.document) if r.document else None
        submitted = await asyncio.to_thread(rt.store.get, stored) if stored and stored.media_type == XLSX else None
        values = {c: (None if v is None else handlers.value_of(v)) for c, v in json.loads(r.values).items()}
        findings = [Finding.model_validate(f) for f in json.loads(r.findings)]
        data = await asyncio.to_thread(report, form, findings, values, submitted, r.participant_id, r.period)
        return Response(data, media_type=XLSX, headers={
            "Content-Disposition": f'attachment; filename="{r.form_code}-{r.period}-findings.xlsx"'})

    @api.get("/results/{submission_id}/reads", responses=refusals(STATUS, "RESULT_UNKNOWN"))
    async def result_reads(submission_id: Ref, who: Annotated[Principal, Depends(READ)]) -> list[dict]:
        """Who read the submission's finding workbook, when and from which address: whoever may
        read the result (its submitter, the departments above it, the Ministry), as intake's reads
        of the submission's documents."""

        def work(s):
            if readable(s, who, submission_id) is None:
                return None
            return reads.reads_of(s, READS_KIND, submission_id)

        found = await rt.read(work)
        if found is None:
            raise unknown(submission_id)
        return found

    return api
