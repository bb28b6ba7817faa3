from __future__ import annotations

from datetime import UTC, datetime, timedelta

from uise_signature.crl import RevocationLists
from uise_signature.testca import TestCA


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
