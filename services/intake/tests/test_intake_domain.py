from __future__ import annotations

import pytest

from uise_intake.domain import CSV, JSON, XLSX, next_status, sniff
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
