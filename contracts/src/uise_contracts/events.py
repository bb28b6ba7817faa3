"""Version 1 of every UISE event (DESIGN.md §2).

Rules for change (DESIGN.md §4): within a version only add optional fields; a breaking change is
a new model published on a new `.v<N+1>` topic side by side with the old one.
Every model forbids nothing extra on read (`extra="ignore"`) so an older consumer keeps working
when a producer adds a field.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


class Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# --- registry -----------------------------------------------------------------------------


class Level(StrEnum):
    ministry = "ministry"
    region = "region"
    district = "district"
    organization = "organization"


class HeadTerm(Event):
    """A first head's term: who could sign for the organization between these dates."""

    iin: str = Field(pattern=r"^\d{12}$")
    full_name: str
    valid_from: date
    valid_to: date | None = None


class StaffMember(Event):
    """A person the head has named to act for the organization (v1.1, additive). Known roles:
    `accountant` (fills in and uploads the forms), `officer` (a department's officer: inbox,
    returns, registry of its subtree), `data_office` (the Ministry's data office: registry and the
    list of forms), `analyst` (reads reports). A consumer treats an unknown role as no role."""

    iin: str = Field(pattern=r"^\d{12}$")
    full_name: str = Field(max_length=300)
    role: str = Field(pattern=r"^[a-z_]{1,32}$")
    valid_from: date
    valid_to: date | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class ParentTerm(Event):
    """One stretch of time a participant answered to one superior (a school moved to another
    district, a district merged into another)."""

    parent_id: str
    valid_from: date
    valid_to: date | None = None

    def active_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


class ParticipantUpserted(Event):
    """The current state of one participant; the compacted topic keeps the latest per id."""

    participant_id: str = Field(description="Stable id, equal to the participant's BIN")
    bin: str = Field(pattern=r"^\d{12}$")
    level: Level
    kind: str = Field(description="e.g. ministry, region, district, school, college, university, preschool")
    parent_id: str | None
    name_kk: str
    name_ru: str
    head_iin: str | None = Field(default=None, pattern=r"^\d{12}$", description="The head today")
    head_name: str | None = None
    active: bool = True
    # added in v1.1 (additive): registry details and the history of heads
    kato: str | None = Field(default=None, description="KATO territorial code")
    active_from: date | None = None
    active_to: date | None = Field(default=None, description="Set when the participant is closed")
    heads: list[HeadTerm] = []
    staff: list[StaffMember] = Field(default=[], description="People the head has named, with their roles (v1.1)")
    parents: list[ParentTerm] = Field(
        default=[], description="Whom the participant answered to, and from when (v1.3): a period is consolidated "
                                "by the hierarchy in force for it. Empty: `parent_id` always")

    def parent_on(self, day: date) -> str | None:
        """The superior on `day`: the term in force then, else `parent_id`."""
        for term in self.parents:
            if term.active_on(day):
                return term.parent_id
        return self.parent_id

    def head_on(self, day: date) -> HeadTerm | None:
        """Who was the first head on `day` (clause 8: the signer must be the head then)."""
        for term in self.heads:
            if term.valid_from <= day and (term.valid_to is None or day <= term.valid_to):
                return term
        return None


class Category(StrEnum):
    indicators = "indicators"
    monitoring = "monitoring"
    other = "other"


class FieldType(StrEnum):
    integer = "integer"
    decimal = "decimal"
    text = "text"
    enumeration = "enumeration"
    date = "date"


Aggregate = Literal["sum", "mean", "min", "max", "none"]


class FormField(Event):
    """One cell of a form, addressed by `code`; forms with sections derive their cells."""

    code: str
    title: str
    type: FieldType = FieldType.integer
    required: bool = True
    aggregate: Aggregate = "sum"
    unit: str | None = None
    options: list[str] = Field(default=[], description="Allowed values of an enumeration")
    # v1.2 (additive): the plausible range of a number (issue 9); outside it is an error or a query
    min: Decimal | None = Field(default=None, description="Smallest plausible value (numbers)")
    max: Decimal | None = Field(default=None, description="Largest plausible value (numbers)")
    range_severity: Literal["error", "warning"] = "error"


