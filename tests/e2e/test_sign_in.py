"""Signing in with the EDS on the running stack (issue 7): a director signs in with NCA RK's own
test key and submits through the token; a personal key is refused; a revoked one is refused.

NCA's test keys expire on 2027-05-08, so their sign-in goes to a second identity replica whose
clock for certificates is pinned inside their validity (UISE_IDENTITY_PKI_TIME, for test
installations). It shares the first replica's database, keys and issuer, as replicas do, so the
token it issues is good everywhere."""

from __future__ import annotations

import json
import os

import httpx
import pytest

from uise_registry.demo import DEMO_FORM, SCHOOLS
from uise_stack.client import Signer, bearer, sign_in, submit, wait_final
from uise_stack.demo import figures
from uise_stack.ncalayer import NCA_BIN, NCA_CEO, nca_key

pytestmark = pytest.mark.e2e

def test_a_director_signs_in_with_the_nca_test_key_and_submits_through_the_token(stack, ca, intake, pinned_identity,
                                                                                   nca_school):
    resp = sign_in(nca_key("legal_ceo_valid.p12"), identity_url=pinned_identity)
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert (tokens["participant_id"], tokens["role"]) == (NCA_BIN, "head")
    me = httpx.get(f"{stack.config.url('identity')}/v1/auth/me", headers=bearer(tokens["access_token"])).json()
    assert me["subject"] == f"iin:{NCA_CEO}"  # the first replica reads the second's token: one issuer, one key
    # the document is signed by the same person with a key of the project's test CA (NCA's test
    # key would expire under this test in 2027); the token is what names the submitter
    key, cert = ca.issue(iin=NCA_CEO, name="Test director", bin_=NCA_BIN)
    doc = json.dumps(figures(30, 31)).encode()
    sent = submit(intake, NCA_BIN, DEMO_FORM.code, "2026", doc, Signer(key, cert), token=tokens["access_token"])
    assert sent.status_code == 202, sent.text
    assert sent.json()["participant_id"] == NCA_BIN
    assert sent.json()["signers"][0]["iin"] == NCA_CEO
    final = wait_final(intake, sent.json()["submission_id"], token=tokens["access_token"])
    assert final["status"] == "accepted", final["timeline"]


def test_an_nca_employee_with_the_right_to_sign_is_a_signer_not_the_head(pinned_identity, nca_school):
    resp = sign_in(nca_key("legal_signer_valid.p12"), identity_url=pinned_identity)
    assert resp.status_code == 200, resp.text
    assert resp.json()["role"] == "signer"
    refused = sign_in(nca_key("legal_signer_valid.p12"), role="head", identity_url=pinned_identity)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "ROLE_NOT_HELD")


def test_a_personal_key_is_not_an_organizations_head(pinned_identity, nca_school):
    resp = sign_in(nca_key("individual_valid.p12"), identity_url=pinned_identity)
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "NOT_ORGANIZATION")
    assert set(resp.json()["error"]["message"]) == {"kk", "ru", "en"}


def test_a_revoked_certificate_is_refused_at_sign_in(stack, ca):
    school2 = list(SCHOOLS)[1]
    key, cert = ca.issue(iin=SCHOOLS[school2], name="Head of school 2", bin_=school2)
    assert sign_in(Signer(key, cert)).status_code == 200
    ca.revoke(cert)
    ca.publish_crl(stack.config.trust_dir)
    resp = sign_in(Signer(key, cert))
    assert (resp.status_code, resp.json()["error"]["code"]) == (401, "CERT_REVOKED")


def test_the_stack_keeps_its_first_credential_private(stack):
    path = stack.config.data_office_file
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text())["role"] == "data_office"
    assert os.environ.get("UISE_INTAKE_ADMIN_TOKEN") is None  # the old ops token is gone with the API keys
