"""`uise-sign` signs with an NCA test .p12 and verifies, as an integrator would use it."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

from uise_signature.cli import main

PKI = Path(__file__).resolve().parents[4] / "shared" / "testdata" / "nca-test-pki"
AT = "2026-11-26T12:00:00+05:00"


def test_sign_then_verify_with_the_nca_test_keys(tmp_path, capsys):
    warnings.filterwarnings("ignore", message=".*common name.*")
    assert PKI.exists(), f"{PKI} is missing: shared/ must sit beside the repository"
    trust = tmp_path / "trust"
    shutil.copytree(PKI / "ca", trust)
    doc = tmp_path / "report.json"
    doc.write_text('{"pupils_total": 810}')
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "Qwerty12",
                 "--at", AT]) == 0
    sig = tmp_path / "report.json.p7s"
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT,
                 "--bin", "123456789021", "--head-iin", "123456789011"]) == 0
    assert "GOST34.10-2015-512" in capsys.readouterr().out
    doc.write_text('{"pupils_total": 811}')
    assert main(["verify", str(doc), str(sig), "--trust", str(trust), "--at", AT]) == 1
    assert "CONTENT_MISMATCH" in capsys.readouterr().err
    assert main(["sign", str(doc), "--p12", str(PKI / "legal_ceo_valid.p12"), "--password", "wrong"]) == 2