class FormColumn(Event):
    code: str
    title_kk: str
    title_ru: str
    title_en: str
    type: FieldType = FieldType.integer
    unit: str | None = None
    required: bool = True
    aggregate: Aggregate = "sum"
    options: list[str] = []
    min: Decimal | None = None  # v1.2, as FormField's
    max: Decimal | None = None
    range_severity: Literal["error", "warning"] = "error"


class FormRow(Event):
    code: str
    title_kk: str
    title_ru: str
    title_en: str


class FormSection(Event):
    """A table of the form: every row × column is an input cell `<section>.<row>.<column>`."""

    code: str
    title_kk: str
    title_ru: str
    title_en: str
    rows: list[FormRow]
    columns: list[FormColumn]


MissingStrategy = Literal["skip_if_any_missing", "skip_if_all_missing", "never_skip"]


class FormRule(Event):
    """A validation rule. v1: `left` must equal the sum of `right`. v1.2 (additive): `expr`, an
    assertion in the rule language (uise_common.rules, docs/validation.md), e.g.
    `pupils.total.girls + pupils.total.boys == pupils.total.all` or
    `if boarding == "no" then boarders == 0`; each side of its comparison has a missing-value
    strategy (DHIS2's): skip the rule if any / all of the side's cells are empty, or never skip
    (an empty cell counts as 0). `severity` error rejects; warning is a query that needs the
    submitter's written explanation."""

    code: str
    severity: Literal["error", "warning"] = "error"
    left: str | None = None
    right: list[str] = []
    message: str = Field(description="English; the kk and ru messages beside it")
    expr: str | None = None
    missing_left: MissingStrategy = "skip_if_any_missing"
    missing_right: MissingStrategy = "skip_if_any_missing"
    message_kk: str | None = None
    message_ru: str | None = None


class FormDefinition(Event):
    code: str
    version: int = 1
    title_kk: str
    title_ru: str
    title_en: str
    category: Category
    period_type: Literal["annual", "semiannual", "quarterly", "monthly", "as_of_date", "ad_hoc"]
    respondent_kinds: list[str]
    fields: list[FormField] = []
    rules: list[FormRule] = []
    deadline_days: dict[Level, int] = Field(
        description="Days after the period end by which each level delivers to its parent"
    )
    sections: list[FormSection] = Field(default=[], description="Tables of the form (v1.1, additive)")
    signers: Literal["first_head", "first_head_or_right_to_sign"] = Field(
        default="first_head",
        description="Who may sign a submission (clause 8): the first head only, or also an "
                    "employee with the right to sign (v1.1, additive)")

    def cells(self) -> list[FormField]:
        """Every input cell: the flat fields, then each section's rows × columns."""
        out = list(self.fields)
        for sec in self.sections:
            for row in sec.rows:
                for col in sec.columns:
                    out.append(FormField(
                        code=f"{sec.code}.{row.code}.{col.code}", title=f"{sec.title_en}: {row.title_en} / {col.title_en}",
                        type=col.type, required=col.required, aggregate=col.aggregate, unit=col.unit,
                        options=col.options, min=col.min, max=col.max, range_severity=col.range_severity))
        return out


class FormListApproved(Event):
    year: int
    version: int
    order_no: str
    order_date: date
    forms: list[FormDefinition]
    signatory: str | None = None
    supersedes_version: int | None = Field(default=None, description="The version this amendment replaces")


# --- the submission path ------------------------------------------------------------------


class StoredObject(Event):
    key: str = Field(description="Object-store key, addressed by content hash")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int
    media_type: str


class Claimable(Event):
    """An event that carries its large user data by reference when they would make it large (the
    claim check, v1.4, additive): the fields named in `CLAIMED` are then left at their defaults
    (empty) and `claim` names a JSON object in object storage holding them, `{field: value}`.
    A consumer that reads those fields resolves the claim first and checks the object against
    its SHA-256 (uise_common.claimcheck); one that only passes them on copies `claim` as it is
    (routing: submission.validated to submission.accepted)."""

    CLAIMED: ClassVar[tuple[str, ...]] = ()
    claim: StoredObject | None = Field(
        default=None, description="Where the large fields are when the event carries them by reference (v1.4)")


