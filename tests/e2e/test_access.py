"""Who may call what, on the running stack with real tokens from identity (issue 7).

1. Without credentials every route of every service answers 401, except those whose policy says
   public (health, the API's description, public keys, sign-in, the approved list's documents).
2. The authorization matrix: every endpoint of every service × every role × a resource of the
   caller's own subtree / of another subtree. What to expect is worked out here from the role's
   scopes and the test's own picture of the hierarchy (not from the server's answers) and compared
   with what the server does; the counts are printed.
3. The rules people ask about, spelled out: a school cannot read another school's submission, a
   district officer cannot see another district's inbox, a school cannot return what it sent,
   nobody but the data office approves a list.

Writes are sent with empty bodies and made-up ids, so an allowed call stops at validation (422) or
"unknown" (404) and changes nothing: the matrix is about the door, the commands' own rules are
tested beside each service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest

from uise_common import auth
from uise_common.pki.oids import EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_registry.demo import DEMO_FORM, DISTRICT, HEADS, MINISTRY, REGION, SCHOOLS
from uise_registry.identifiers import make_valid
from uise_stack.client import (
    Signer,
    bearer,
    client_token,
    data_office_token,
    new_client,
    remember_signer,
    sign_in,
    submit,
    token_for,
)
from uise_stack.config import SERVICES
from uise_stack.demo import figures, head_signer

pytestmark = pytest.mark.e2e
SCHOOL1, SCHOOL2 = list(SCHOOLS)
FAR_REGION, FAR_DISTRICT, FAR_SCHOOL = make_valid("21024000007"), make_valid("21034000008"), make_valid("22044000009")
FAR_HEAD = make_valid("79010130007")
ACCOUNTANT, DEPUTY, OFFICER, ANALYST = (make_valid("90020240002"), make_valid("85050540003"),
                                        make_valid("88031530004"), make_valid("91070740005"))
PARENT = {SCHOOL1: DISTRICT, SCHOOL2: DISTRICT, DISTRICT: REGION, REGION: MINISTRY,
          FAR_SCHOOL: FAR_DISTRICT, FAR_DISTRICT: FAR_REGION, FAR_REGION: MINISTRY}
# Made-up ids: an allowed call finds nothing and changes nothing.
PLACEHOLDERS = {"year": "2026", "version": "1", "code": DEMO_FORM.code, "fmt": "csv", "part": "document",
                "report_id": f"{DISTRICT}:{DEMO_FORM.code}:1999",
                "form_code": DEMO_FORM.code, "period": "2026", "cell": "pupils_total",
                "entry_id": "999999",
                "client_id": "cl_0000000000000000", "session_id": "no-such-session", "iin": make_valid("70010130001")}
QUERY = {"year": "2026", "on": "2026-01-01", "form_code": DEMO_FORM.code, "period": "2026"}
NOT_A_DOOR = {("post", "/v1/auth/sign-out")}  # would end the session the matrix runs on; identity's tests cover it


def chain(participant_id: str) -> list[str]:
    out = [participant_id]
    while out[-1] in PARENT:
        out.append(PARENT[out[-1]])
    return out


@dataclass
class Caller:
    name: str
    role: str
    participant_id: str | None
    level: str | None
    token: str
    scopes: frozenset[str]

    def reaches(self, owner: str) -> bool:
        return self.role in auth.NATIONAL_ROLES or self.level == "ministry" or self.participant_id in chain(owner)


def _register(http: httpx.Client, pid: str, level: str, kind: str, parent: str, head: str | None = None) -> None:
    body = {"bin": pid, "level": level, "kind": kind, "parent_id": parent, "name_kk": f"kk {pid}", "name_ru": f"ru {pid}"}
    if head:
        body |= {"head_iin": head, "head_name": "Far head", "head_from": "2020-09-01"}
    resp = http.put(f"/v1/participants/{pid}", json=body)
    assert resp.status_code == 200, resp.text


def _staff(registry: str, participant_id: str, iin: str, role: str, as_token: str) -> None:
    resp = httpx.put(f"{registry}/v1/participants/{participant_id}/staff/{iin}", headers=bearer(as_token), timeout=30,
                     json={"full_name": f"{role} {iin[-4:]}", "role": role, "valid_from": "2026-01-01"})
    assert resp.status_code == 200, resp.text


def _person(ca, iin: str, bin_: str, name: str, eku=(EKU_LEGAL_ENTITY,)) -> str:
    key, cert = ca.issue(iin=iin, name=name, bin_=bin_, eku=eku)
    resp = sign_in(Signer(key, cert), staff_just_named=True)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def _ops_token(stack) -> str:
    made = subprocess.run([sys.executable, "-m", "uise_identity", "create-client", "--role", "ops", "--json",
                           "--label", "ops (e2e)"], env={**os.environ, **stack.config.service_env("identity")},
                          capture_output=True, text=True, check=True)
    credential = json.loads(made.stdout)
    return client_token(credential["client_id"], credential["client_secret"]).json()["access_token"]


@pytest.fixture(scope="module")
def world(stack, ca, intake):
    """Another branch of the tree, a submission in each, and a caller for every role."""
    registry = stack.config.url("registry")
    with httpx.Client(base_url=registry, headers=bearer(data_office_token()), timeout=30) as http:
        _register(http, FAR_REGION, "region", "region", MINISTRY)
        _register(http, FAR_DISTRICT, "district", "district", FAR_REGION)
        _register(http, FAR_SCHOOL, "organization", "school", FAR_DISTRICT, head=FAR_HEAD)
    key, cert = ca.issue(iin=FAR_HEAD, name="Far head", bin_=FAR_SCHOOL)
    remember_signer(FAR_SCHOOL, Signer(key, cert))
    _staff(registry, SCHOOL1, ACCOUNTANT, "accountant", token_for(SCHOOL1))
    _staff(registry, DISTRICT, OFFICER, "officer", token_for(DISTRICT))
    _staff(registry, MINISTRY, ANALYST, "analyst", data_office_token())

    submissions = {}
    for school in (SCHOOL1, FAR_SCHOOL):
        signer = head_signer(ca, SCHOOL1) if school == SCHOOL1 else Signer(key, cert)
        resp = submit(intake, school, DEMO_FORM.code, "2026", json.dumps(figures(10, 11)).encode(), signer)
        assert resp.status_code == 202, resp.text
        submissions[school] = resp.json()["submission_id"]

    system = new_client("system", "school 1's information system", SCHOOL1,
                        [auth.SUBMISSIONS_WRITE, auth.SUBMISSIONS_READ])
    integrator = new_client("integrator", "Ministry of Finance")
    callers = [
        Caller("school head", auth.HEAD, SCHOOL1, "organization", token_for(SCHOOL1), auth.ROLE_SCOPES[auth.HEAD]),
        Caller("school signer", auth.SIGNER, SCHOOL1, "organization",
               _person(ca, DEPUTY, SCHOOL1, "Deputy", (EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN)), auth.ROLE_SCOPES[auth.SIGNER]),
        Caller("school accountant", auth.ACCOUNTANT, SCHOOL1, "organization", _person(ca, ACCOUNTANT, SCHOOL1, "Accountant"),
               auth.ROLE_SCOPES[auth.ACCOUNTANT]),
        Caller("school system", auth.SYSTEM, SCHOOL1, "organization",
               client_token(system["client_id"], system["client_secret"]).json()["access_token"],
               frozenset(system["scopes"])),
        Caller("district head", auth.HEAD, DISTRICT, "district", token_for(DISTRICT), auth.ROLE_SCOPES[auth.HEAD]),
        Caller("district officer", auth.OFFICER, DISTRICT, "district", _person(ca, OFFICER, DISTRICT, "Officer"),
               auth.ROLE_SCOPES[auth.OFFICER]),
        Caller("region head", auth.HEAD, REGION, "region", token_for(REGION), auth.ROLE_SCOPES[auth.HEAD]),
        Caller("ministry analyst", auth.ANALYST, MINISTRY, "ministry", _person(ca, ANALYST, MINISTRY, "Analyst"),
               auth.ROLE_SCOPES[auth.ANALYST]),
        Caller("data office", auth.DATA_OFFICE, None, None, data_office_token(), auth.ROLE_SCOPES[auth.DATA_OFFICE]),
        Caller("ops", auth.OPS, None, None, _ops_token(stack), auth.ROLE_SCOPES[auth.OPS]),
        Caller("integrator", auth.INTEGRATOR, None, None,
               client_token(integrator["client_id"], integrator["client_secret"]).json()["access_token"],
               frozenset(integrator["scopes"])),
    ]
    return {"callers": callers, "submissions": submissions}


def operations(stack) -> list[tuple[str, str, str, dict]]:
    """(service, method, path, policy) of every operation every service publishes."""
    out = []
    for service in SERVICES:
        spec = httpx.get(f"{stack.config.url(service)}/openapi.json", timeout=10).json()
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                assert "x-uise-policy" in op, f"{service} {method.upper()} {path} declares no policy"
                out.append((service, method, path, op["x-uise-policy"]))
    return out


def request(stack, service: str, method: str, path: str, token: str | None, owner: str | None,
            submissions: dict[str, str]) -> httpx.Response:
    url = path
    for name, value in PLACEHOLDERS.items():
        url = url.replace(f"{{{name}}}", value)
    for name in ("participant_id", "recipient_id", "node_id"):
        url = url.replace(f"{{{name}}}", owner or SCHOOL1)
    url = url.replace("{submission_id}", submissions.get(owner, submissions[SCHOOL1]))
    params = dict(QUERY)
    if path == "/v1/reports" or path.startswith("/v1/analytics/"):  # the node asked about is a query parameter
        params["node_id"] = owner or SCHOOL1
    headers = bearer(token) if token else {}
    kwargs: dict = {"params": params, "headers": headers, "timeout": 30}
    if method in ("post", "put"):
        kwargs["json"] = {}
    return httpx.request(method.upper(), f"{stack.config.url(service)}{url}", **kwargs)


def has_resource(path: str) -> bool:
    return any(f"{{{p}}}" in path for p in ("participant_id", "recipient_id", "node_id", "submission_id")) \
        or path == "/v1/reports" or path.startswith("/v1/analytics/")


def test_every_route_answers_401_without_credentials_except_the_public_ones(stack, world):
    public, closed = [], []
    for service, method, path, policy in operations(stack):
        if policy.get("public"):
            public.append(f"{service} {method.upper()} {path}")
            continue
        resp = request(stack, service, method, path, None, SCHOOL1, world["submissions"])
        assert resp.status_code == 401, (service, method, path, resp.status_code, resp.text[:200])
        assert resp.json()["error"]["code"] == "UNAUTHENTICATED"
        closed.append(path)
    print(f"\n{len(closed)} routes refuse an anonymous caller; {len(public)} are public:\n  " + "\n  ".join(public))
    allowed_public = {"/healthz", "/readyz", "/metrics", "/.well-known/jwks.json", "/.well-known/openid-configuration",
                      "/v1/auth/challenges", "/v1/auth/sign-in", "/v1/auth/refresh", "/v1/oauth/token",
                      "/v1/receipts/public-key", "/v1/reports/public-key", "/v1/formlists/{year}",
                      "/v1/formlists/{year}/{version}.pdf",
                      "/v1/forms/{code}", "/v1/forms/{code}/template.xlsx", "/v1/calendar/{year}", "/v1/deadlines",
                      # the signed link is the credential (without one: 422); reporting's tests check the links
                      "/v1/reports/{report_id}/{version}/document.{fmt}"}
    assert {p.split(" ", 2)[2] for p in public} <= allowed_public


def expected_allowed(caller: Caller, policy: dict, owner: str | None, path: str) -> bool:
    """From the policy's declaration and this test's hierarchy. A `resource` rule is checked at the
    door only for a submission (which the route loads first); elsewhere (a participant's parent in
    a body, a filtered list) the command applies it after the request is read."""
    if policy.get("public") or policy.get("signed_in"):
        return True
    if policy["scope"] not in caller.scopes or caller.role not in policy["roles"]:
        return False
    if policy["scope"] == auth.INBOX_REVIEW and caller.level == "organization":
        return False  # an organization receives nothing: it never reviews (routing's NOT_A_RECIPIENT)
    subtree = policy.get("subtree")
    if owner is None or subtree is None or (subtree == "resource" and "{submission_id}" not in path):
        return True
    if policy.get("itself"):
        return caller.role in auth.NATIONAL_ROLES or caller.level == "ministry" or caller.participant_id == owner
    return caller.reaches(owner)


def passed_the_door(resp: httpx.Response) -> bool:
    if resp.status_code in (401, 403):
        return False
    # a resource outside the caller's reach is answered exactly like an unknown one
    code = resp.json().get("error", {}).get("code") if resp.status_code == 404 else None
    return code not in ("SUBMISSION_UNKNOWN", "RESULT_UNKNOWN")


def test_the_authorization_matrix(stack, world):
    counts = {"cases": 0, "allowed": 0, "denied": 0}
    wrong = []
    ops = [o for o in operations(stack) if (o[1], o[2]) not in NOT_A_DOOR]
    for service, method, path, policy in ops:
        for caller in world["callers"]:
            owners = [SCHOOL1, FAR_SCHOOL] if has_resource(path) else [None]
            for owner in owners:
                want = expected_allowed(caller, policy, owner, path)
                resp = request(stack, service, method, path, caller.token, owner, world["submissions"])
                assert resp.status_code < 500, (service, method, path, caller.name, resp.text[:300])
                got = passed_the_door(resp)
                counts["cases"] += 1
                counts["allowed" if got else "denied"] += 1
                if got != want:
                    wrong.append(f"{caller.name} {method.upper()} {service}{path} owner={owner}: "
                                 f"expected {'allow' if want else 'deny'}, got {resp.status_code} {resp.text[:160]}")
    print(f"\nauthorization matrix: {len({(o[0], o[2], o[1]) for o in ops})} endpoints x {len(world['callers'])} roles "
          f"x own/other subtree = {counts['cases']} cases: {counts['allowed']} allowed, {counts['denied']} denied")
    assert not wrong, "\n".join(wrong)


def test_the_rules_people_ask_about(stack, world, intake):
    callers = {c.name: c for c in world["callers"]}
    far_submission = world["submissions"][FAR_SCHOOL]
    # a school cannot read another school's submission (the same answer as for one that does not exist)
    for reader in ("school head", "school accountant", "school system"):
        resp = httpx.get(f"{intake}/v1/submissions/{far_submission}", headers=bearer(callers[reader].token))
        assert (resp.status_code, resp.json()["error"]["code"]) == (404, "SUBMISSION_UNKNOWN"), reader
    sibling = submit(intake, SCHOOL2, DEMO_FORM.code, "2026", json.dumps(figures(3, 4)).encode(),
                     head_signer(stack.prepare_pki(), SCHOOL2)).json()["submission_id"]
    assert httpx.get(f"{intake}/v1/submissions/{sibling}", headers=bearer(token_for(SCHOOL1))).status_code == 404
    assert httpx.get(f"{intake}/v1/submissions/{sibling}", headers=bearer(callers["district officer"].token)
                     ).status_code == 200
    # a district officer cannot see another district's inbox
    routing = stack.config.url("routing")
    resp = httpx.get(f"{routing}/v1/inboxes/{FAR_DISTRICT}", headers=bearer(callers["district officer"].token))
    assert (resp.status_code, resp.json()["error"]["code"]) == (403, "OUT_OF_SUBTREE")
    assert httpx.get(f"{routing}/v1/inboxes/{DISTRICT}", headers=bearer(callers["district officer"].token)
                     ).status_code == 200
    # a school cannot return (or accept) what it sent; its district's officer can, with a comment
    mine = world["submissions"][SCHOOL1]
    for reviewer in ("school head", "school signer"):
        resp = httpx.post(f"{routing}/v1/inboxes/{DISTRICT}/submissions/{mine}/return", json={"comment": "x"},
                          headers=bearer(callers[reviewer].token))
        assert resp.status_code == 403, (reviewer, resp.text)
    resp = httpx.post(f"{routing}/v1/inboxes/{DISTRICT}/submissions/{mine}/return", json={"comment": " "},
                      headers=bearer(callers["district officer"].token))
    assert (resp.status_code, resp.json()["error"]["code"]) == (422, "COMMENT_REQUIRED")
    # nobody but the data office approves a list of forms
    registry = stack.config.url("registry")
    for caller in world["callers"]:
        resp = httpx.post(f"{registry}/v1/formlists/2026/1/approve", headers=bearer(caller.token),
                          json={"order_no": "x", "order_date": "2026-01-15"})
        if caller.role == auth.DATA_OFFICE:
            assert resp.status_code == 409, resp.text  # the 2026 list is approved already: it passed the door
        else:
            assert (resp.status_code, resp.json()["error"]["code"]) == (403, "SCOPE_MISSING"), caller.name
    assert HEADS[SCHOOL1] != ACCOUNTANT
