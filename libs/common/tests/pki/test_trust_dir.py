"""A trust directory loads PEM and DER under .cer/.crt/.pem/.der, whatever the encoding inside,
and reports a file it cannot read instead of skipping it silently or failing on it."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from uise_common.pki.cms import TrustStore
from uise_common.pki.testca import TestCA
from uise_common.testing import nca_test_pki

PKI = nca_test_pki()

# NCA common names exceed X.520's 64 characters; cryptography warns about it on every access.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def test_a_der_crt_and_a_pem_cer_load_and_a_junk_cer_is_reported(tmp_path):
    root, other = TestCA.create("ROOT ONE"), TestCA.create("ROOT TWO")
    (tmp_path / "root-one.crt").write_bytes(root.cert.public_bytes(Encoding.DER))  # DER under .crt
    (tmp_path / "root-two.cer").write_bytes(other.cert.public_bytes(Encoding.PEM))  # PEM under .cer
    (tmp_path / "junk.cer").write_bytes(b"<html>404 Not Found</html>")
    store = TrustStore.from_dir(tmp_path)
    assert {c.subject.rfc4514_string() for c in store.anchors} == {"C=KZ,CN=ROOT ONE", "C=KZ,CN=ROOT TWO"}
    assert len(store.problems) == 1 and store.problems[0].startswith("junk.cer: neither a PEM nor a DER")


def test_what_each_unreadable_file_holds_is_said(tmp_path):
    ca = TestCA.create()
    key_pem = ca.key.private_bytes(Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "ca.key.pem").write_bytes(key_pem)
    crl = ca.crl()
    (tmp_path / "ca-crl.pem").write_bytes(b"-----BEGIN X509 CRL-----\n" + base64.encodebytes(crl) + b"-----END X509 CRL-----\n")
    (tmp_path / "empty.der").write_bytes(b"")
    (tmp_path / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    # Bare base64 of a DER certificate (no PEM armour), BOM and all, is a certificate.
    (tmp_path / "bare.cer").write_bytes(b"\xef\xbb\xbf" + base64.encodebytes(ca.cert.public_bytes(Encoding.DER)))
    (tmp_path / "notes.txt").write_text("not named like a certificate: not ours to judge")
    store = TrustStore.from_dir(tmp_path)
    assert store.anchors == [ca.cert]
    problems = dict(p.split(": ", 1) for p in store.problems)
    assert set(problems) == {"ca.key.pem", "ca-crl.pem", "empty.der", "broken.pem"}
    assert "PRIVATE KEY" in problems["ca.key.pem"]
    assert "name a CRL *.crl" in problems["ca-crl.pem"]
    assert problems["empty.der"] == "the file is empty"
    assert problems["broken.pem"].startswith("a PEM certificate block does not parse")


def test_a_missing_directory_is_reported_not_trusted_silently(tmp_path):
    store = TrustStore.from_dir(tmp_path / "nowhere")
    assert store.anchors == [] and "does not exist" in store.problems[0]


def test_the_nca_der_cer_files_load():
    if not (PKI / "ca").is_dir():
        pytest.fail(f"the NCA RK test PKI is missing at {PKI}")
    store = TrustStore.from_dir(PKI / "ca")
    assert (len(store.anchors), len(store.intermediates), store.problems) == (1, 1, [])