class SubmissionReceived(Event):
    submission_id: str
    participant_id: str
    form_code: str
    period: str = Field(description="e.g. 2026, 2026-Q3, 2026-10")
    document: StoredObject
    signature: StoredObject
    signature_detached: bool = True
    delivered_at: datetime = Field(description="Recipient's intake receipt time (clause 10)")
    supersedes: str | None = None
    # v1.1 (additive): the paper channel of clause 8. A paper submission's `signature` object is
    # the scan of the signed title page, registered by the recipient.
    channel: Literal["electronic", "paper"] = "electronic"
    registered_by: str | None = Field(default=None, description="Who registered a paper submission")
    addressed_to: str | None = Field(
        default=None, description="The recipient the submitter named (v1.3); None: its immediate superior")
    explanations: dict[str, str] = Field(
        default={}, description="The submitter's written explanations of validation queries, by rule code (v1.1)")


class Signer(Event):
    iin: str | None = None
    name: str | None = None
    bin: str | None = None
    serial: str | None = None
    algorithm: str | None = None
    # v1.2 (additive): in a co-signed CMS, whether this signer satisfies the form's signing policy
    satisfies_policy: bool | None = Field(
        default=None, description="Whether this signer satisfies the form's signing policy (v1.2)")


class SignatureChecked(Event):
    submission_id: str
    participant_id: str
    form_code: str
    period: str
    document: StoredObject
    ok: bool
    reason_code: str | None = None
    message: str | None = None
    signer: Signer | None = Field(
        default=None, description="The signer who satisfies the signing policy, else the first signer")
    explanations: dict[str, str] = Field(default={}, description="Carried from submission.received (v1.1)")
    addressed_to: str | None = Field(default=None, description="Carried from submission.received (v1.3)")
    supersedes: str | None = Field(default=None, description="Carried from submission.received (v1.3)")
    # v1.2 (additive): co-signed CMS and the trusted time (issue 7)
    signers: list[Signer] = Field(
        default=[], description="Every verified signer of a (co-)signed CMS, in the CMS's order (v1.2)")
    trusted_time: datetime | None = Field(
        default=None, description="When `signer`'s certificate was judged valid and unrevoked (v1.2)")
    time_source: Literal["delivery", "timestamp"] | None = Field(
        default=None, description="`delivery`: intake's delivery time; `timestamp`: the genTime of the "
                                  "signer's RFC 3161 timestamp token (v1.2)")


class Finding(Event):
    rule: str
    severity: Literal["error", "warning"]
    message: str
    field: str | None = None
    # v1.2 (additive): what an accountant needs to act on it
    cells: list[str] = Field(default=[], description="The cells involved: sheet!A1 in a workbook, else field codes")
    observed: dict[str, str | None] = Field(default={}, description="The values seen, by cell code (exact)")
    expected: str | None = Field(default=None, description="The relation that should hold, as written")
    messages: dict[str, str] = Field(default={}, description="kk, ru, en")
    explanation: str | None = Field(default=None, description="The submitter's explanation of a query")


class CellAggregate(Event):
    """What a consolidated cell stands for, exactly, over the organizations (the leaves) beneath
    it: a mean is carried as sum and count so that a region's mean is the mean of its schools,
    never the mean of its districts' means; min and max likewise over the leaves."""

    sum: str = Field(description="Exact decimal: the sum over the leaves that gave the cell")
    count: int = Field(ge=0, description="How many leaves gave the cell")
    min: str | None = None
    max: str | None = None


class SubmissionValidated(Claimable):
    CLAIMED: ClassVar[tuple[str, ...]] = ("values", "values_exact", "aggregates", "findings")

    submission_id: str
    participant_id: str
    form_code: str
    period: str
    ok: bool
    findings: list[Finding] = []
    values: dict[str, float | int | str | None] = {}
    # v1.2 (additive): numbers exactly as read (decimal strings), and the form version judged by
    values_exact: dict[str, str | None] = Field(default={}, description="Numbers as exact decimal strings")
    form_version: int | None = None
    list_year: int | None = None
    list_version: int | None = None
    aggregates: dict[str, CellAggregate] = Field(
        default={}, description="A consolidated document's exact aggregates by cell (v1.3); empty for an organization")
    addressed_to: str | None = Field(default=None, description="Carried from submission.received (v1.3)")
    supersedes: str | None = Field(default=None, description="Carried from submission.received (v1.3)")


