"""`uise-sign` signs, co-signs and verifies with the NCA test .p12 files, as an integrator would."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from uise_common.testing import nca_test_pki
from uise_signature.cli import main

PKI = nca_test_pki()
AT = "2026-11-26T12:00:00+05:00"
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


@pytest.fixture
def trust(tmp_path) -> Path:
    assert PKI.exists(), f"{PKI} is missing: shared/ must sit beside the repository"
    trust = tmp_path / "trust"
    shutil.copytree(PKI / "ca", trust)
    return trust


def test_sign_then_verify_with_the_nca_test_keys(tmp_path, trust, capsys):
    doc = tmp_path / "report.json"
    doc.write_text('{"pupils_total": 810}')
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "Qwerty12",
                 "--at", AT]) == 0
    sig = tmp_path / "report.json.p7s"
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT,
                 "--bin", "123456789021", "--head-iin", "123456789011"]) == 0
    out = capsys.readouterr().out
    assert "GOST34.10-2015-512" in out and "judged at 2026-11-26T12:00:00+05:00 (delivery)" in out
    doc.write_text('{"pupils_total": 811}')
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT]) == 1
    assert "CONTENT_MISMATCH" in capsys.readouterr().err
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "wrong"]) == 2
    assert "wrong password" in capsys.readouterr().err


def test_the_signer_cosigns_and_verify_lists_both(tmp_path, trust, capsys):
    doc = tmp_path / "report.json"
    doc.write_text('{"pupils_total": 810}')
    sig = tmp_path / "report.json.p7s"
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_signer_valid.p12"), "--password", "Qwerty12",
                 "--at", AT, "-o", str(sig)]) == 0
    policy = ["--bin", "123456789021", "--head-iin", "123456789011"]
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT, *policy]) == 1
    assert "NOT_FIRST_HEAD" in capsys.readouterr().err
    assert main(["cosign", str(doc), str(sig), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "Qwerty12",
                 "--at", AT]) == 0
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT, *policy]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("valid signer")]
    head = [line for line in lines if "IIN 123456789011" in line]
    signer = [line for line in lines if "IIN 123456789012" in line]
    assert len(head) == len(signer) == 1
    assert "[satisfies the policy]" in head[0] and "[satisfies the policy]" not in signer[0]
    other = tmp_path / "other.json"
    other.write_text("{}")
    assert main(["cosign", str(other), str(sig), "--p12", str(PKI / "legal_ceo_valid.p12"),
                 "--password", "Qwerty12"]) == 1
    assert "CONTENT_MISMATCH" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["verify", "sign", "cosign"])
def test_a_time_without_an_offset_is_refused_with_a_message(tmp_path, trust, capsys, command):
    doc = tmp_path / "report.json"
    doc.write_text("{}")
    args = {"verify": ["verify", str(doc), str(doc), "--trust", str(trust)],
            "sign": ["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "Qwerty12"],
            "cosign": ["cosign", str(doc), str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"),
                       "--password", "Qwerty12"]}[command]
    assert main([*args, "--at", "2022-09-28T00:00:00"]) == 2
    err = capsys.readouterr().err
    assert "has no UTC offset" in err and "2022-09-28T00:00:00+05:00" in err and "Traceback" not in err
    assert main([*args, "--at", "yesterday"]) == 2
    assert "not an ISO 8601 time" in capsys.readouterr().err
    assert not (tmp_path / "report.json.p7s").exists()


def test_verify_warns_about_an_unreadable_trust_file_and_still_verifies(tmp_path, trust, capsys):
    (trust / "junk.cer").write_bytes(b"this is not a certificate")
    root_der = (PKI / "ca" / "root_test_gost_2022.cer").read_bytes()
    (trust / "root-as-pem.crt").write_bytes(  # a PEM copy of the DER root: loaded once
        b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(root_der) + b"-----END CERTIFICATE-----\n")
    doc = tmp_path / "report.json"
    doc.write_text("{}")
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "Qwerty12", "--at", AT]) == 0
    assert main(["verify", str(doc), f"{doc}.p7s", "--trust", str(trust), "--at", AT]) == 0
    captured = capsys.readouterr()
    assert "warning: trust directory: junk.cer: neither a PEM nor a DER certificate" in captured.err
    assert "root-as-pem.crt" not in captured.err and "valid signer 1" in captured.out
