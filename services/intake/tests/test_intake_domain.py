from __future__ import annotations

import io
import zipfile
from datetime import date

import pytest

from uise_intake.domain import (
    CSV,
    JSON,
    XLSX,
    InFlightLimiter,
    XlsxLimits,
    check_cms,
    check_idempotency_key,
    check_period_type,
    check_window,
    inspect_document,
    next_status,
    parse_period,
    sniff,
)
from uise_intake.reasons import REASONS, Refused
from uise_intake.receipts import ReceiptSigner, verify_receipt


@pytest.mark.parametrize("data, kind", [
    (b'{"a": 1}', JSON), (b"\xef\xbb\xbf  [1]", JSON), (b"field,value\npupils,1\n", CSV),
    (b"PK\x03\x04rest-of-zip", XLSX), (b"\x00\x01\x02", None), (b"%PDF-1.7", None), (b"just words", None),
    (b"\xff\xfe\xfd", None),
])
def test_sniff_trusts_the_bytes_not_the_name(data, kind):
    assert sniff(data) == kind


def test_status_never_goes_back_and_final_is_final():
    assert next_status("received", "validated") == "validated"
    assert next_status("validated", "signature_checked") == "validated"  # a late event
    assert next_status("accepted", "rejected") == "accepted"
    assert next_status("rejected", "validated") == "rejected"
    # the recipient may send back what it accepted; nothing moves a returned submission after
    assert next_status("accepted", "returned") == "returned"
    assert next_status("validated", "returned") == "returned"  # the return read before the acceptance
    assert next_status("returned", "accepted") == "returned"
    assert next_status("rejected", "returned") == "rejected"


def test_receipt_signature_verifies_and_detects_any_change(tmp_path):
    signer = ReceiptSigner.load_or_create(tmp_path / "k.pem")
    receipt = signer.sign({"submission_id": "s", "delivered_at": "2026-11-26T14:00:00+05:00", "document_sha256": "ab"})
    assert verify_receipt(receipt, signer.public_pem())
    assert not verify_receipt({**receipt, "delivered_at": "2026-11-25T14:00:00+05:00"}, signer.public_pem())
    other = ReceiptSigner.load_or_create(tmp_path / "other.pem")
    assert not verify_receipt(receipt, other.public_pem())
    assert ReceiptSigner.load_or_create(tmp_path / "k.pem").key_id == signer.key_id  # the key persists


def test_the_receipt_cli_verifies_offline(tmp_path, capsys):
    import json

    from uise_intake.receipts import main

    signer = ReceiptSigner.load_or_create(tmp_path / "k.pem")
    receipt = signer.sign({"submission_id": "s-1", "delivered_at": "2026-11-26T14:00:00+05:00"})
    (tmp_path / "r.json").write_text(json.dumps(receipt))
    (tmp_path / "pub.json").write_text(json.dumps({"pem": signer.public_pem()}))
    assert main([str(tmp_path / "r.json"), "--key", str(tmp_path / "pub.json")]) == 0
    assert "valid: submission s-1" in capsys.readouterr().out
    (tmp_path / "r.json").write_text(json.dumps({**receipt, "delivered_at": "2026-11-27T14:00:00+05:00"}))
    assert main([str(tmp_path / "r.json"), "--key", str(tmp_path / "pub.json")]) == 1


# --- issue 4: hostile documents, signatures, periods, keys, load ------------------------------



def refused(fn, *args) -> str:
    with pytest.raises(Refused) as exc:
        fn(*args)
    assert exc.value.code in REASONS
    return exc.value.code