class SubmissionQueried(Claimable):
    """Validation found queries (unusual but possible values) without the submitter's written
    explanation: the submission waits for it (the UK census's "queries"), neither accepted nor
    rejected. `findings` are the queries still open."""

    CLAIMED: ClassVar[tuple[str, ...]] = ("findings",)

    submission_id: str
    participant_id: str
    form_code: str
    period: str
    findings: list[Finding] = []
    form_version: int | None = None


class SubmissionExplained(Event):
    """The submitter's written explanations of a queried submission's queries, by rule code,
    given after upload (explanations given at upload travel in submission.received)."""

    submission_id: str
    participant_id: str
    form_code: str
    period: str
    explanations: dict[str, str]
    explained_by: str
    explained_at: datetime


class SubmissionAccepted(Claimable):
    # the same fields as submission.validated's, so routing passes validation's claim on as it is
    CLAIMED: ClassVar[tuple[str, ...]] = ("values", "values_exact", "aggregates", "findings")

    submission_id: str
    participant_id: str
    recipient_id: str
    form_code: str
    period: str
    values: dict[str, float | int | str | None] = {}
    values_exact: dict[str, str | None] = Field(default={}, description="Numbers as exact decimal strings (v1.2)")
    aggregates: dict[str, CellAggregate] = Field(
        default={}, description="A consolidated document's exact aggregates by cell (v1.3); empty for an organization")
    supersedes: str | None = Field(default=None, description="The version this one corrects (v1.3)")
    corrects_accepted: bool = Field(
        default=False, description="A correction of data already accepted: distorted data corrected (clause 11, v1.3)")
    level: Level | None = Field(default=None, description="The submitter's level (v1.3)")
    findings: list[Finding] = Field(
        default=[], description="Validation's findings on the accepted version: warnings and explained queries (v1.3)")


class SubmissionReturned(Event):
    """The recipient sent a submission back: the submitter must correct it. Its figures leave
    the recipient's consolidation until the correction is accepted."""

    submission_id: str
    participant_id: str
    recipient_id: str
    form_code: str
    period: str
    comment: str = Field(max_length=2000)
    returned_by: str = Field(description="`iin:<IIN>` of the officer, or `client:<id>`")
    returned_at: datetime


class SubmissionRejected(Event):
    submission_id: str
    participant_id: str
    form_code: str
    period: str
    stage: Literal["signature", "validation", "routing"]
    reason_code: str
    message: str


class SubmissionProcessingFailed(Event):
    """A service could not process an event about a submission and dead-lettered it: the
    failure was deterministic (the event breaks its contract, the handler refused it) or it kept
    failing past the retry cap (uise_common.failures). The event waits in `<topic>.dlq` for
    operations; intake rejects the submission with `reason_code` unless it is final already, so
    every acknowledged submission still reaches one final state."""

    submission_id: str
    participant_id: str
    stage: str = Field(description="The service that could not process the event, e.g. `validation`")
    topic: str = Field(description="The topic of the event it could not process")
    event_id: str | None = Field(description="The CloudEvents id of that event (null: it had none that could be read)")
    reason_code: str = Field(description="`PROCESSING_FAILED`")
    failure: Literal["deterministic", "cap"] = Field(
        description="`deterministic`: retrying cannot help; `cap`: it kept failing for the retry policy's whole cap")
    error_type: str = Field(max_length=200, description="The class of the last error, e.g. `ValidationError`")
    attempts: int
    failed_at: datetime


