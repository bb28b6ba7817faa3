"""Report versions (docs/reports.md): a national report over two departments' levels whose totals
equal the schools' sum in JSON, XLSX and PDF (each read back), a correction below that makes a new
version listing the change while the older one stays in the store, a replayed due that makes no
second version, and the signature checked by the receipt tool's function."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from uise_common.docsign import DocumentSigner, verify_report
from uise_common.docsign import main as uise_receipt
from uise_common.objectstore import sha256_hex
from uise_common.testing import migrated_sqlite, run_handler
from uise_contracts.events import (
    ConsolidationDue,
    ConsolidationReady,
    Finding,
    FormListApproved,
    Level,
    ParticipantUpserted,
    ReportPublished,
    StoredObject,
    SubmissionAccepted,
)
from uise_reporting.adapters import MIGRATIONS, ReportVersion
from uise_reporting.handlers import make_on_due, on_accepted, on_formlist, on_participant

from .test_reporting import FORM

MINISTRY, REGION = "100140000011", "200140000015"
DISTRICTS = {"210340000012": ["220440000013", "220440000024"], "210340000023": ["220440000035"]}
SCHOOL_VALUES = {
    "220440000013": {"pupils": 100, "score": "3.5", "youngest": 23, "oldest": 61, "budget": "1000.10",
                     "staff.teachers.women": 8, "staff.teachers.men": 2},
    "220440000024": {"pupils": 50, "score": "4.25", "youngest": 25, "oldest": 58, "budget": "0.20",
                     "staff.teachers.women": 5, "staff.teachers.men": 1},
    "220440000035": {"pupils": 70, "score": "4", "youngest": 22, "oldest": 64, "budget": "12.7"},
}


FINDINGS = {  # validation's findings on two accepted schools: a warning, and a query explained
    "220440000013": [Finding(rule="W_BUDGET_HIGH", severity="warning", message="budget per pupil is high")],
    "220440000024": [Finding(rule="W_BUDGET_HIGH", severity="warning", message="budget per pupil is high",
                             explanation="a new building was paid this year")],
}


class Campaign:
    """Schools -> districts -> region -> Ministry, each department consolidating on its due and
    submitting its consolidated figures (with their exact aggregates) to its superior."""

    def __init__(self, tmp_path):
        self.engine = migrated_sqlite(tmp_path, MIGRATIONS)
        self.stored: dict[str, bytes] = {}
        self.signer = DocumentSigner.ephemeral()
        self.on_due = make_on_due(self.put, self.signer)
        self.dues = 0
        run_handler(self.engine, on_formlist, FormListApproved(year=2026, version=2, order_no="45",
                                                              order_date=date(2026, 1, 15), forms=[FORM]))
        people = [(MINISTRY, Level.ministry, "ministry", None), (REGION, Level.region, "region", MINISTRY)]
        for district, schools in DISTRICTS.items():
            people.append((district, Level.district, "district", REGION))
            people += [(s, Level.organization, "school", district) for s in schools]
        for pid, level, kind, parent in people:
            run_handler(self.engine, on_participant, ParticipantUpserted(
                participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent, name_kk="x", name_ru="x"))

    def put(self, data: bytes, kind: str, media: str) -> StoredObject:
        key = f"{kind}/{sha256_hex(data)}"
        self.stored[key] = data
        return StoredObject(key=key, sha256=sha256_hex(data), size=len(data), media_type=media)

    def accept(self, sid, participant, node, values, *, aggregates=None, level=Level.organization, supersedes=None,
               findings=()):
        run_handler(self.engine, on_accepted, SubmissionAccepted(
            submission_id=sid, participant_id=participant, recipient_id=node, form_code=FORM.code, period="2026",
            values={}, values_exact={k: str(v) for k, v in values.items() if v is not None},
            aggregates=aggregates or {}, level=level, supersedes=supersedes, corrects_accepted=supersedes is not None,
            findings=list(findings)))

    def due(self, node, included: dict[str, str], *, level, reason="complete", due_id=None):
        self.dues += 1
        return run_handler(self.engine, self.on_due, ConsolidationDue(
            node_id=node, form_code=FORM.code, period="2026", expected=len(included), received=len(included),
            reason=reason, level=level, due_id=due_id or f"{node}:{self.dues}", included=sorted(included),
            included_submissions=included, late=[]))

    def up(self, sid, node, superior, ready: ConsolidationReady, level, supersedes=None):
        self.accept(sid, node, superior, ready.totals, aggregates=ready.aggregates, level=level, supersedes=supersedes)

    def run(self) -> ReportPublished:
        for district, schools in DISTRICTS.items():
            for s in schools:
                self.accept(f"sub-{s}", s, district, SCHOOL_VALUES[s], findings=FINDINGS.get(s, ()))
            ready, _ = self.due(district, {s: f"sub-{s}" for s in schools}, level=Level.district)
            self.up(f"up-{district}", district, REGION, ready, Level.district)
        ready, _ = self.due(REGION, {d: f"up-{d}" for d in DISTRICTS}, level=Level.region)
        self.up(f"up-{REGION}", REGION, MINISTRY, ready, Level.region)
        _, report = self.due(MINISTRY, {REGION: f"up-{REGION}"}, level=Level.ministry, due_id="national-1")
        return report

    def document(self, report: ReportPublished, fmt: str) -> bytes:
        return self.stored[f"reports/{report.documents[fmt].sha256}"]


@pytest.fixture
def campaign(tmp_path):
    return Campaign(tmp_path)


def school_sum(cell: str) -> Decimal:
    return sum((Decimal(str(v[cell])) for v in SCHOOL_VALUES.values() if cell in v), Decimal(0))


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_national_report_equals_the_schools_sum_in_all_three_formats(campaign):
    report = campaign.run()
    assert report.report_id == f"{MINISTRY}:{FORM.code}:2026" and report.version == 1
    assert report.level == Level.ministry and report.status == "final" and report.built_from == 1
    assert report.summary["pupils"] == "220" and report.summary["budget"] == "1013"
    assert report.summary["score"] == "3.916667"  # the mean over the three schools, exactly

    doc = json.loads(campaign.document(report, "json"))
    for cell in ("pupils", "budget", "staff.teachers.women", "staff.teachers.men"):
        assert Decimal(doc["totals"][cell]) == school_sum(cell), cell
        assert Decimal(report.summary[cell]) == school_sum(cell)
    assert doc["status"] == "final" and doc["level"] == "ministry" and doc["version"] == 1
    assert doc["form_version"] == FORM.version and doc["form_list"] == {
        "year": 2026, "version": 2, "order_no": "45", "order_date": "2026-01-15"}
    assert doc["aggregates"]["score"] == {"sum": "11.75", "count": 3, "min": "3.5", "max": "4.25"}
    [region] = doc["breakdown"]
    assert region["participant_id"] == REGION and region["figures"]["pupils"] == "220"
    assert {d["participant_id"]: d["figures"]["pupils"] for d in region["subordinates"]} == {
        "210340000012": "150", "210340000023": "70"}
    assert [(c["level"], c["expected"], c["delivered"], c["on_time"], c["missing"]) for c in doc["completeness"]] == [
        ("region", 1, 1, 1, 0), ("district", 2, 2, 2, 0), ("organization", 3, 3, 3, 0)]
    assert doc["submissions"] == [{"participant_id": REGION, "submission_id": f"up-{REGION}", "level": "region"}]
    assert doc["changes"] == [] and doc["corrections"] == []
    # validation's findings on the schools' data, three levels down, by rule
    assert doc["findings"] == [{"rule": "W_BUDGET_HIGH", "severity": "warning", "message": "budget per pupil is high",
                                "submissions": 2, "explained": 1, "participants": ["220440000013", "220440000024"]}]

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(campaign.document(report, "xlsx")))
    assert wb.sheetnames == ["totals", "breakdown", "completeness", "findings", "corrections"]
    assert list(wb["findings"].iter_rows(min_row=2, values_only=True)) == [
        ("W_BUDGET_HIGH", "warning", 2, 1, "budget per pupil is high", "220440000013, 220440000024")]
    rows = {r[0]: r for r in wb["totals"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(rows["pupils"][3]) == school_sum("pupils") and rows["pupils"][2] == 220
    assert Decimal(rows["budget"][3]) == school_sum("budget")
    assert not any(isinstance(c.value, str) and c.value.startswith("=")
                   for ws in wb for row in ws.iter_rows() for c in row)
    breakdown = list(wb["breakdown"].iter_rows(values_only=True))
    assert breakdown[1][:3] == (REGION, "region", None) and len(breakdown) == 1 + 1 + 2

    text = pdf_text(campaign.document(report, "pdf"))
    assert f"Отчёт по форме {FORM.code} за 2026" in text
    assert f"{FORM.code} нысаны бойынша 2026 кезеңіндегі есеп" in text  # Kazakh letters survive
    assert "окончательный / қорытынды" in text and "1013" in text and "220" in text
    assert "W_BUDGET_HIGH" in text


def test_a_correction_below_makes_a_new_version_listing_the_change(campaign):
    first = campaign.run()
    school, district = "220440000035", "210340000023"
    campaign.accept("sub-fix", school, district, {**SCHOOL_VALUES[school], "pupils": 75}, supersedes=f"sub-{school}")
    ready, district_report = campaign.due(district, {school: "sub-fix"}, level=Level.district, reason="correction")
    assert district_report.version == 2 and [c.model_dump() for c in district_report.changes] == [
        {"cell": "pupils", "before": "70", "after": "75"}]
    campaign.up("up-fix", district, REGION, ready, Level.district, supersedes=f"up-{district}")
    ready, _ = campaign.due(REGION, {"210340000012": "up-210340000012", district: "up-fix"}, level=Level.region,
                            reason="correction")
    campaign.up("up-region-fix", REGION, MINISTRY, ready, Level.region, supersedes=f"up-{REGION}")
    _, second = campaign.due(MINISTRY, {REGION: "up-region-fix"}, level=Level.ministry, reason="update")
    assert second.report_id == first.report_id and second.version == 2 and second.status == "final"
    assert [c.model_dump() for c in second.changes] == [{"cell": "pupils", "before": "220", "after": "225"}]
    assert json.loads(campaign.document(second, "json"))["changes"] == [
        {"cell": "pupils", "before": "220", "after": "225"}]
    # the corrections of distorted data beneath the Ministry, each with what it changed
    corrections = json.loads(campaign.document(second, "json"))["corrections"]
    assert [(c["participant_id"], c["supersedes"], c["changes"]) for c in corrections] == [
        (school, f"sub-{school}", [{"cell": "pupils", "before": "70", "after": "75"}]),  # in the order accepted
        (district, f"up-{district}", [{"cell": "pupils", "before": "70", "after": "75"}]),
        (REGION, f"up-{REGION}", [{"cell": "pupils", "before": "220", "after": "225"}])]
    assert "sub-fix" in pdf_text(campaign.document(second, "pdf"))
    # the older version is still there, untouched
    assert json.loads(campaign.document(first, "json"))["totals"]["pupils"] == "220"
    assert first.documents["pdf"].sha256 != second.documents["pdf"].sha256
    with Session(campaign.engine) as s:
        rows = s.exec(select(ReportVersion).where(ReportVersion.report_id == first.report_id)).all()
    assert sorted(r.version for r in rows) == [1, 2]


def test_a_replayed_due_makes_no_second_version(campaign):
    campaign.run()
    assert campaign.due(MINISTRY, {REGION: f"up-{REGION}"}, level=Level.ministry, due_id="national-1") == []
    with Session(campaign.engine) as s:
        assert len(s.exec(select(ReportVersion).where(ReportVersion.node_id == MINISTRY)).all()) == 1


def test_a_deadline_with_a_region_missing_is_preliminary(campaign):
    campaign.run()
    events = run_handler(campaign.engine, campaign.on_due, ConsolidationDue(
        node_id=MINISTRY, form_code=FORM.code, period="2026", expected=2, received=1, reason="deadline",
        level=Level.ministry, due_id="national-2", included=[REGION], missing=["200140000026"],
        included_submissions={REGION: f"up-{REGION}"}))
    assert events[1].status == "preliminary" and events[1].version == 2 and events[1].changes == []


def test_the_signature_verifies_with_the_tool_and_fails_when_a_byte_changes(campaign, tmp_path):
    report = campaign.run()
    pem = campaign.signer.public_pem()
    docs = {fmt: campaign.document(report, fmt) for fmt in ("json", "xlsx", "pdf")}
    event = json.loads(report.model_dump_json())
    assert verify_report(event, pem, docs)
    for fmt, data in docs.items():
        changed = bytearray(data)
        changed[len(changed) // 2] ^= 0x01
        assert not verify_report(event, pem, {**docs, fmt: bytes(changed)}), fmt
    forged = {**event, "documents": {**event["documents"], "pdf": {**event["documents"]["pdf"], "sha256": "0" * 64}}}
    assert not verify_report(forged, pem)
    assert not verify_report({**event, "version": 2}, pem)
    assert not verify_report(event, DocumentSigner.ephemeral().public_pem())

    # the command line: the event and a document against the published key
    (tmp_path / "event.json").write_text(json.dumps(event))
    (tmp_path / "key.json").write_text(json.dumps({"pem": pem}))
    (tmp_path / "report.pdf").write_bytes(docs["pdf"])
    assert uise_receipt([str(tmp_path / "event.json"), "--key", str(tmp_path / "key.json"),
                         "--document", f"pdf={tmp_path / 'report.pdf'}"]) == 0
    (tmp_path / "report.pdf").write_bytes(docs["pdf"] + b" ")
    assert uise_receipt([str(tmp_path / "event.json"), "--key", str(tmp_path / "key.json"),
                         "--document", f"pdf={tmp_path / 'report.pdf'}"]) == 1
