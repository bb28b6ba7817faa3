"""`report.published` for systems outside UISE (issue 11; docs/integrators.md): the signed links,
and the integrators' example consumer (docs/examples/report_consumer.py, confluent-kafka) in its
own consumer group against a real tansu broker, receiving what the reporting service publishes
through its outbox and fetching the documents from the running reporting API by their links."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from uise_common.broker import ensure_topics
from uise_common.http import ApiError
from uise_common.service import ServiceRuntime
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer, free_port, moto_s3, tansu_in_memory
from uise_contracts import make_envelope
from uise_contracts.events import (
    ConsolidationDue,
    FormListApproved,
    Level,
    ParticipantUpserted,
    SubmissionAccepted,
)
from uise_contracts.examples import SCHOOL_FORM
from uise_contracts.topics import topic_for
from uise_reporting import entrypoint, links, published

ISSUER = TokenIssuer()
KEY = b"k" * 32
REPORT = "210340000012:SCH-1:2026"
REGION, DISTRICT = "200140000015", "210340000012"
SCHOOLS = ["220440000013", "220440000024"]
EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "report_consumer.py"


def load_example():
    """The example as an integrator runs it: a file, imported by path (it is no package of ours)."""
    spec = importlib.util.spec_from_file_location("report_consumer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["report_consumer"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# --- the links ------------------------------------------------------------------------------


def parts(url: str) -> tuple[str, int, str, int, str]:
    path, query = httpx.URL(url).path, dict(httpx.URL(url).params)
    report_id, version, doc = path.split("/")[-3:]  # after the base URL's own path
    return report_id, int(version), doc.removeprefix("document."), int(query["expires"]), query["sig"]


def code_of(call) -> tuple[int, str]:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value.status, caught.value.code


def test_a_link_is_good_until_it_expires_and_only_as_signed():
    now = datetime(2026, 11, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    url, expires_at = links.report_links(REPORT, 3, "xlsx", base_url="https://uise.example/api/", key=KEY,
                                         ttl=timedelta(hours=1), now=now)
    assert url.startswith(f"https://uise.example/api/v1/reports/{REPORT}/3/document.xlsx?expires=")
    assert expires_at == datetime(2026, 11, 1, 13, 0, 0, tzinfo=UTC)
    report_id, version, fmt, expires, sig = parts(url)
    assert (report_id, version, fmt, expires) == (REPORT, 3, "xlsx", int(expires_at.timestamp()))
    links.verify(report_id, version, fmt, expires, sig, key=KEY, now=now)  # valid: returns

    tampered = [(REPORT, 3, "json", expires, sig), (REPORT, 2, "xlsx", expires, sig),  # another document
                ("210340000023:SCH-1:2026", 3, "xlsx", expires, sig),
                (REPORT, 3, "xlsx", expires + 86400, sig),  # a stretched expiry
                (REPORT, 3, "xlsx", expires, sig[:-1] + ("A" if sig[-1] != "A" else "B")), (REPORT, 3, "xlsx", expires, "")]
    for args in tampered:
        assert code_of(lambda a=args: links.verify(*a, key=KEY, now=now)) == (403, "LINK_INVALID"), args
    assert code_of(lambda: links.verify(report_id, version, fmt, expires, sig, key=b"another key", now=now)) == \
        (403, "LINK_INVALID")
    assert code_of(lambda: links.verify(report_id, version, fmt, expires, sig, key=KEY, now=expires_at)) == \
        (410, "LINK_EXPIRED")
    # an expired and tampered link says only that it is invalid
    assert code_of(lambda: links.verify(report_id, version, "json", expires, sig, key=KEY,
                                        now=expires_at + timedelta(days=1))) == (403, "LINK_INVALID")


def test_the_link_key_is_configured_or_made_once_and_kept(tmp_path):
    assert links.link_key(Settings(data_dir=tmp_path, reporting_link_key="configured")) == b"configured"
    made = links.link_key(Settings(data_dir=tmp_path))
    assert len(made) >= 32 and links.link_key(Settings(data_dir=tmp_path)) == made  # survives a restart
    assert (tmp_path / links.KEY_FILE).stat().st_mode & 0o777 == 0o600


# --- the example consumer against the running service ------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_s3() as endpoint:
        yield endpoint


@pytest.fixture
def reporting(tmp_path, s3_endpoint):
    """The reporting service as deployed, in this process: its consumers on tansu, its outbox relay,
    its API under uvicorn on a free port."""
    import asyncio

    with tansu_in_memory() as bootstrap:
        asyncio.run(ensure_topics(bootstrap))
        port = free_port()
        settings = Settings(service_name="reporting", data_dir=tmp_path, s3_endpoint=s3_endpoint,
                            s3_bucket="publishedtest", kafka_bootstrap=bootstrap, http_port=port,
                            reporting_public_base_url=f"http://127.0.0.1:{port}", retry_backoff_seconds=0.5)
        rt = ServiceRuntime(entrypoint.SPEC, settings)
        rt.authenticator = ISSUER.authenticator()
        server = uvicorn.Server(uvicorn.Config(rt.app(), host="127.0.0.1", port=port, log_config=None,
                                               access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not (server.started and httpx.get(f"{base}/readyz", timeout=5).status_code == 200):
            assert time.monotonic() < deadline, "reporting did not become ready"
            time.sleep(0.2)
        try:
            yield rt, bootstrap, base
        finally:
            server.should_exit = True
            thread.join(30)


def produce(bootstrap: str, events) -> None:
    """As the other services publish: CloudEvents binary mode, keyed as the topic table says."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    for event in events:
        topic = topic_for(event)
        key = str(getattr(event, topic.key))
        headers = make_envelope(topic.ce_type, "urn:uise:test", key).headers()
        producer.produce(topic.name, event.model_dump_json().encode(), key.encode(), headers=list(headers.items()))
    assert producer.flush(30) == 0