class ConsolidationDue(Event):
    """A node must consolidate its subordinates' data and submit up (clause 9): all its expected
    subordinates are accepted (`complete`), or their deadline passed (`deadline`: the missing are
    listed), or something changed below after that (`update`), or after the node already
    submitted (`correction`: the node's consolidated submission needs a correction)."""

    node_id: str
    form_code: str
    period: str
    expected: int
    received: int
    reason: Literal["complete", "deadline", "update", "correction"] = "complete"  # v1.3 from here
    level: Level | None = Field(default=None, description="The node's level")
    due_id: str | None = Field(default=None, description="Unique per emission: node, form, period and a sequence")
    included: list[str] = Field(default=[], description="Subordinates whose accepted data are consolidated")
    late: list[str] = Field(default=[], description="Of those, delivered after their deadline")
    missing: list[str] = Field(default=[], description="Expected subordinates with nothing accepted")
    returned: list[str] = Field(default=[], description="Expected subordinates whose submission was returned")
    deadline_at: datetime | None = Field(default=None, description="The node's own effective deadline to submit up")
    submission_id: str | None = Field(
        default=None, description="`correction`: the node's consolidated submission that needs correcting")
    included_submissions: dict[str, str] = Field(
        default={}, description="Included subordinate → the accepted submission whose figures count")


class ConsolidationReady(Event):
    """The consolidated document of a node is built: the same form filled with the aggregates
    (XLSX and JSON), for the node's head to sign and submit up through intake."""

    consolidation_id: str = Field(description="node:form:period:version")
    node_id: str
    form_code: str
    period: str
    version: int = Field(ge=1)
    reason: Literal["complete", "deadline", "update", "correction"]
    documents: dict[str, StoredObject] = Field(description="`xlsx` and `json`")
    totals: dict[str, str | None] = Field(description="Exact figures by cell")
    aggregates: dict[str, CellAggregate] = {}
    included: list[str] = []
    late: list[str] = []
    missing: list[str] = []
    returned: list[str] = []
    included_submissions: dict[str, str] = Field(default={}, description="The submissions consolidated")
    built_at: datetime


class InfoRequestTarget(Event):
    """Who must answer: every active participant within `within` (default: everyone) whose kind
    is in `kinds` or whose level is in `levels`, plus `participant_ids`."""

    kinds: list[str] = []
    levels: list[Level] = []
    within: str | None = Field(default=None, description="A node whose subtree is targeted, e.g. one region")
    participant_ids: list[str] = []


class InfoRequestIssued(Event):
    """One per participant the request concerns: a `target` answers it; a `relay` (a department
    on the way down) consolidates its targets' answers and submits up."""

    request_id: str
    issued_by: str
    form_code: str
    to_participant_id: str
    due_at: datetime
    role: Literal["target", "relay"] = "target"  # v1.3 from here
    level: Level | None = None
    parent_id: str | None = Field(default=None, description="Whom the participant answers the request to")
    period: str | None = Field(default=None, description="The period the answers are for (as of a date)")
    form: FormDefinition | None = Field(default=None, description="The ad-hoc form (category `other`)")
    target: InfoRequestTarget | None = None
    title: str | None = None


class TimelinessRecorded(Event):
    submission_id: str
    participant_id: str
    form_code: str
    period: str
    delivered_at: datetime
    deadline_at: datetime | None
    on_time: bool | None = Field(description="None when no deadline is known for the form")
    # v1.1 (additive): how late, in the law's days, and which delivery the judgement rests on
    calendar_days_late: int | None = Field(default=None, description="0 when on time")
    working_days_late: int | None = Field(default=None, description="0 when on time; Kazakhstan's working days")
    judged_by_submission_id: str | None = Field(
        default=None, description="A correction is late only if the first version was: the version judged")


class DeadlineReminder(Event):
    """Something to tell a person: a deadline is near and nothing was delivered (`before`, to the
    participant), or it passed and a subordinate still has not delivered (`escalation`, to the
    superior). A notification channel (e-mail, SMS, the portal) sends it."""

    participant_id: str
    form_code: str
    period: str
    deadline_at: datetime
    # v1.1 (additive)
    kind: Literal["before", "escalation"] = "before"
    recipient_id: str | None = Field(default=None, description="Whom to tell: the participant, or its superior")
    level: Level | None = None
    lead: str | None = Field(default=None, description="ISO 8601 duration before (or after) the deadline, e.g. P1D")


