"""Personal data out of logs and traces: IINs and people's names masked, BINs kept, ids and hashes
untouched - in the masking rules, the JSON log formatter, and the span exporters (JSON lines and
OTLP, the latter to a real HTTP endpoint)."""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from uise_common import http
from uise_common.logs import JsonFormatter
from uise_common.privacy import (
    NAME_MASK,
    is_iin_shaped,
    mask_iin,
    mask_mapping,
    mask_text,
    mask_value,
)
from uise_common.settings import Settings
from uise_common.telemetry import MaskingSpanExporter, setup_telemetry
from uise_contracts.events import ParticipantUpserted, StaffMember

# The demo's heads (registry demo) and their schools; the NCA test certificates' identifiers.
IIN1, IIN2 = "800101300016", "800202400021"
BIN1, BIN2, MINISTRY = "220440000019", "220440000029", "100140011059"
NCA_IIN, NCA_BIN = "123456789011", "123456789021"
NAME1, NAME2 = "Директор 1", "ИВАНОВ ИВАН"
PERSONAL = (IIN1, IIN2, NCA_IIN, NAME1, NAME2, "ИВАНОВ")


def assert_no_personal_data(out: str) -> None:
    leaked = [p for p in PERSONAL if p in out]
    assert not leaked, f"{leaked} in {out}"


# --- telling IINs from BINs ---------------------------------------------------------------------


def test_iins_are_masked_with_a_recognisable_tail_and_bins_kept():
    msg = f"head {IIN1} of school {BIN1} (district 210340000013, ministry {MINISTRY}); deputy {IIN2}"
    assert mask_text(msg) == ("head ********0016 of school 220440000019 (district 210340000013, "
                              "ministry 100140011059); deputy ********0021")
    assert mask_iin(IIN1) == "********0016"
    assert not any(is_iin_shaped(b) for b in (BIN1, BIN2, MINISTRY, "210240000018", "210340000013"))
    assert all(is_iin_shaped(i) for i in (IIN1, IIN2, "991231600011", "050229512345"))


def test_an_iin_named_as_such_is_masked_whatever_its_shape():
    # certificates carry SERIALNUMBER=IIN…, identity's sessions `iin:…`; the NCA test IIN has no
    # birth date in it, and a BIN-labelled number stays
    assert mask_text(f"SERIALNUMBER=IIN{NCA_IIN}, OU=BIN{NCA_BIN}") == f"SERIALNUMBER=IIN********9011, OU=BIN{NCA_BIN}"
    assert mask_text("subject iin:999999999999") == "subject iin:********9999"
    assert mask_text("ИИН 999999999999, ЖСН: 999999999998") == "ИИН ********9999, ЖСН: ********9998"
    assert mask_text(f"signer {NCA_IIN}") == "signer ********9011"  # the NCA test IIN, unlabelled


def test_hashes_uuids_and_timestamps_are_not_mangled():
    """Decided: 12 digits inside a hex or alphanumeric token, inside a longer digit run, or as a
    UUID's last group are not IINs (ids must stay searchable); a compact YYMMDDhhmmss time is
    IIN-shaped and masked (we write times in ISO form, so none is lost)."""
    sha = "9f" + IIN1 + "ab" + "0" * 50  # a SHA-256 in hex with an IIN-shaped run inside
    digest_key = f"document/sha256/{sha[:2]}/{sha}"
    uuid_with_digits = f"6f1c2a3e-0b1d-4c2e-9a7f-{IIN1}"
    trace_id = f"{IIN1}{'a' * 20}"
    hex_uuid = uuid.UUID(uuid_with_digits).hex
    for token in (sha, digest_key, uuid_with_digits, trace_id, hex_uuid, "1767225600000", "17672256000000000",
                  "2026-01-15T09:30:00+05:00", "202601150930"):
        line = f"stored {token} at 2026-01-15"
        assert mask_text(line) == line, token
    assert mask_text("at 260115093045") == "at ********3045"


def test_names_are_masked_where_they_stand_in_text():
    assert mask_text(f"{{'head_name': '{NAME1}', 'head_iin': '{IIN1}', 'bin': '{BIN1}'}}") == (
        f"{{'head_name': '***', 'head_iin': '********0016', 'bin': '{BIN1}'}}")
    assert mask_text(f'{{"full_name": "{NAME2}", "role": "accountant"}}') == '{"full_name": "***", "role": "accountant"}'
    # a model's repr, a quote inside the name, and JSON escaped inside a repr
    assert mask_text("HeadTerm(iin='800101300016', full_name=\"O'Brien Ivan\")") == (
        "HeadTerm(iin='********0016', full_name=\"***\")")
    assert mask_text('RuntimeError("{\\"signer_name\\": \\"ИВАНОВ\\"}")') == 'RuntimeError("{\\"signer_name\\": \\"***\\"}")'
    # a certificate subject: the person's attributes masked, the organisation's kept
    dn = f"OU=BIN{BIN1},2.5.4.42=ИВАН,2.5.4.5=IIN{IIN1},2.5.4.4=ИВАНОВ,CN={NAME2},O=Школа-лицей №1"
    assert mask_text(dn) == f"OU=BIN{BIN1},2.5.4.42=***,2.5.4.5=IIN********0016,2.5.4.4=***,CN=***,O=Школа-лицей №1"
    # inside a repr the closing quote survives; an apostrophe inside the name does not end it
    assert mask_text(f"{{'subject': 'CN=O'Brien Ivan,OU=BIN{BIN1}', 'n': 1}}") == f"{{'subject': 'CN=***,OU=BIN{BIN1}', 'n': 1}}"
    assert mask_text(f"/C=KZ/CN={NAME2}/SN=ИВАНОВ") == "/C=KZ/CN=***/SN=***"


