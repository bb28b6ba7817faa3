"""One example of every event, per version, plus the small school form the demo and tests use.
They are documentation that cannot go stale: a test round-trips each through its topic."""

from __future__ import annotations

from datetime import UTC, date, datetime

from uise_contracts import events as e
from uise_contracts.events import Category, FieldType, FormDefinition, FormField, FormRule, Level

SCHOOL_FORM = FormDefinition(
    code="SCH-1",
    title_kk="Мектептің жылдық есебі (қысқа)",
    title_ru="Годовой отчёт школы (краткий)",
    title_en="School annual report (short)",
    category=Category.indicators,
    period_type="annual",
    respondent_kinds=["school"],
    fields=[
        FormField(code="pupils_total", title="Pupils, total"),
        FormField(code="pupils_girls", title="of them girls"),
        FormField(code="pupils_boys", title="of them boys"),
        FormField(code="classes", title="Classes"),
        FormField(code="teachers", title="Teaching staff"),
        FormField(code="comment", title="Comment", type=FieldType.text, required=False, aggregate="none"),
    ],
    rules=[FormRule(code="R1", left="pupils_total", right=["pupils_girls", "pupils_boys"],
                    message="pupils_total must equal girls + boys")],
    deadline_days={Level.organization: 10, Level.district: 20, Level.region: 30},
)

_AT = datetime(2027, 1, 8, 16, 30, tzinfo=UTC)
_SHA = "a4f1b42b759f9cd254f8b2c8d1031431ccdfb218796356bf7699eed0f23c53f7"
_DOC = e.StoredObject(key=f"documents/sha256/a4/{_SHA}", sha256=_SHA, size=96, media_type="application/json")
_SIG = e.StoredObject(key=f"signatures/sha256/a4/{_SHA}", sha256=_SHA, size=1480, media_type="application/pkcs7-signature")
_SUB = dict(submission_id="6f25b8d1-4320-4ed3-a182-11e21835edba", participant_id="220440000019",
            form_code="SCH-1", period="2026")
_VALUES = {"pupils_total": 810, "pupils_girls": 412, "pupils_boys": 398, "classes": 33, "teachers": 55}

