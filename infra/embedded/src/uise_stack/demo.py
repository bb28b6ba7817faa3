"""`make run`'s demo: the data office enters the small hierarchy and the approved list of forms
(with the credential the stack's ops command made), the heads sign in with their EDS, and the
schools send a few signed submissions, followed to their final states."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import date

import httpx

from uise_common.pki.oids import EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN
from uise_common.pki.testca import GostTestCA
from uise_contracts.events import FormDefinition
from uise_registry.demo import ACCOUNTANT, DEMO_FORM, DISTRICT, HEADS, SCHOOLS, demo_participants
from uise_stack import client
from uise_stack.client import Signer, submit, wait_final
from uise_stack.config import StackConfig

DEMO_YEAR = 2026


def demo_forms() -> list[FormDefinition]:
    from uise_registry.catalog import CATALOG

    return [DEMO_FORM, *CATALOG]


def seed_registry(registry_url: str, forms: list[FormDefinition] | None = None, year: int = DEMO_YEAR) -> None:
    """The demo hierarchy and the year's approved list, as the Ministry's data office enters them
    (signed in with its client credentials)."""
    with httpx.Client(base_url=registry_url, timeout=30.0, headers=client.bearer(client.data_office_token())) as http:
        enter_demo(http, forms, year)


def enter_demo(http, forms: list[FormDefinition] | None = None, year: int = DEMO_YEAR) -> None:
    """What `seed_registry` sends, through `http`: a client already pointed at the registry as the
    data office (an httpx client, or an in-process one with the same calls, as the API fuzz uses)."""
    forms = forms or demo_forms()
    for p in demo_participants():
        http.put(f"/v1/participants/{p['participant_id']}", json=p).raise_for_status()
    lists = http.get(f"/v1/formlists/{year}").json()
    if any(fl["status"] == "approved" for fl in lists):
        return  # a re-run on the same data directory: the approved list stands
    draft = http.post("/v1/formlists", json={"year": year, "forms": [f.model_dump(mode="json") for f in forms]})
    if draft.status_code == 409:  # a draft left by an interrupted run
        version = max(fl["version"] for fl in lists)
    else:
        draft.raise_for_status()
        version = draft.json()["version"]
    http.post(f"/v1/formlists/{year}/{version}/approve",
              json={"order_no": "№ 1-демо", "order_date": date(year, 1, 15).isoformat(),
                    "signatory": "Министр просвещения (демо)"}).raise_for_status()


def head_signer(ca: GostTestCA, bin_: str) -> Signer:
    """A certificate for the head of a demo organization (first-head EKU), fresh from the test CA."""
    key, cert = ca.issue(iin=HEADS[bin_], name=f"Head of {bin_}", bin_=bin_)
    return Signer(key, cert)


def sign_in_heads(ca: GostTestCA) -> None:
    """Every demo organization's head signs in with the EDS on first use (client.token_for)."""
    for bin_ in HEADS:
        client.remember_signer(bin_, head_signer(ca, bin_))


def accountant_token(registry_url: str, ca: GostTestCA) -> str:
    """School 1's head names its accountant in the registry; she signs in with her own key (an
    employee's legal-entity certificate) once identity has heard of it."""
    school, iin = ACCOUNTANT
    resp = httpx.put(f"{registry_url}/v1/participants/{school}/staff/{iin}", timeout=30,
                     headers=client.bearer(client.token_for(school)),
                     json={"full_name": "Бухгалтер Айгүл", "role": "accountant", "valid_from": f"{DEMO_YEAR}-01-01"})
    resp.raise_for_status()
    key, cert = ca.issue(iin=iin, name="Accountant of school 1", bin_=school, eku=(EKU_LEGAL_ENTITY,))
    signed_in = client.sign_in(Signer(key, cert), staff_just_named=True)  # the staff list is on its way
    signed_in.raise_for_status()
    return signed_in.json()["access_token"]


def figures(girls: int, boys: int, total: int | None = None) -> dict:
    return {"pupils_total": girls + boys if total is None else total, "pupils_girls": girls,
            "pupils_boys": boys, "classes": (girls + boys) // 25 + 1, "teachers": (girls + boys) // 15 + 1}


def as_csv(values: dict) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["field", "value"])
    for k, v in values.items():
        w.writerow([k, v])
    return out.getvalue().encode()


def run_demo(config: StackConfig, ca: GostTestCA) -> list[dict]:
    seed_registry(config.url("registry"))
    intake = config.url("intake")
    sign_in_heads(ca)
    (school1, _), (school2, _) = list(SCHOOLS.items())
    deputy_key, deputy_cert = ca.issue(iin="850505400033", name="Deputy", bin_=school2,
                                       eku=(EKU_LEGAL_ENTITY, EKU_RIGHT_TO_SIGN))
    accountant = accountant_token(config.url("registry"), ca)
    plan = [
        ("school 1, JSON, by the accountant", school1, json.dumps(figures(412, 398)).encode(), "r.json",
         head_signer(ca, school1)),
        ("school 2, CSV", school2, as_csv(figures(250, 261)), "r.csv", head_signer(ca, school2)),
        ("school 1, totals do not add up", school1, json.dumps(figures(10, 10, total=25)).encode(), "r.json",
         head_signer(ca, school1)),
        ("school 2, signed by a deputy", school2, json.dumps(figures(1, 1)).encode(), "r.json",
         Signer(deputy_key, deputy_cert)),
    ]
    results = []
    for label, participant, doc, filename, signer in plan:
        # the accountant uploads what the director signed; the others go in with the head's token
        token = accountant if "accountant" in label else None
        resp = submit(intake, participant, DEMO_FORM.code, str(DEMO_YEAR), doc, signer, filename, token=token)
        resp.raise_for_status()
        final = wait_final(intake, resp.json()["submission_id"])
        results.append({"label": label, **final})
        print(f"  {label:34} → {final['status']:8} {final.get('reason_code') or ''}")
    # the district's live figures: what its consolidation would hold now (docs/consolidation.md)
    figures_url = f"{config.url('reporting')}/v1/nodes/{DISTRICT}/figures"
    live: dict = {}
    for _ in range(60):  # reporting reads the acceptances a moment after intake shows them
        live = httpx.get(figures_url, params={"form_code": DEMO_FORM.code, "period": str(DEMO_YEAR)},
                         headers=client.bearer(client.token_for(DISTRICT))).json()
        if live.get("contributors") == 2:
            break
        time.sleep(0.5)
    print(f"  district {DISTRICT} so far: {live.get('contributors')} schools, "
          f"pupils_total {live.get('figures', {}).get('pupils_total')}")
    return results