def wait_for(what: str, check, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return result


def test_the_example_consumer_receives_reports_fetches_them_by_link_and_checks_them(reporting, capsys):
    rt, bootstrap, base = reporting
    example = load_example()
    produce(bootstrap, [
        *(ParticipantUpserted(participant_id=pid, bin=pid, level=level, kind=kind, parent_id=parent,
                              name_kk="x", name_ru="x")
          for pid, level, kind, parent in ((REGION, Level.region, "region", "100140000011"),
                                           (DISTRICT, Level.district, "district", REGION),
                                           *((s, Level.organization, "school", DISTRICT) for s in SCHOOLS))),
        FormListApproved(year=2026, version=1, order_no="1", order_date=date(2026, 1, 15), forms=[SCHOOL_FORM]),
        *(SubmissionAccepted(submission_id=f"s{i}", participant_id=school, recipient_id=DISTRICT, form_code="SCH-1",
                             period="2026", values_exact={"pupils_total": str(pupils), "teachers": "7"})
          for i, (school, pupils) in enumerate(zip(SCHOOLS, (100, 51), strict=True)))])
    officer = ISSUER.headers("officer", DISTRICT, "district")

    def both_accepted():
        r = httpx.get(f"{base}/v1/nodes/{DISTRICT}/figures", params={"form_code": "SCH-1", "period": "2026"},
                      headers=officer, timeout=10)
        return r.json() if r.status_code == 200 and r.json()["contributors"] == 2 else None

    wait_for("reporting to read both acceptances", both_accepted)
    for n in (1, 2):  # two versions of the district's report
        produce(bootstrap, [ConsolidationDue(
            node_id=DISTRICT, form_code="SCH-1", period="2026", expected=2, received=2, due_id=f"d{n}",
            level=Level.district, included=SCHOOLS, included_submissions={s: f"s{i}" for i, s in enumerate(SCHOOLS)})])

    # Another ministry's system: its own group, from the beginning, librdkafka.
    consumer = example.Consumer(example.consumer_config(bootstrap, "minfin-reports-test"))
    got = []
    try:
        handled = example.run(consumer, example.Fetcher(), got.append, max_reports=2, idle_seconds=120)
    finally:
        consumer.close()
    assert handled == 2
    assert [(r.body["report_id"], r.body["version"]) for r in got] == [(REPORT, 1), (REPORT, 2)]
    first = got[0]
    assert first.event["type"] == "kz.edu.uise.report.published.v1" and first.event["source"] == "urn:uise:reporting"
    assert first.event["subject"] == DISTRICT and first.event["id"] and first.event["time"]
    assert first.event["specversion"] == "1.0" and first.event["content-type"] == "application/json"
    assert sorted(first.documents) == ["json", "pdf", "xlsx"]
    for fmt, data in first.documents.items():
        assert hashlib.sha256(data).hexdigest() == first.body["documents"][fmt]["sha256"]
    assert json.loads(first.documents["json"])["totals"]["pupils_total"] == "151"
    assert first.documents["xlsx"].startswith(b"PK") and first.documents["pdf"].startswith(b"%PDF-")
    assert first.body["summary"]["pupils_total"] == "151" and first.body["built_from"] == 2
    assert first.line().startswith(f"{REPORT} v1 preliminary level=district node={DISTRICT} form=SCH-1 period=2026 json=")

    # The route behind the links: checksum headers; tampered 403, expired 410, unknown 404.
    doc = first.body["documents"]["json"]
    resp = httpx.get(doc["url"], timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    assert resp.headers["etag"] == f'"{doc["sha256"]}"' and resp.headers["repr-digest"].startswith("sha-256=:")
    tampered = httpx.get(doc["url"].replace("document.json", "document.xlsx"), timeout=10)
    assert (tampered.status_code, tampered.json()["error"]["code"]) == (403, "LINK_INVALID")
    linker = published.Linker.from_settings(rt.settings)
    old_url, _ = linker(REPORT, 1, "json", now=datetime.now(UTC) - timedelta(days=2))
    expired = httpx.get(old_url, timeout=10)
    assert (expired.status_code, expired.json()["error"]["code"]) == (410, "LINK_EXPIRED")
    unknown = httpx.get(linker(REPORT, 9, "json")[0], timeout=10)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "REPORT_NOT_FOUND")
    assert httpx.get(doc["url"].split("?")[0], timeout=10).status_code == 422  # no link at all

    # Replaying old events: the example asks for fresh links with an integrator's token.
    integrator = ISSUER.token("integrator", "100140000011", "ministry", subject="client:minfin")
    fetcher = example.Fetcher(token=integrator)
    data = example.verified("json", doc, fetcher.document("json", {**doc, "url": old_url}))
    assert data == first.documents["json"]
    fresh = httpx.post(f"{base}/v1/reports/{REPORT}/1/links", headers={"Authorization": f"Bearer {integrator}"},
                       timeout=10)
    assert fresh.status_code == 200 and fresh.json()["documents"]["xlsx"]["sha256"] == first.body["documents"]["xlsx"]["sha256"]
    other = ISSUER.headers("officer", "210340000023", "district")
    assert httpx.post(f"{base}/v1/reports/{REPORT}/1/links", headers=other, timeout=10).status_code == 404
    assert httpx.post(f"{base}/v1/reports/{REPORT}/1/links", headers=officer, timeout=10).status_code == 200
    assert httpx.post(f"{base}/v1/reports/{REPORT}/1/links", timeout=10).status_code == 401


def test_the_example_uses_only_the_standard_library_and_confluent_kafka():
    import ast

    tree = ast.parse(EXAMPLE.read_text())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert roots - set(sys.stdlib_module_names) == {"confluent_kafka"}