def test_every_key_masked_in_text_is_found_by_the_fast_prefilter():
    from uise_common import privacy

    keys = privacy._KEY_ALTERNATION.split("|")
    assert "full_name" in keys and "head_iin" in keys
    missed = [k for k in keys if not any(h in k for h in privacy._KEY_HINTS)]
    assert not missed, f"{missed}: add a hint, or mask_text skips them"


def test_a_pydantic_error_does_not_echo_the_person():
    with pytest.raises(ValidationError) as bad:
        StaffMember(iin="80010130001X", full_name="Ж" * 301, role="accountant", valid_from="2026-01-01")
    out = mask_text(str(bad.value))
    assert "80010130001X" not in out and "ЖЖЖ" not in out
    assert "iin" in out and "full_name" in out and "string_too_long" in out  # still says what was wrong
    # a whole event echoed as the input of a model-level error
    with pytest.raises(ValidationError) as whole:
        ParticipantUpserted.model_validate({"participant_id": BIN1, "bin": BIN1, "level": "nowhere", "kind": "school",
                                            "parent_id": None, "name_kk": "№1 мектеп", "name_ru": "Школа №1",
                                            "head_iin": IIN1, "head_name": NAME1})
    assert_no_personal_data(mask_text(str(whole.value)))


def test_sql_parameters_of_a_failed_statement_are_hidden():
    engine = create_engine("sqlite://")  # the default, which prints parameters
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE heads (iin TEXT PRIMARY KEY, full_name TEXT)"))
        conn.execute(text("INSERT INTO heads VALUES (:i, :n)"), {"i": IIN1, "n": NAME1})
    with pytest.raises(IntegrityError) as dup, engine.begin() as conn:
        conn.execute(text("INSERT INTO heads VALUES (:i, :n)"), {"i": IIN1, "n": NAME1})
    assert NAME1 in str(dup.value)  # what the rule is for
    out = mask_text(str(dup.value))
    assert_no_personal_data(out)
    assert "UNIQUE constraint failed: heads.iin" in out and "[parameters: hidden]" in out


def test_values_are_masked_by_their_keys():
    extras = {
        "head_iin": IIN1, "iin": "8001013000",  # a mistyped IIN is still somebody's
        "head_name": NAME1, "full_name": NAME2,
        "signers": [{"iin": NCA_IIN, "name": NAME2, "bin": NCA_BIN, "serial": "7c1e"}],
        "heads": [{"iin": IIN1, "full_name": NAME1, "valid_from": "2020-09-01"}],
        "subject": f"iin:{IIN2}", "actor": BIN1, "principal": "client:ministry-of-health",
        "participant_id": BIN1, "count": IIN1, "n": 800101300016, "pupils": 412, "ok": True,
        "messaging.destination.name": "uise.participant.upserted.v1", "uise.signer.name": NAME2,
        "name": NAME1,
    }
    out = mask_mapping(extras)
    assert_no_personal_data(json.dumps(out, ensure_ascii=False))
    assert out["head_iin"] == "********0016" and out["iin"] == "******3000"
    assert out["head_name"] == out["full_name"] == out["name"] == out["uise.signer.name"] == NAME_MASK
    assert out["signers"] == [{"iin": "********9011", "name": NAME_MASK, "bin": NCA_BIN, "serial": "7c1e"}]
    assert out["heads"][0]["valid_from"] == "2020-09-01"
    assert out["subject"] == "iin:********0021"
    assert out["actor"] == out["participant_id"] == BIN1 and out["principal"] == "client:ministry-of-health"
    assert out["messaging.destination.name"] == "uise.participant.upserted.v1"
    assert out["pupils"] == 412 and out["ok"] is True
    assert mask_value("subject", NAME2) == NAME_MASK  # a bare name as a subject


# --- the JSON log formatter ---------------------------------------------------------------------


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    logger = logging.getLogger(f"privacy-test-{uuid.uuid4().hex}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


def test_log_lines_carry_no_iin_or_name(json_log):
    logger, lines = json_log
    logger.info("head %s of %s replaced by %s", IIN1, BIN1, IIN2)
    logger.warning("signer refused", extra={"head_iin": IIN1, "head_name": NAME1, "participant_id": BIN1,
                                            "signers": [{"iin": NCA_IIN, "name": NAME2}]})
    try:
        raise ValueError(f"no head {IIN1} for {BIN2}: {{'full_name': '{NAME1}'}}")
    except ValueError as exc:
        logger.exception("handler failed")
        logger.error("handler failed, retrying", extra={"error": repr(exc), "cause": exc})
    raw = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines())
    assert_no_personal_data(raw)
    first, extra, exc, retry = lines()
    assert first["msg"] == f"head ********0016 of {BIN1} replaced by ********0021"
    assert extra["head_iin"] == "********0016" and extra["head_name"] == NAME_MASK and extra["participant_id"] == BIN1
    assert "ValueError: no head ********0016 for 220440000029" in exc["exc"] and "Traceback" in exc["exc"]
    assert retry["error"].startswith("ValueError(") and BIN2 in retry["error"] and BIN2 in retry["cause"]