class DeadlineViolation(Event):
    """Clause 11. `missing`: expected and not delivered at the effective deadline. `late`:
    delivered after it (a missing one that finally delivers closes as late: the same participant,
    form and period, now with the submission and how late)."""

    participant_id: str
    form_code: str
    period: str
    kind: Literal["late", "missing"]
    deadline_at: datetime
    submission_id: str | None = None
    # v1.1 (additive)
    recipient_id: str | None = Field(default=None, description="The superior the participant answers to")
    level: Level | None = None
    calendar_days_late: int | None = None
    working_days_late: int | None = None
    replaces_missing: bool = Field(default=False, description="A late delivery closing a missing violation")


class DeadlineChanged(Event):
    """An effective deadline published or moved (clause 11: a rule's date on a day off moves to
    the end of the next working day; the calendar of decrees can move it later, never earlier)."""

    form_code: str
    period: str
    level: Level
    rule_date: date = Field(description="The date the form's rule gives: the period's end plus its days")
    old_deadline_at: datetime | None = Field(description="None when first published")
    new_deadline_at: datetime
    reason: Literal["published", "calendar", "list_amended"]
    decree: str | None = Field(default=None, description="The decree behind a calendar change")


class SubmissionAggregated(Event):
    submission_id: str
    participant_id: str
    node_id: str = Field(description="The recipient whose consolidated figures now include it")
    form_code: str
    period: str
    contributors: int


class ReportDocument(Event):
    """One format of a report version, for a consumer outside UISE to fetch and check."""

    media_type: str
    sha256: str
    size: int
    url: str = Field(description="The document through the reporting API: a signed link that works without a "
                                 "token until `expires_at`; after that, ask the API for a fresh one")
    expires_at: datetime


class ReportChange(Event):
    """A figure that differs from the previous version of the same report."""

    cell: str
    before: str | None
    after: str | None


class ReportSignature(Event):
    """The system's document-signing key over the report's manifest (report_id, version and each
    document's SHA-256, canonical JSON); checked like an intake receipt (docs/integrators.md)."""

    alg: Literal["Ed25519"] = "Ed25519"
    key_id: str
    value: str = Field(description="base64")


class ReportPublished(Event):
    """One per report version (v1.3 adds everything after `totals`; `document` is an internal
    object key, kept for old consumers: fetch `documents[...].url` instead)."""

    report_id: str
    node_id: str
    form_code: str
    period: str
    document: StoredObject
    totals: dict[str, float | int | None]
    level: Level | None = None
    version: int | None = Field(default=None, description="1, 2, … per report")
    status: Literal["preliminary", "final"] | None = None
    summary: dict[str, str | None] = Field(default={}, description="The report's figures, exact, by cell")
    documents: dict[str, ReportDocument] = Field(default={}, description="`json`, `xlsx`, `pdf`")
    changes: list[ReportChange] = Field(default=[], description="What differs from the previous version")
    signature: ReportSignature | None = None
    built_from: int | None = Field(default=None, description="How many accepted submissions it rests on")
    published_at: datetime | None = None


# --- identity (audit) -------------------------------------------------------------------------


class SessionStarted(Event):
    """Somebody signed in (a person with the EDS, or a machine client with its credentials)."""

    session_id: str
    subject: str = Field(description="`iin:<IIN>` for a person, `client:<id>` for a machine client")
    participant_id: str | None = Field(description="The organization the session acts for")
    role: str
    method: Literal["eds", "client_credentials"]
    started_at: datetime
    expires_at: datetime = Field(description="When the session (its refresh token) ends at the latest")
    certificate_serial: str | None = Field(default=None, description="The EDS certificate signed in with")


class SessionEnded(Event):
    """A session ended before its time: signed out, revoked, or its holder lost the role."""

    session_id: str
    subject: str
    participant_id: str | None
    reason: Literal["signed_out", "revoked", "role_lost", "refresh_reused"]
    ended_at: datetime
    by: str | None = Field(default=None, description="Who ended it, when not the holder")
