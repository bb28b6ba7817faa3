from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from uise_common.pki.crl import RevocationLists
from uise_common.pki.testca import TestCA
from uise_common.testing import nca_test_pki

# NCA common names exceed X.520's 64 characters; cryptography warns about it on every access.
pytestmark = pytest.mark.filterwarnings("ignore:Attribute's length must be:UserWarning")


def test_a_published_crl_revokes_from_its_date_and_is_reread(tmp_path):
    ca = TestCA.create()
    _, cert = ca.issue(iin="800101300016", name="Head", bin_="220440000019")
    _, other = ca.issue(iin="800202400021", name="Head 2", bin_="220440000029")
    lists = RevocationLists(tmp_path)
    now = datetime.now(UTC)
    assert lists.revoked_at(cert, ca.cert, now) is None  # no CRL yet
    when = now - timedelta(hours=1)
    ca.revoke(cert, when)
    ca.publish_crl(tmp_path)
    revoked = lists.revoked_at(cert, ca.cert, now)
    assert revoked is not None and abs((revoked - when).total_seconds()) < 1
    assert lists.revoked_at(cert, ca.cert, when - timedelta(minutes=5)) is None  # signed before revocation
    assert lists.revoked_at(other, ca.cert, now) is None


def test_a_crl_not_signed_by_the_issuer_is_ignored(tmp_path):
    ca, impostor = TestCA.create(), TestCA.create()
    _, cert = ca.issue(iin="800101300016", name="Head", bin_="220440000019")
    forged = TestCA(impostor.key, ca.cert)  # claims the real CA's name, signs with another key
    forged.revoke(cert)
    forged.publish_crl(tmp_path)
    assert RevocationLists(tmp_path).revoked_at(cert, ca.cert, datetime.now(UTC)) is None


def test_verify_refuses_a_signer_once_the_crl_naming_it_is_published(tmp_path):
    from cryptography.hazmat.primitives.serialization import Encoding

    from uise_common.pki.cms import SignatureError, TrustStore, sign, verify

    ca = TestCA.create()
    (tmp_path / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    key, cert = ca.issue(iin="800101300016", name="Head", bin_="220440000019")
    doc = b"figures"
    trust = TrustStore.from_dir(tmp_path)
    assert verify(sign(doc, key, cert), doc, trust).iin == "800101300016"
    ca.revoke(cert)
    ca.publish_crl(tmp_path)
    try:
        verify(sign(doc, key, cert), doc, trust)
        raise AssertionError("a revoked certificate verified")
    except SignatureError as exc:
        assert exc.code == "CERT_REVOKED"


def test_the_nca_test_crls_are_read_and_their_gost_signatures_verify():

    from cryptography import x509

    from uise_common.pki.algorithms import crl_signed_by
    from uise_common.pki.crl import load_crl

    pki = nca_test_pki()
    assert pki.exists(), f"{pki} is missing: shared/ must sit beside the repository"
    intermediate = x509.load_der_x509_certificate((pki / "ca" / "nca_gost2022_test.cer").read_bytes())
    for name in ("nca_gost2022_test.crl", "nca_gost2022_d_test.crl"):
        crl = load_crl((pki / "crl" / name).read_bytes())
        assert crl.issuer == intermediate.subject
        assert crl_signed_by(crl, intermediate), name


def test_the_gost_test_ca_issues_signs_and_revokes(tmp_path):
    import warnings

    from cryptography.hazmat.primitives.serialization import Encoding

    from uise_common.pki.cms import GOST_512, SignatureError, TrustStore, sign, verify
    from uise_common.pki.testca import GostTestCA
    from uise_signature.domain import check_authority

    warnings.filterwarnings("ignore", message=".*length must be.*")
    ca = GostTestCA.load_or_create(tmp_path / "pki")
    assert GostTestCA.load_or_create(tmp_path / "pki").cert == ca.cert  # persisted
    (tmp_path / "trust").mkdir()
    (tmp_path / "trust" / "ca.pem").write_bytes(ca.cert.public_bytes(Encoding.PEM))
    key, cert = ca.issue(iin="800101300016", name="Директор", bin_="220440000019")
    doc = "Форма ОШ-1".encode()
    trust = TrustStore.from_dir(tmp_path / "trust")
    info = verify(sign(doc, key, cert), doc, trust)
    assert info.algorithm == GOST_512
    check_authority(info, "220440000019", "800101300016")
    ca.revoke(cert)
    ca.publish_crl(tmp_path / "trust")
    try:
        verify(sign(doc, key, cert), doc, trust)
        raise AssertionError("revoked GOST certificate verified")
    except SignatureError as exc:
        assert exc.code == "CERT_REVOKED"


def test_crls_are_fetched_from_urls_cached_and_refreshed(tmp_path):
    import http.server
    import threading

    ca = TestCA.create()
    _, cert = ca.issue(iin="800101300016", name="Head", bin_="220440000019")
    served = {"body": ca.crl(), "fail": False}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            if served["fail"]:
                self.send_error(503)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(served["body"])))
            self.end_headers()
            self.wfile.write(served["body"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    now = [0.0]
    try:
        lists = RevocationLists(None, urls=[f"http://127.0.0.1:{server.server_port}/nca.crl"],
                                cache_dir=tmp_path / "cache", refresh_seconds=60, clock=lambda: now[0])
        at = datetime.now(UTC) + timedelta(minutes=1)
        assert lists.revoked_at(cert, ca.cert, at) is None  # fetched: nothing revoked yet
        ca.revoke(cert)
        served["body"] = ca.crl()
        assert lists.revoked_at(cert, ca.cert, at) is None  # not due for a refresh yet
        now[0] = 61
        assert lists.revoked_at(cert, ca.cert, at) is not None  # refreshed
        served["fail"] = True
        now[0] = 200
        assert lists.revoked_at(cert, ca.cert, at) is not None  # the server fails: the cached copy stands
    finally:
        server.shutdown()