def xlsx(parts: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return out.getvalue()


WORKBOOK = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


def test_a_real_template_passes_and_its_lookalikes_do_not():
    from uise_common.workbook import build_template
    from uise_contracts.examples import SCHOOL_FORM

    assert inspect_document(build_template(SCHOOL_FORM), "f.xlsx") == XLSX
    assert inspect_document(xlsx(WORKBOOK), None) == XLSX
    assert refused(inspect_document, xlsx({"[Content_Types].xml": b"<T/>", "word/document.xml": b"<w/>"}),
                   "r.xlsx") == "DOCUMENT_TYPE_UNSUPPORTED"
    assert refused(inspect_document, xlsx({"a.txt": b"hello"}), "r.xlsx") == "DOCUMENT_TYPE_UNSUPPORTED"
    assert refused(inspect_document, b"PK\x03\x04" + b"\x00" * 40, "r.xlsx") == "XLSX_NOT_A_ZIP"


def test_zip_bombs_and_entities_are_refused_by_the_contracts_check():
    bomb = xlsx({**WORKBOOK, "xl/worksheets/sheet1.xml": b"\x00" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    assert refused(inspect_document, bomb, "r.xlsx") == "XLSX_RATIO"
    big = xlsx({**WORKBOOK, "xl/media/a.bin": b"ab" * 1024 * 1024}, zipfile.ZIP_STORED)
    assert refused(inspect_document, big, "r.xlsx", XlsxLimits(max_uncompressed=1024 * 1024)) == "XLSX_TOO_LARGE"
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><workbook>&e;</workbook>'
    assert refused(inspect_document, xlsx({**WORKBOOK, "xl/workbook.xml": xxe}), "r.xlsx") == "XLSX_XML_ENTITIES"
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x>'.encode("utf-16-le")
    assert refused(inspect_document, xlsx({**WORKBOOK, "xl/styles.xml": utf16}), "r.xlsx") == "XLSX_XML_ENTITIES"


@pytest.mark.parametrize("data, name, code", [
    (b"%PDF-1.4 ...", "r.xlsx", "DOCUMENT_TYPE_UNSUPPORTED"),
    (b"MZ\x90\x00\x03\x00\x00\x00", "r.xlsx", "DOCUMENT_TYPE_UNSUPPORTED"),
    (b"<!DOCTYPE html><html><body>,</body></html>", "r.csv", "DOCUMENT_TYPE_UNSUPPORTED"),
    (b'<?xml version="1.0"?><a>1,2</a>', "r.csv", "DOCUMENT_TYPE_UNSUPPORTED"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest", "r.xls", "DOCUMENT_TYPE_UNSUPPORTED"),
    (b"field,value\npupils,1\n", "r.xlsx", "DOCUMENT_TYPE_MISMATCH"),
    (b'{"a": 1}', "r.csv", "DOCUMENT_TYPE_MISMATCH"),
    ("field,value\nназвание,1\n".encode("cp1251"), "r.csv", "DOCUMENT_NOT_UTF8"),
    ('{"a": 1}'.encode("utf-16"), "r.json", "DOCUMENT_NOT_UTF8"),
    (b"field,value\n" + b"a,1\n" * 2000 + "\u043f".encode("cp1251") + b",1\n", "r.csv", "DOCUMENT_NOT_UTF8"),
    (b'{"a": 1', "r.json", "DOCUMENT_JSON_INVALID"),
    (b"[1, 2]", "r.json", "DOCUMENT_JSON_INVALID"),
    (b"[" * 100_000, "r.json", "DOCUMENT_JSON_INVALID"),
    (b"just words", "r.txt", "DOCUMENT_TYPE_UNSUPPORTED"),
])
def test_documents_that_are_not_what_they_claim(data, name, code):
    assert refused(inspect_document, data, name) == code


def test_good_documents_whatever_their_name():
    assert inspect_document(b'{"pupils": 1}', "report.json") == JSON
    assert inspect_document(b"field,value\npupils,1\n", "report.csv") == CSV
    assert inspect_document("\ufefffield,value\nоқушы,1\n".encode(), "есеп.CSV") == CSV
    assert inspect_document(b'{"a": 1}', "d") == JSON  # no claim, no mismatch


def cms(content: bytes) -> bytes:
    return b"\x30" + bytes([len(content)]) + content


OID = bytes.fromhex("06092a864886f70d010702")


def test_signature_must_look_like_cms_signed_data():
    check_cms(cms(OID + b"\xa0\x02\x30\x00"))
    long = OID + b"\xa0\x82\x01\x00" + b"\x00" * 256
    check_cms(b"\x30\x82" + len(long).to_bytes(2, "big") + long)
    check_cms(b"\x30\x80" + OID + b"\xa0\x80\x30\x00\x00\x00\x00\x00")  # BER, indefinite length
    enveloped = bytes.fromhex("06092a864886f70d010703")
    for bad in (b"", b"hello", b"\x30\x05abc", cms(enveloped + b"\xa0\x00"), cms(OID), cms(OID + b"\x04\x00"),
                b"MIIB" + b"A" * 100, b"-----BEGIN PKCS7-----\nMIIB\n-----END PKCS7-----\n",
                b"\x30\x85\x00\x00\x00\x00\x00", b"\x30\x80" + OID + b"\xa0\x00"):
        assert refused(check_cms, bad) == "SIGNATURE_NOT_CMS", bad


def test_periods_and_their_windows():
    assert (parse_period("2026").start, parse_period("2026").end) == (date(2026, 1, 1), date(2026, 12, 31))
    assert parse_period("2026-H2").start == date(2026, 7, 1)
    assert parse_period("2024-Q1").end == date(2024, 3, 31)
    assert parse_period("2024-02").end == date(2024, 2, 29)
    assert parse_period("2026-10-15").kind == "as_of_date"
    for bad in ("26", "2026-13", "2026-Q5", "2026-H3", "2026-02-30", "2026/01", "last year", "1899", "2026-1"):
        assert refused(parse_period, bad) == "PERIOD_INVALID", bad
    check_period_type("F", "quarterly", parse_period("2026-Q3"))
    check_period_type("F", "ad_hoc", parse_period("2026-Q3"))
    check_period_type("F", None, parse_period("2026-Q3"))  # read before the read model knew it
    assert refused(check_period_type, "F", "annual", parse_period("2026-Q3")) == "PERIOD_MISMATCH"
    q3 = parse_period("2026-Q3")
    check_window(q3, date(2026, 7, 1), 0, 365)
    check_window(q3, date(2027, 9, 30), 0, 365)
    assert refused(check_window, q3, date(2026, 6, 30), 0, 365) == "PERIOD_NOT_OPEN"
    assert refused(check_window, q3, date(2027, 10, 1), 0, 365) == "PERIOD_CLOSED"
    check_window(q3, date(2026, 6, 1), 30, 365)  # opened early by configuration


def test_periods_are_parsed_by_the_common_parser_and_refused_as_period_invalid():
    # uise_common.periods: lookalikes of 2026 would be new periods; 9999 overflowed the window
    for bad in ("2026\n", "٢٠٢٦", "２０２６", "20\u200d26", "9999", "99999999999999999999", "2026\x00", "2" * 10_240):
        with pytest.raises(Refused) as exc:
            parse_period(bad)
        assert exc.value.code == "PERIOD_INVALID" and exc.value.params["why"], repr(bad)
    assert "between 2000 and 2100" in refused_why(parse_period, "9999")


def refused_why(fn, *args) -> str:
    with pytest.raises(Refused) as exc:
        fn(*args)
    return exc.value.params["why"]


def test_idempotency_keys():
    check_idempotency_key("a-b_c:1")
    for bad in ("", "x" * 256, "with space", "кирилл"):
        assert refused(check_idempotency_key, bad) == "IDEMPOTENCY_KEY_INVALID"


def test_the_limiter_sheds_beyond_its_limit_and_recovers():
    lim = InFlightLimiter(2)
    assert lim.try_acquire() and lim.try_acquire()
    assert not lim.try_acquire() and lim.shed == 1
    lim.release()
    assert lim.try_acquire()
    lim.release()
    lim.release()
    assert lim.in_flight == 0
    with pytest.raises(RuntimeError):
        lim.release()
    with pytest.raises(ValueError):
        InFlightLimiter(0)


def test_every_reason_code_is_documented_with_its_status():
    import re
    from pathlib import Path

    from uise_intake.reasons import COMMON_REASONS

    doc = (Path(__file__).resolve().parents[3] / "docs" / "intake.md").read_text()
    doc = doc.split("## Reason codes", 1)[1].split("\n## ", 1)[0]
    documented = {m[0]: int(m[1]) for m in re.findall(r"^\| `([A-Z0-9_]+)` \| (\d{3}) \|", doc, re.M)}
    expected = {code: r.status for code, r in REASONS.items()} | COMMON_REASONS
    assert documented == expected
    for r in REASONS.values():  # every message exists in the three languages
        assert r.en and r.ru and r.kk