# --- spans ----------------------------------------------------------------------------------------


def record_a_span(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("privacy-test")
    with tracer.start_as_current_span(f"GET /v1/people/{IIN1}", record_exception=False,
                                      set_status_on_exception=False) as span:
        span.set_attribute("url.path", f"/v1/people/{IIN1}")
        span.set_attribute("uise.head_iin", IIN1)
        span.set_attribute("uise.signer.name", NAME2)
        span.set_attribute("uise.participant_id", BIN1)
        span.set_attribute("messaging.destination.name", "uise.submission.received.v1")
        span.add_event("signer checked", {"iin": NCA_IIN, "bin": NCA_BIN, "subject": f"CN={NAME2},OU=BIN{NCA_BIN}"})
        try:
            raise LookupError(f"{IIN2} is not the head of {BIN2} ({{'head_name': '{NAME1}'}})")
        except LookupError as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def test_exported_spans_carry_no_iin_or_name():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(MaskingSpanExporter(memory)))
    record_a_span(provider)
    (span,) = memory.get_finished_spans()
    dump = json.dumps({"name": span.name, "attributes": dict(span.attributes), "status": span.status.description,
                       "events": [[e.name, dict(e.attributes)] for e in span.events]}, ensure_ascii=False)
    assert_no_personal_data(dump)
    assert span.name == "GET /v1/people/********0016"
    assert span.attributes["uise.participant_id"] == BIN1
    assert span.attributes["messaging.destination.name"] == "uise.submission.received.v1"
    checked, exception = span.events
    assert checked.attributes["bin"] == NCA_BIN and checked.attributes["subject"] == f"CN=***,OU=BIN{NCA_BIN}"
    assert exception.name == "exception" and BIN2 in exception.attributes["exception.message"]
    assert "********0021" in exception.attributes["exception.stacktrace"]
    assert span.status.status_code == StatusCode.ERROR and BIN2 in span.status.description
    assert span.get_span_context().trace_id and span.parent is None  # identity of the span kept


def test_the_services_trace_files_carry_no_iin_or_name(tmp_path):
    tracer_provider, meter_provider = setup_telemetry(Settings(service_name="privacytest", data_dir=tmp_path))
    try:
        record_a_span(tracer_provider)
        tracer_provider.force_flush()
        written = (tmp_path / "traces" / "privacytest.jsonl").read_text(encoding="utf-8")
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
    assert_no_personal_data(written)
    (line,) = [json.loads(s) for s in written.splitlines()]
    assert line["attributes"]["uise.participant_id"] == BIN1
    assert [e["name"] for e in line["events"]] == ["signer checked", "exception"]
    assert BIN2 in line["status_description"]


class _Collector(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Collector.bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_spans_sent_over_otlp_carry_no_iin_or_name(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.bodies.clear()
    settings = Settings(service_name="privacytest", data_dir=tmp_path)
    settings.otlp_endpoint = f"http://127.0.0.1:{server.server_port}"  # its field is read by env alias
    tracer_provider, meter_provider = setup_telemetry(settings)
    try:
        record_a_span(tracer_provider)
        assert tracer_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
        server.shutdown()
    traces = b"".join(body for path, body in _Collector.bodies if path == "/v1/traces")
    assert BIN1.encode() in traces and b"uise.participant_id" in traces  # the protobuf holds strings raw
    leaked = [p for p in PERSONAL if p.encode() in traces]
    assert not leaked, leaked


def test_http_spans_are_named_by_the_route_not_the_path():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(MaskingSpanExporter(memory)))
    app = FastAPI()

    @app.get("/v1/people/{iin}")
    def person(iin: str) -> dict:
        return {"ok": True}

    from opentelemetry import trace

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(trace, "get_tracer", lambda name, *a, **k: provider.get_tracer(name))
        http.install(app, "privacytest")
    assert TestClient(app).get(f"/v1/people/{IIN1}").status_code == 200
    (span,) = memory.get_finished_spans()
    assert span.name == "GET /v1/people/{iin}" and span.attributes["http.route"] == "/v1/people/{iin}"
    assert span.attributes["url.path"] == "/v1/people/********0016"


def test_an_extra_named_like_a_field_of_the_line_does_not_replace_it(json_log):
    logger, lines = json_log
    logger.warning("timer fired", extra={"level": "organization", "service": "elsewhere"})
    [line] = lines()
    assert (line["level"], line["service"]) == ("WARNING", "test")  # what log collectors filter on
    assert (line["extra.level"], line["extra.service"]) == ("organization", "elsewhere")