EXAMPLES: dict[type, e.Event] = {
    e.ParticipantUpserted: e.ParticipantUpserted(
        participant_id="220440000019", bin="220440000019", level=Level.organization, kind="school",
        parent_id="210340000013", name_kk="№1 мектеп-лицей", name_ru="Школа-лицей №1",
        head_iin="800101300016", head_name="Директор 1",
        staff=[e.StaffMember(iin="900202400027", full_name="Бухгалтер 1", role="accountant",
                             valid_from=date(2026, 9, 1))]),
    e.FormListApproved: e.FormListApproved(year=2026, version=1, order_no="№ 1", order_date=date(2026, 1, 15),
                                           forms=[SCHOOL_FORM]),
    e.SubmissionReceived: e.SubmissionReceived(**_SUB, document=_DOC, signature=_SIG, delivered_at=_AT),
    e.SignatureChecked: e.SignatureChecked(
        **_SUB, document=_DOC, ok=True, trusted_time=_AT, time_source="delivery",
        signer=e.Signer(iin="800101300016", bin="220440000019", name="Директор 1", serial="4de3",
                        algorithm="sha256WithRSA", satisfies_policy=True),
        signers=[e.Signer(iin="800101300016", bin="220440000019", name="Директор 1", serial="4de3",
                          algorithm="sha256WithRSA", satisfies_policy=True),
                 e.Signer(iin="850505400033", bin="220440000019", name="Бас бухгалтер", serial="4de4",
                          algorithm="sha256WithRSA", satisfies_policy=False)]),
    e.SubmissionValidated: e.SubmissionValidated(**_SUB, ok=True, values=_VALUES),
    e.SubmissionAccepted: e.SubmissionAccepted(**_SUB, recipient_id="210340000013", values=_VALUES,
                                               level=Level.organization),
    e.SubmissionReturned: e.SubmissionReturned(**_SUB, recipient_id="210340000013",
                                               comment="classes: 33 does not match the school's passport (31)",
                                               returned_by="iin:870303400044", returned_at=_AT),
    e.SubmissionQueried: e.SubmissionQueried(**_SUB, form_version=1, findings=[e.Finding(
        rule="Q-TEACHERS", severity="warning", message="teachers per class is unusually high (55 for 33 classes)",
        field="teachers", cells=["teachers", "classes"], observed={"teachers": "55", "classes": "33"},
        expected="teachers <= 1.5 * classes")]),
    e.SubmissionExplained: e.SubmissionExplained(**_SUB, explanations={"Q-TEACHERS": "12 part-time music teachers"},
                                                 explained_by="iin:900202400022@220440000019/accountant",
                                                 explained_at=_AT),
    e.SubmissionRejected: e.SubmissionRejected(**_SUB, stage="signature", reason_code="NOT_FIRST_HEAD",
                                               message="the signer is not the organization's first head"),
    e.SubmissionProcessingFailed: e.SubmissionProcessingFailed(
        submission_id=_SUB["submission_id"], participant_id=_SUB["participant_id"], stage="validation",
        topic="uise.submission.signature-checked.v1", event_id="1d0c5e44-8a31-4c1e-9b59-2f1b4a7f0e21",
        reason_code="PROCESSING_FAILED", failure="deterministic", error_type="ValidationError", attempts=1,
        failed_at=_AT),
    e.TimelinessRecorded: e.TimelinessRecorded(**_SUB, delivered_at=_AT, on_time=True,
                                               deadline_at=datetime(2027, 1, 11, 18, 59, 59, tzinfo=UTC)),
    e.SubmissionAggregated: e.SubmissionAggregated(**_SUB, node_id="210340000013", contributors=2),
    e.ConsolidationDue: e.ConsolidationDue(node_id="210340000013", form_code="SCH-1", period="2026",
                                           expected=2, received=1, reason="deadline", level=Level.district,
                                           due_id="210340000013:SCH-1:2026:1", included=["220440000019"],
                                           included_submissions={"220440000019": _SUB["submission_id"]},
                                           missing=["220440000029"],
                                           deadline_at=datetime(2027, 1, 21, 18, 59, 59, tzinfo=UTC)),
    e.ConsolidationReady: e.ConsolidationReady(
        consolidation_id="210340000013:SCH-1:2026:1", node_id="210340000013", form_code="SCH-1", period="2026",
        version=1, reason="deadline",
        documents={"json": e.StoredObject(key=f"consolidations/sha256/a4/{_SHA}", sha256=_SHA, size=96,
                                          media_type="application/json")},
        totals={"pupils_total": "810", "pupils_girls": "412", "pupils_boys": "398", "classes": "33",
                "teachers": "55"},
        aggregates={"teachers": e.CellAggregate(sum="55", count=1, min="55", max="55")},
        included=["220440000019"], missing=["220440000029"],
        included_submissions={"220440000019": _SUB["submission_id"]}, built_at=_AT),
    e.InfoRequestIssued: e.InfoRequestIssued(
        request_id="ir-1", issued_by="100140011059", form_code="IR-2026-1", to_participant_id="210240000018",
        due_at=_AT, role="relay", level=Level.region, parent_id="100140011059", period="2026-12-15",
        title="Schools without a gym", target=e.InfoRequestTarget(kinds=["school"], within="210240000018"),
        form=FormDefinition(code="IR-2026-1", title_kk="Спорт залы жоқ мектептер", title_ru="Школы без спортзала",
                            title_en="Schools without a gym", category=Category.other, period_type="as_of_date",
                            respondent_kinds=["school"], deadline_days={},
                            fields=[FormField(code="has_gym", title="Has a gym (1/0)")])),
    e.DeadlineReminder: e.DeadlineReminder(participant_id="220440000029", form_code="SCH-1", period="2026",
                                           deadline_at=_AT),
    e.DeadlineViolation: e.DeadlineViolation(participant_id="220440000029", form_code="SCH-1", period="2026",
                                             kind="missing", deadline_at=_AT, recipient_id="210340000013",
                                             level=Level.organization),
    e.DeadlineChanged: e.DeadlineChanged(form_code="SCH-1", period="2026", level=Level.organization,
                                         rule_date=date(2027, 1, 10), old_deadline_at=None,
                                         new_deadline_at=datetime(2027, 1, 11, 18, 59, 59, tzinfo=UTC),
                                         reason="published"),
    e.ReportPublished: e.ReportPublished(
        report_id="100140011059:SCH-1:2026", node_id="100140011059", form_code="SCH-1", period="2026", document=_DOC,
        totals={"pupils_total": 1321}, level=Level.ministry, version=2, status="final",
        summary={"pupils_total": "1321"},
        documents={fmt: e.ReportDocument(
            media_type=media, sha256=_SHA, size=size, expires_at=_AT,
            url=f"https://uise.edu.kz/reporting/v1/reports/100140011059:SCH-1:2026/2/document.{fmt}"
                "?expires=1799999999&sig=…")
            for fmt, media, size in (("json", "application/json", 1731),
                                     ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 6282),
                                     ("pdf", "application/pdf", 53111))},
        changes=[e.ReportChange(cell="pupils_total", before="1320", after="1321")],
        signature=e.ReportSignature(key_id="k-2026", value="9sB0v…"), built_from=3, published_at=_AT),
    e.SessionStarted: e.SessionStarted(session_id="s-5b1c", subject="iin:800101300016", participant_id="220440000019",
                                       role="head", method="eds", started_at=_AT,
                                       expires_at=datetime(2027, 1, 9, 0, 30, tzinfo=UTC), certificate_serial="4de3"),
    e.SessionEnded: e.SessionEnded(session_id="s-5b1c", subject="iin:800101300016", participant_id="220440000019",
                                   reason="signed_out", ended_at=datetime(2027, 1, 8, 17, 0, tzinfo=UTC)),
}

# submission.accepted of a form so large that its figures and findings travel by reference (the
# claim check, v1.4): they are in the object `claim` names, and the event's own copies are empty.
_CLAIM_SHA = "3b0d5bb6c5a8c7e0a3b1f5c0e6a1d4f2b9c8e7d6a5f4e3d2c1b0a9f8e7d6c5b4"
CLAIMED_EXAMPLE = e.SubmissionAccepted(
    **_SUB, recipient_id="210340000013", level=Level.organization,
    claim=e.StoredObject(key=f"claims/sha256/3b/{_CLAIM_SHA}", sha256=_CLAIM_SHA, size=1_843_220,
                         media_type="application/json"))

