"""A NUL in what a request names is a 4xx on PostgreSQL too (issue 7: never a 500).

PostgreSQL refuses NUL in text with an error (SQLite, where the API fuzz runs, stores it), so a
value that reached a query unchecked answered 500 in production and passed every other test.
For every service, every path and query parameter of every operation (from its OpenAPI) is sent
holding a NUL, the others the demo's own values, as each kind of caller; a few bodies of public
routes, whose fields the enumeration does not reach, are checked beside."""

from __future__ import annotations

import base64

import pytest

from uise_common.auth import DATA_OFFICE
from uise_common.testing import scratch_postgres, serve_without_lifespan
from uise_registry.demo import DEMO_FORM, DISTRICT, HEADS, SCHOOLS
from uise_stack.config import SERVICES

pytestmark = pytest.mark.integration
SCHOOL = next(iter(SCHOOLS))
NUL = "a%00b"
# Values the demo knows, so that only the parameter under test is wrong.
KNOWN = {"participant_id": SCHOOL, "node_id": DISTRICT, "recipient_id": DISTRICT, "form_code": DEMO_FORM.code,
         "code": DEMO_FORM.code, "period": "2026", "year": "2026", "version": "1", "fmt": "csv", "part": "document",
         "cell": "pupils_total", "iin": HEADS[SCHOOL], "report_id": f"{DISTRICT}:{DEMO_FORM.code}:2026",
         "submission_id": "0b9d6c1e-5f7a-4c1e-9a3e-2f4d8b6a7c10", "client_id": "cl_0000000000000000",
         "session_id": "no-such-session", "request_id": "no-such-request", "entry_id": "1"}


@pytest.fixture
def postgres_url(service):
    with scratch_postgres(f"nul_{service}") as url:  # PostgresMissing says where it looked
        yield url


def requests_with_a_nul(spec: dict):
    """(method, url, parameter) for each path or query parameter of each operation."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            params = [p for p in operation.get("parameters", []) if p["in"] in ("path", "query")]
            for target in params:
                url = path
                for p in params:
                    if p["in"] == "path":
                        url = url.replace(f"{{{p['name']}}}", NUL if p is target else KNOWN.get(p["name"], "x"))
                if target["in"] == "query":
                    url += f"?{target['name']}={NUL}"
                yield method.upper(), url, f"{method.upper()} {path} {target['in']} {target['name']}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_nul_in_any_parameter_is_refused_not_a_server_error(service, tmp_path, world, postgres_url):
    rt = world.runtime(service, tmp_path, "127.0.0.1:1", database_url=postgres_url)
    server_errors, tried = [], 0
    try:
        with serve_without_lifespan(rt.app()) as http:
            for method, url, label in requests_with_a_nul(http.get("/openapi.json").json()):
                for caller in world.callers:
                    tried += 1
                    try:
                        status = http.request(method, url, headers=caller.headers(),
                                              json={} if method in ("POST", "PUT") else None).status_code
                    except Exception as exc:  # the app raised: a 500 to the caller
                        status = f"{type(exc).__name__}: {str(exc)[:120]}"
                    if not isinstance(status, int) or status >= 500:
                        server_errors.append(f"{label} as {caller.name}: {status}")
    finally:
        rt.engine.dispose()
    print(f"\n{service}: {tried} requests with a NUL in a parameter, {len(server_errors)} server errors")
    assert not server_errors, "\n".join(server_errors)


@pytest.mark.parametrize("service", ["identity"])
def test_a_nul_in_identitys_credentials_is_refused_not_a_server_error(service, tmp_path, world, postgres_url):
    rt = world.runtime(service, tmp_path, "127.0.0.1:1", database_url=postgres_url)
    basic = base64.b64encode(b"cl_a\x00b:secret").decode()
    try:
        with serve_without_lifespan(rt.app()) as http:
            sign_in = http.post("/v1/auth/sign-in", json={"challenge_id": "a\x00b", "signature": "MA=="})
            form = http.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": "cl_a\x00b",
                                                      "client_secret": "secret"})
            header = http.post("/v1/oauth/token", data={"grant_type": "client_credentials"},
                               headers={"Authorization": f"Basic {basic}"})
            client = http.post("/v1/clients", json={"role": "integrator", "label": "Ministry\x00of Finance"},
                               headers=next(c for c in world.callers if c.role == DATA_OFFICE).headers())
    finally:
        rt.engine.dispose()
    assert (sign_in.status_code, sign_in.json()["error"]["code"]) == (422, "REQUEST_INVALID")
    assert (form.status_code, form.json()["code"]) == (401, "CLIENT_INVALID")
    assert (header.status_code, header.json()["code"]) == (401, "CLIENT_INVALID")
    assert (client.status_code, client.json()["error"]["code"]) == (422, "REQUEST_INVALID")
