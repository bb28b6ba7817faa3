"""What the PKI tests share: a long-lived RSA test CA (valid from 2020, so tests may pin past
times) and a trust store anchored on it. A test module may define its own `ca` and `trust`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from uise_common.pki.cms import TrustStore
from uise_common.pki.testca import TestCA


@pytest.fixture(scope="module")
def ca() -> TestCA:
    return TestCA.create(valid_from=datetime(2020, 1, 1, tzinfo=UTC), valid_days=30 * 365)


@pytest.fixture(scope="module")
def trust(ca) -> TrustStore:
    return TrustStore(anchors=[ca.cert])
