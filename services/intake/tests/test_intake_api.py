"""Intake's HTTP API on a real (SQLite) database with an in-memory object store and a broker that
answers its health check: authentication, access, idempotency, corrections, the paper channel,
refusals and load shedding. The end-to-end tests repeat the main paths on the real stack."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from uise_common.auth import revoked_key
from uise_common.db import migrate
from uise_common.pki.cms import claimed_signers, cosign, sign
from uise_common.pki.oids import EKU_LEGAL_ENTITY
from uise_common.pki.testca import TestCA
from uise_common.service import COMMON_MIGRATION, ServiceRuntime, ServiceSpec
from uise_common.settings import Settings
from uise_common.testing import TokenIssuer
from uise_contracts.events import StoredObject
from uise_intake import api, handlers
from uise_intake.adapters import MIGRATIONS, KnownForm, KnownParticipant
from uise_intake.domain import InFlightLimiter
from uise_intake.receipts import ReceiptSigner, verify_receipt

ALMATY = ZoneInfo("Asia/Almaty")
MINISTRY, REGION = "100140000011", "200140000012"
DISTRICT, SCHOOL, SIBLING, OTHER_DISTRICT, STRANGER = (
    "210340000013", "220440000019", "220440000029", "210340000024", "220440000039")
UNREGISTERED = "229940000099"
LEVELS = {MINISTRY: "ministry", REGION: "region", DISTRICT: "district", OTHER_DISTRICT: "district"}
SIGNED_DATA = bytes.fromhex("06092a864886f70d010702")
THIS_YEAR = datetime.now(ALMATY).year


def cms_like(body: bytes = b"\x30\x00") -> bytes:
    """Structurally a CMS ContentInfo (SEQUENCE, signedData, [0] ...); intake looks no deeper."""
    content = SIGNED_DATA + b"\xa0" + bytes([len(body)]) + body
    return b"\x30" + bytes([len(content)]) + content


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    def put(self, data: bytes, kind: str, media_type: str) -> StoredObject:
        digest = hashlib.sha256(data).hexdigest()
        key = f"{kind}/sha256/{digest[:2]}/{digest}"
        self.puts += 1
        self.objects.setdefault(key, data)  # never overwritten
        return StoredObject(key=key, sha256=digest, size=len(data), media_type=media_type)

    def get(self, obj: StoredObject) -> bytes:
        data = self.objects[obj.key]
        assert hashlib.sha256(data).hexdigest() == obj.sha256
        return data

    def presigned_get(self, key: str, expires) -> str:
        return f"http://s3.test/{key}?X-Amz-Expires={int(expires.total_seconds())}"


class Healthy:
    async def ok(self) -> bool:
        return True


class Revocations:
    """The one Redis command the authenticator asks: is this session on the revocation list?"""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def exists(self, key: str) -> int:
        return int(key in self.keys)


ISSUER = TokenIssuer()
REVOKED = Revocations()


def token(participant_id: str | None, role: str | None = None, **kw) -> str:
    """An access token as identity issues it: a school's head, a department's officer."""
    role = role or ("head" if participant_id not in LEVELS else "officer")
    return ISSUER.token(role, participant_id, LEVELS.get(participant_id, "organization") if participant_id else None,
                        **kw)


@pytest.fixture
def limiter():
    return InFlightLimiter(4)


def build(tmp_path, limiter, **overrides):
    settings = Settings(**{"service_name": "intake", "data_dir": tmp_path, "kafka_bootstrap": "127.0.0.1:1",
                           **overrides})
    signer = ReceiptSigner.load_or_create(tmp_path / "receipt.key")
    spec = ServiceSpec(name="intake", migrations=MIGRATIONS, consumers=lambda _rt: handlers.CONSUMERS,
                       router=lambda rt: api.router(rt, signer, limiter), uses_object_store=False)
    rt = ServiceRuntime(spec, settings)
    migrate(rt.engine, [COMMON_MIGRATION, *MIGRATIONS])
    rt.store = MemoryStore()
    rt.kafka_health = Healthy()
    rt.authenticator = ISSUER.authenticator(REVOKED)
    with Session(rt.engine) as s:
        s.add(KnownParticipant(participant_id=MINISTRY, kind="ministry", parent_id=None, level="ministry"))
        s.add(KnownParticipant(participant_id=REGION, kind="region", parent_id=MINISTRY, level="region"))
        s.add(KnownParticipant(participant_id=DISTRICT, kind="district", parent_id=REGION, level="district"))
        s.add(KnownParticipant(participant_id=OTHER_DISTRICT, kind="district", parent_id=REGION, level="district"))
        for school, parent in ((SCHOOL, DISTRICT), (SIBLING, DISTRICT), (STRANGER, OTHER_DISTRICT)):
            s.add(KnownParticipant(participant_id=school, kind="school", parent_id=parent, level="organization"))
        for year in (THIS_YEAR, THIS_YEAR - 5):
            s.add(KnownForm(code="SCH-1", year=year, respondent_kinds="school", period_type="annual",
                            levels="organization,district,region"))
            s.add(KnownForm(code="MON-Q", year=year, respondent_kinds="school", period_type="quarterly"))
            s.add(KnownForm(code="OTH", year=year, respondent_kinds="school", period_type=None))
        s.commit()
    return rt, signer


@pytest.fixture
def env(tmp_path, limiter):
    rt, signer = build(tmp_path, limiter)
    client = TestClient(rt.app())  # no lifespan: no broker, no relay
    tokens = {p: token(p) for p in (MINISTRY, REGION, DISTRICT, OTHER_DISTRICT, SCHOOL, SIBLING, STRANGER, UNREGISTERED)}
    tokens["UNREGISTERED"] = tokens[UNREGISTERED]
    yield client, tokens, rt, signer
    rt.engine.dispose()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(client, token, document=b'{"pupils": 1}', signature=None, form_code="SCH-1", period=str(THIS_YEAR),
         filename="r.json", headers=None, recipient_id=None):
    data = {"form_code": form_code, "period": period, **({"recipient_id": recipient_id} if recipient_id else {})}
    return client.post("/v1/submissions", data=data,
                       files={"document": (filename, document), "signature": ("r.p7s", signature or cms_like())},
                       headers={**(auth(token) if token else {}), **(headers or {})})


def code(resp) -> tuple[int, str]:
    return resp.status_code, resp.json()["error"]["code"]


# --- authentication ---------------------------------------------------------------------------


def test_the_token_names_the_submitter_and_the_receipt_verifies(env):
    client, tokens, _rt, signer = env
    resp = post(client, tokens[SCHOOL])
    assert resp.status_code == 202, resp.text
    receipt = resp.json()
    assert (receipt["participant_id"], receipt["recipient_id"]) == (SCHOOL, DISTRICT)
    assert receipt["delivered_at"].endswith("+05:00")
    assert verify_receipt(receipt, signer.public_pem())


def test_the_receipt_names_every_signer_of_a_cosigned_cms(env):
    # Kalkan co-signing: the director, then the chief accountant, over the same document. Intake
    # only reads who the certificates name (the signature service judges them), in the CMS's order,
    # which DER sets by the SignerInfos' encodings (a SET OF), not by who signed first.
    client, tokens, _rt, signer = env
    ca = TestCA.create(valid_from=datetime.now(ALMATY) - timedelta(days=30))
    document = b'{"pupils": 810}'
    director, accountant = (ca.issue(iin=iin, name=name, bin_=SCHOOL, eku=(EKU_LEGAL_ENTITY,))
                            for iin, name in (("800101300016", "Director"), ("850505400033", "Chief accountant")))
    both = cosign(sign(document, *director), document, *accountant)
    receipt = post(client, tokens[SCHOOL], document=document, signature=both).json()
    named = [(s["iin"], s["name"], s["bin"]) for s in receipt["signers"]]
    assert sorted(named) == [("800101300016", "Director", SCHOOL), ("850505400033", "Chief accountant", SCHOOL)]
    assert [s["iin"] for s in receipt["signers"]] == [c.iin for c in claimed_signers(both)]
    assert verify_receipt(receipt, signer.public_pem())  # the signers are part of what intake signed


def test_missing_forged_expired_and_revoked_tokens_are_401(env):
    client, tokens, _rt, _ = env
    assert code(post(client, None)) == (401, "UNAUTHENTICATED")
    assert code(post(client, "uise_not-a-token")) == (401, "TOKEN_INVALID")
    assert code(post(client, token(SCHOOL, ttl=-600))) == (401, "TOKEN_EXPIRED")
    assert code(post(client, TokenIssuer(issuer=ISSUER.issuer).token("head", SCHOOL))) == (401, "TOKEN_INVALID")
    assert code(client.post("/v1/submissions", headers={"Authorization": "Basic Zm9vOmJhcg=="},
                            data={"form_code": "SCH-1", "period": "2026"})) == (401, "UNAUTHENTICATED")
    # no header is believed: not the one a gateway would set
    assert code(post(client, None, headers={"X-Participant-Id": SCHOOL})) == (401, "UNAUTHENTICATED")
    assert code(client.get("/v1/submissions")) == (401, "UNAUTHENTICATED")
    signed_out = token(SCHOOL, session_id="s-signed-out")
    assert post(client, signed_out).status_code == 202
    REVOKED.keys.add(revoked_key("s-signed-out"))
    assert code(post(client, signed_out)) == (401, "SESSION_REVOKED")


def test_who_may_deliver(env):
    client, _tokens, _rt, _ = env
    for role in ("head", "signer", "accountant"):
        assert post(client, token(SCHOOL, role), document=json.dumps({"r": role}).encode()).status_code == 202, role
    assert post(client, token(SCHOOL, "system", scopes=["submissions:write"])).status_code == 202
    # a reading-only machine, an integrator, the data office (no organization of its own)
    assert code(post(client, token(SCHOOL, "system", scopes=["submissions:read"]))) == (403, "SCOPE_MISSING")
    assert code(post(client, token(None, "integrator"))) == (403, "SCOPE_MISSING")
    assert code(post(client, token(None, "data_office"))) == (403, "SCOPE_MISSING")


# --- reading back -----------------------------------------------------------------------------


def test_the_submitter_and_the_departments_above_it_read_a_submission_nobody_else(env):
    client, tokens, _rt, _ = env
    sid = post(client, tokens[SCHOOL]).json()["submission_id"]
    for who in (SCHOOL, DISTRICT, REGION, MINISTRY):
        got = client.get(f"/v1/submissions/{sid}", headers=auth(tokens[who]))
        assert got.status_code == 200 and got.json()["timeline"][0]["step"] == "received"
    for who in (SIBLING, OTHER_DISTRICT, STRANGER):
        assert code(client.get(f"/v1/submissions/{sid}", headers=auth(tokens[who]))) == (404, "SUBMISSION_UNKNOWN")
    assert client.get(f"/v1/submissions/{sid}", headers=auth(token(None, "data_office"))).status_code == 200
    assert code(client.get(f"/v1/submissions/{sid}", headers=auth(token(None, "integrator")))) == (
        403, "SCOPE_MISSING")


def test_the_list_holds_own_and_subordinates_with_filters(env):
    client, tokens, _rt, _ = env
    mine = post(client, tokens[SCHOOL]).json()["submission_id"]
    sibling = post(client, tokens[SIBLING], form_code="MON-Q", period=f"{THIS_YEAR}-Q1").json()["submission_id"]
    post(client, tokens[STRANGER])

    def ids(token, **params):
        resp = client.get("/v1/submissions", params=params, headers=auth(token))
        assert resp.status_code == 200, resp.text
        return [i["submission_id"] for i in resp.json()["items"]]

    assert ids(tokens[SCHOOL]) == [mine]
    assert ids(tokens[DISTRICT]) == [sibling, mine]  # newest first
    assert ids(tokens[DISTRICT], form_code="MON-Q") == [sibling]
    assert ids(tokens[DISTRICT], period=str(THIS_YEAR), participant_id=SCHOOL) == [mine]
    assert ids(tokens[DISTRICT], status="accepted") == []
    assert ids(tokens[DISTRICT], limit=1) == [sibling]
    assert ids(tokens[OTHER_DISTRICT]) != [] and mine not in ids(tokens[OTHER_DISTRICT])
    assert set(ids(tokens[REGION])) == set(ids(tokens[MINISTRY])) == set(ids(tokens[DISTRICT]) + ids(tokens[OTHER_DISTRICT]))
    assert client.get("/v1/submissions", params={"limit": 0}, headers=auth(tokens[SCHOOL])).status_code == 422


def test_documents_are_read_through_the_api_and_every_read_is_recorded(env):
    client, tokens, _rt, _ = env
    document = b'{"pupils": 41}'
    sid = post(client, tokens[SCHOOL], document=document).json()["submission_id"]
    got = client.get(f"/v1/submissions/{sid}/document", headers=auth(tokens[DISTRICT]))
    assert got.status_code == 200 and got.content == document
    assert got.headers["X-Content-SHA256"] == hashlib.sha256(document).hexdigest()
    assert client.get(f"/v1/submissions/{sid}/signature", headers=auth(tokens[SCHOOL])).content == cms_like()
    link = client.get(f"/v1/submissions/{sid}/document", params={"as": "link"}, headers=auth(tokens[REGION])).json()
    assert link["expires_in"] == 300 and "X-Amz-Expires=300" in link["url"]
    for stranger in (OTHER_DISTRICT, SIBLING):
        assert code(client.get(f"/v1/submissions/{sid}/document", headers=auth(tokens[stranger]))) == (
            404, "SUBMISSION_UNKNOWN")
    assert client.get(f"/v1/submissions/{sid}/scan", headers=auth(tokens[SCHOOL])).status_code == 404  # not paper
    assert client.get(f"/v1/submissions/{sid}/other", headers=auth(tokens[SCHOOL])).status_code == 422
    reads = client.get(f"/v1/submissions/{sid}/reads", headers=auth(tokens[SCHOOL])).json()
    assert [(r["part"], r["how"], r["reader"].split("@")[1]) for r in reads] == [
        ("document", "file", f"{DISTRICT}/officer"), ("signature", "file", f"{SCHOOL}/head"),
        ("document", "link", f"{REGION}/officer")]
    assert {r["client"] for r in reads} == {"testclient"}  # the address the request came from
    assert code(client.get(f"/v1/submissions/{sid}/reads", headers=auth(tokens[OTHER_DISTRICT]))) == (
        404, "SUBMISSION_UNKNOWN")


def test_the_receipt_can_be_fetched_again_by_whoever_reads_the_submission(env):
    client, tokens, rt, signer = env
    receipt = post(client, tokens[SCHOOL]).json()
    sid = receipt["submission_id"]
    for who in (SCHOOL, DISTRICT):
        again = client.get(f"/v1/submissions/{sid}/receipt", headers=auth(tokens[who]))
        assert again.status_code == 200 and again.json() == receipt
    assert verify_receipt(again.json(), signer.public_pem())
    assert "receipt" not in client.get(f"/v1/submissions/{sid}", headers=auth(tokens[SCHOOL])).json()
    assert code(client.get(f"/v1/submissions/{sid}/receipt", headers=auth(tokens[SIBLING]))) == (
        404, "SUBMISSION_UNKNOWN")
    # a submission recorded before receipts were kept: the Idempotency-Key's answer, else a clear 404
    keyed = post(client, tokens[SCHOOL], document=b'{"pupils": 2}', headers={"Idempotency-Key": "k-old"}).json()
    with Session(rt.engine) as s:
        from uise_intake.adapters import Submission

        for old in (sid, keyed["submission_id"]):
            row = s.get(Submission, old)
            row.receipt = None
            s.add(row)
        s.commit()
    assert client.get(f"/v1/submissions/{keyed['submission_id']}/receipt", headers=auth(tokens[SCHOOL])).json() == keyed
    assert code(client.get(f"/v1/submissions/{sid}/receipt", headers=auth(tokens[SCHOOL]))) == (404, "RECEIPT_UNKNOWN")


# --- idempotency ------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_replays_the_first_receipt(env):
    client, tokens, rt, _ = env
    key = {"Idempotency-Key": "retry-1"}
    first = post(client, tokens[SCHOOL], headers=key)
    again = post(client, tokens[SCHOOL], headers=key)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    with rt.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM intake_submission").scalar() == 1
        assert conn.exec_driver_sql("SELECT count(*) FROM uise_outbox").scalar() == 1
    resigned = post(client, tokens[SCHOOL], signature=cms_like(b"\x30\x01\x01"), headers=key)
    assert code(resigned) == (422, "IDEMPOTENCY_KEY_REUSED")  # another signature is another submission
    changed = post(client, tokens[SCHOOL], document=b'{"pupils": 2}', headers=key)
    assert code(changed) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert changed.json()["error"]["submission_id"] == first.json()["submission_id"]
    # the key is the caller's own: another participant may use the same string
    assert post(client, tokens[SIBLING], headers=key).json()["submission_id"] != first.json()["submission_id"]
    assert code(post(client, tokens[SCHOOL], headers={"Idempotency-Key": "x" * 300})) == (
        422, "IDEMPOTENCY_KEY_INVALID")


# --- corrections ------------------------------------------------------------------------------


def test_corrections_form_a_chain_and_nothing_is_overwritten(env):
    client, tokens, rt, _ = env
    ids = [post(client, tokens[SCHOOL], document=json.dumps({"v": n}).encode()).json()["submission_id"]
           for n in range(3)]
    body = client.get(f"/v1/submissions/{ids[1]}", headers=auth(tokens[SCHOOL])).json()
    assert (body["supersedes"], body["superseded_by"]) == (ids[0], ids[2])
    assert [c["submission_id"] for c in body["chain"]] == ids
    last = client.get(f"/v1/submissions/{ids[2]}", headers=auth(tokens[DISTRICT])).json()
    assert last["superseded_by"] is None and [c["submission_id"] for c in last["chain"]] == ids
    docs = {client.get(f"/v1/submissions/{i}", headers=auth(tokens[SCHOOL])).json()["document_key"] for i in ids}
    assert len(docs) == 3 and all(k in rt.store.objects for k in docs)
    # another form or period starts its own chain
    other = post(client, tokens[SCHOOL], form_code="MON-Q", period=f"{THIS_YEAR}-Q1").json()
    assert other["supersedes"] is None


async def test_concurrent_versions_still_form_one_chain(tmp_path, limiter):
    import asyncio

    import httpx

    rt, _ = build(tmp_path, InFlightLimiter(32), intake_participant_max_in_flight=12)  # all 12 at once
    school = token(SCHOOL)
    transport = httpx.ASGITransport(app=rt.app())
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        async def one(n: int) -> httpx.Response:
            return await client.post("/v1/submissions", data={"form_code": "SCH-1", "period": str(THIS_YEAR)},
                                     files={"document": ("r.json", json.dumps({"n": n}).encode()),
                                            "signature": ("r.p7s", cms_like())}, headers=auth(school))

        answers = await asyncio.gather(*(one(n) for n in range(12)))
        assert [a.status_code for a in answers] == [202] * 12
        last = answers[-1].json()["submission_id"]
        chain = (await client.get(f"/v1/submissions/{last}", headers=auth(school))).json()["chain"]
    assert len(chain) == 12 and {c["submission_id"] for c in chain} == {a.json()["submission_id"] for a in answers}
    supersedes = [a.json()["supersedes"] for a in answers]
    assert supersedes.count(None) == 1 and len(set(supersedes)) == 12  # one root, no fork


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, expected", [
    (dict(document=b"%PDF-1.7 ..."), (415, "DOCUMENT_TYPE_UNSUPPORTED")),
    (dict(document=b"pupils,1\n", filename="r.xlsx"), (415, "DOCUMENT_TYPE_MISMATCH")),
    (dict(document=b'{"a": 1,'), (422, "DOCUMENT_JSON_INVALID")),
    (dict(document=b""), (422, "EMPTY_UPLOAD")),
    (dict(signature=b"not a signature at all"), (422, "SIGNATURE_NOT_CMS")),
    (dict(period="2026-13"), (422, "PERIOD_INVALID")),
    (dict(period=f"{THIS_YEAR}-Q1"), (422, "PERIOD_MISMATCH")),
    (dict(period=str(THIS_YEAR - 5)), (422, "PERIOD_CLOSED")),
    (dict(period=str(THIS_YEAR + 1)), (422, "PERIOD_NOT_OPEN")),
    (dict(form_code="NOPE"), (422, "UNKNOWN_FORM")),
])
def test_refusals_carry_their_reason(env, kw, expected):
    client, tokens, rt, _ = env
    resp = post(client, tokens[SCHOOL], **kw)
    assert code(resp) == expected, resp.text
    assert set(resp.json()["error"]["message"]) == {"kk", "ru", "en"}
    assert rt.store.puts == 0  # refused before anything was stored


def test_participant_and_form_applicability(env):
    client, tokens, _rt, _ = env
    assert code(post(client, tokens["UNREGISTERED"])) == (403, "UNKNOWN_PARTICIPANT")
    # a department delivers the forms its level has a deadline for: its consolidation (clause 9)
    assert post(client, tokens[DISTRICT], document=b'{"pupils": 2}').status_code == 202
    assert post(client, tokens[REGION], document=b'{"pupils": 3}').status_code == 202
    assert code(post(client, tokens[DISTRICT], form_code="MON-Q", period=f"{THIS_YEAR}-Q1")) == (
        422, "FORM_NOT_APPLICABLE")
    assert code(post(client, tokens[MINISTRY])) == (422, "NO_RECIPIENT")
    assert post(client, tokens[SCHOOL], form_code="OTH", period=f"{THIS_YEAR}-05-01").status_code == 202


def test_a_school_submits_to_its_district_never_straight_to_the_region(env):
    client, tokens, _rt, _ = env
    resp = post(client, tokens[SCHOOL], recipient_id=REGION)
    assert code(resp) == (422, "NOT_IMMEDIATE_SUPERIOR") and DISTRICT in resp.json()["error"]["message"]["en"]
    assert code(post(client, tokens[SCHOOL], recipient_id=OTHER_DISTRICT)) == (422, "NOT_IMMEDIATE_SUPERIOR")
    assert post(client, tokens[SCHOOL], recipient_id=DISTRICT).status_code == 202


def test_sizes_are_refused_before_the_body_is_parsed(tmp_path, limiter):
    rt, _ = build(tmp_path, limiter, max_document_bytes=1000, intake_max_signature_bytes=100,
                  intake_max_scan_bytes=100)
    client = TestClient(rt.app())
    school = token(SCHOOL)
    assert code(post(client, school, document=b'{"a": "' + b"x" * 1000 + b'"}')) == (413, "DOCUMENT_TOO_LARGE")
    assert code(post(client, school, signature=cms_like(b"\x04\x7f" + b"x" * 127))) == (413, "SIGNATURE_TOO_LARGE")
    too_big = post(client, school, document=b'{"a": "' + b"x" * 300_000 + b'"}')
    assert code(too_big) == (413, "REQUEST_TOO_LARGE")

    def chunks():  # a chunked upload declares no length: it is counted as it comes
        yield b"--b\r\nContent-Disposition: form-data; name=\"document\"; filename=\"d.json\"\r\n\r\n"
        for _ in range(40):
            yield b"x" * 10_000

    streamed = client.post("/v1/submissions", content=chunks(),
                           headers={**auth(school), "Content-Type": "multipart/form-data; boundary=b"})
    assert "content-length" not in streamed.request.headers
    assert code(streamed) == (413, "REQUEST_TOO_LARGE")
    garbled = client.post("/v1/submissions", content=b"--b\r\nnonsense", headers={
        **auth(school), "Content-Type": "multipart/form-data; boundary=b"})
    assert garbled.status_code in (400, 422) and garbled.json()["error"]["code"] in ("REQUEST_MALFORMED",
                                                                                    "REQUEST_INVALID")


def test_beyond_the_in_flight_limit_the_answer_is_429_at_once(env, limiter):
    client, tokens, _rt, _ = env
    for _ in range(limiter.limit):
        assert limiter.try_acquire()
    resp = post(client, tokens[SCHOOL])
    assert code(resp) == (429, "OVERLOADED") and int(resp.headers["Retry-After"]) >= 1
    # the upload was read to its end, so the connection stays usable: no reset for the client
    assert resp.headers.get("connection") != "close"
    for _ in range(limiter.limit):
        limiter.release()
    assert post(client, tokens[SCHOOL]).status_code == 202
    assert limiter.in_flight == 0  # every request gave its slot back, refused or not
    post(client, tokens[SCHOOL], document=b"%PDF")
    assert limiter.in_flight == 0


def test_infrastructure_failures_are_503_with_retry_after(env):
    client, tokens, rt, _ = env

    class Down:
        async def ok(self) -> bool:
            return False

    rt.kafka_health = Down()
    resp = post(client, tokens[SCHOOL])
    assert code(resp) == (503, "KAFKA_UNAVAILABLE") and resp.headers["Retry-After"]
    rt.kafka_health = Healthy()

    class Broken:
        def put(self, *_a):
            raise OSError("S3 down")

    rt.store = Broken()
    assert code(post(client, tokens[SCHOOL])) == (503, "STORAGE_UNAVAILABLE")


# --- the paper channel --------------------------------------------------------------------------

PDF_SCAN = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def paper(client, bearer, participant=SCHOOL, delivered_on=None, scan=PDF_SCAN, document=b'{"pupils": 3}',
          **extra):
    today = datetime.now(ALMATY).date()
    return client.post("/v1/paper-submissions", data={
        "participant_id": participant, "form_code": "SCH-1", "period": str(THIS_YEAR),
        "delivered_on": (delivered_on or today).isoformat(), **extra},
        files={"scan": ("title.pdf", scan), "document": ("data.json", document)}, headers=auth(bearer))


def test_the_recipient_registers_a_paper_submission(env):
    client, tokens, rt, signer = env
    yesterday = datetime.now(ALMATY).date() - timedelta(days=1)
    resp = paper(client, tokens[DISTRICT], delivered_on=yesterday)
    assert resp.status_code == 202, resp.text
    receipt = resp.json()
    assert verify_receipt(receipt, signer.public_pem())
    assert receipt["channel"] == "paper" and receipt["delivered_on"] == yesterday.isoformat()
    assert receipt["delivered_at"] == f"{yesterday.isoformat()}T00:00:00+05:00"
    assert receipt["participant_id"] == SCHOOL and receipt["registered_by"] == f"iin:900101300011@{DISTRICT}/officer"
    body = client.get(f"/v1/submissions/{receipt['submission_id']}", headers=auth(tokens[SCHOOL])).json()
    assert body["channel"] == "paper" and body["status"] == "received"
    assert [t["step"] for t in body["timeline"]] == ["received", "registered_on_paper"]
    with rt.engine.connect() as conn:
        event = json.loads(conn.exec_driver_sql("SELECT body FROM uise_outbox").scalar())
    assert (event["channel"], event["signature_detached"]) == ("paper", False)
    assert event["signature"]["media_type"] == "application/pdf" and event["registered_by"] == receipt["registered_by"]


def test_paper_refusals(env):
    client, tokens, _rt, _ = env
    today = datetime.now(ALMATY).date()
    assert code(paper(client, tokens[SIBLING])) == (403, "NOT_RECIPIENT")
    assert code(paper(client, tokens[SCHOOL])) == (403, "NOT_RECIPIENT")  # not even for itself
    assert code(paper(client, tokens[OTHER_DISTRICT])) == (403, "NOT_RECIPIENT")
    assert code(paper(client, tokens[DISTRICT], delivered_on=today + timedelta(days=1))) == (
        422, "DELIVERED_ON_IN_FUTURE")
    assert code(paper(client, tokens[DISTRICT], delivered_on=today - timedelta(days=400))) == (
        422, "PAPER_DELIVERY_TOO_OLD")
    assert code(paper(client, tokens[DISTRICT], scan=b"\x89PNG\r\n\x1a\n....")) == (422, "SCAN_NOT_PDF")
    assert code(paper(client, tokens[DISTRICT], participant="S1")) == (422, "REQUEST_INVALID")


def test_paper_never_replaces_a_signed_electronic_submission(env):
    client, tokens, _rt, _ = env
    electronic = post(client, tokens[SCHOOL]).json()
    refused = paper(client, tokens[DISTRICT], document=b'{"pupils": 999999}')
    assert code(refused) == (409, "PAPER_AFTER_ELECTRONIC")
    assert refused.json()["error"]["submission_id"] == electronic["submission_id"]
    # the school's own correction still does
    assert post(client, tokens[SCHOOL], document=b'{"pupils": 5}').json()["supersedes"] == electronic["submission_id"]
    # paper after paper (a corrected paper delivered later) does, for a school that reports on paper
    first = paper(client, tokens[DISTRICT], participant=SIBLING).json()
    second = paper(client, tokens[DISTRICT], participant=SIBLING, document=b'{"pupils": 4}').json()
    assert second["supersedes"] == first["submission_id"]
    assert code(paper(client, tokens[DISTRICT], delivered_on=date(2020, 1, 1))) == (422, "PAPER_DELIVERY_TOO_OLD")


# --- the migration from version 1 ------------------------------------------------------------


def test_version_2_migrates_a_version_1_database(tmp_path):
    from sqlalchemy import create_engine, inspect

    engine = create_engine(f"sqlite:///{tmp_path / 'v1.db'}")
    with engine.begin() as conn:  # the v1 shape, as deployed before issue 4
        conn.exec_driver_sql(
            "CREATE TABLE intake_submission (submission_id VARCHAR PRIMARY KEY, participant_id VARCHAR NOT NULL, "
            "recipient_id VARCHAR, form_code VARCHAR NOT NULL, period VARCHAR NOT NULL, document_key VARCHAR NOT NULL,"
            " document_sha256 VARCHAR NOT NULL, signature_key VARCHAR NOT NULL, signature_sha256 VARCHAR NOT NULL, "
            "media_type VARCHAR NOT NULL, delivered_at DATETIME NOT NULL, supersedes VARCHAR, status VARCHAR NOT NULL,"
            " reason_code VARCHAR)")
        conn.exec_driver_sql("CREATE TABLE intake_form (code VARCHAR NOT NULL, year INTEGER NOT NULL, "
                             "respondent_kinds VARCHAR NOT NULL, PRIMARY KEY (code, year))")
        conn.exec_driver_sql("CREATE TABLE intake_participant (participant_id VARCHAR PRIMARY KEY, "
                             "kind VARCHAR NOT NULL, parent_id VARCHAR, active BOOLEAN NOT NULL)")
        conn.exec_driver_sql("INSERT INTO intake_submission VALUES ('old', 'S1', 'D1', 'SCH-1', '2026', 'k', 'h', "
                             "'k', 'h', 'application/json', '2026-01-01 00:00:00', NULL, 'accepted', NULL)")
        conn.exec_driver_sql("CREATE TABLE uise_schema_migration (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                             "applied_at DATETIME NOT NULL)")
        conn.exec_driver_sql("INSERT INTO uise_schema_migration VALUES (1, 'v1', '2026-01-01 00:00:00')")
    assert migrate(engine, MIGRATIONS) == [2, 3, 4, 5, 6, 7, 8]
    insp = inspect(engine)
    assert {"addressed_to", "receipt"} <= {c["name"] for c in insp.get_columns("intake_submission")}
    assert "level" in {c["name"] for c in insp.get_columns("intake_participant")}
    assert "levels" in {c["name"] for c in insp.get_columns("intake_form")}
    assert {"channel", "registered_by"} <= {c["name"] for c in insp.get_columns("intake_submission")}
    assert "period_type" in {c["name"] for c in insp.get_columns("intake_form")}
    assert "intake_idempotency" in set(insp.get_table_names())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT channel FROM intake_submission").scalar() == "electronic"
    assert "uise_document_read" in set(inspect(engine).get_table_names())  # since version 8, the common table
    assert "intake_api_key" not in set(inspect(engine).get_table_names())
    assert migrate(engine, MIGRATIONS) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_version_8_moves_the_document_reads_to_the_common_table_losing_none(tmp_path, backend):
    from contextlib import nullcontext

    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, inspect

    from uise_common.db import make_engine
    from uise_common.reads import DocumentRead
    from uise_common.service import with_common
    from uise_common.testing import scratch_postgres
    from uise_intake import commands

    with scratch_postgres("intake_v8") if backend == "postgresql" else nullcontext(
            f"sqlite:///{tmp_path / 'v7.db'}") as url:
        engine = make_engine(url, "intake")
        migrate(engine, [COMMON_MIGRATION, *MIGRATIONS[:7]])
        # intake_document_read as version 3 made it from intake's own model, with reads in it
        legacy = Table("intake_document_read", MetaData(), Column("id", Integer, primary_key=True),
                       Column("submission_id", String, nullable=False, index=True),
                       Column("part", String, nullable=False), Column("how", String, nullable=False),
                       Column("reader", String, nullable=False), Column("reader_participant_id", String),
                       Column("at", DateTime, nullable=False))
        legacy.create(engine)
        with engine.begin() as conn:
            conn.execute(legacy.insert(), [
                {"id": 7, "submission_id": "s1", "part": "signature", "how": "file",
                 "reader": f"iin:870303400044@{DISTRICT}/officer", "reader_participant_id": DISTRICT,
                 "at": datetime(2026, 3, 2, 5, 0)},
                {"id": 3, "submission_id": "s1", "part": "document", "how": "link",
                 "reader": f"iin:870303400044@{SCHOOL}/head", "reader_participant_id": SCHOOL,
                 "at": datetime(2026, 3, 1, 5, 0)},
                {"id": 4, "submission_id": "s2", "part": "document", "how": "file",
                 "reader": f"client:c1@{SCHOOL}/system", "reader_participant_id": SCHOOL,
                 "at": datetime(2026, 3, 1, 6, 0)}])
        assert migrate(engine, with_common(MIGRATIONS)) == [8, 1_000_001, 1_000_002]
        assert "intake_document_read" not in inspect(engine).get_table_names()
        with Session(engine) as s:
            moved = commands.document_reads(s, "s1")
            assert [(r["part"], r["how"], r["reader"], r["at"]) for r in moved] == [
                ("document", "link", f"iin:870303400044@{SCHOOL}/head", "2026-03-01T10:00:00+05:00"),
                ("signature", "file", f"iin:870303400044@{DISTRICT}/officer", "2026-03-02T10:00:00+05:00")]
            assert [r["reader"] for r in commands.document_reads(s, "s2")] == [f"client:c1@{SCHOOL}/system"]
            # the table hands out its own ids after the move (PostgreSQL's sequence included)
            from uise_common import reads
            for _ in range(4):
                reads.record(s, reads.Reader("iin:870303400044@x/head", None, "10.0.0.1"), "submission", "s1",
                             "document", "file")
                s.commit()
            assert len(s.exec(select(DocumentRead)).all()) == 7
        assert migrate(engine, with_common(MIGRATIONS)) == []
        engine.dispose()


# --- the hostile corpus (tests/fixtures/hostile), here in-process; tests/e2e posts it to the stack ---


def _corpus():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "tests" / "fixtures" / "hostile" / "corpus.py"
    spec = importlib.util.spec_from_file_location("hostile_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus()


# A false Content-Length needs a raw socket, which the in-process client has not: that case runs
# in tests/e2e/test_hostile_uploads.py only.
@pytest.mark.parametrize("case", [c for c in CORPUS.cases() if c.get("generate") != "declared_huge"],
                         ids=lambda c: c["name"])
def test_every_hostile_upload_gets_its_reason(env, case):
    client, tokens, _rt, _ = env
    settings = Settings()
    data, files = CORPUS.request_parts(case, lambda _doc: cms_like(), settings.max_document_bytes,
                                       settings.intake_max_signature_bytes)
    data["period"] = data["period"].replace("2026", str(THIS_YEAR), 1)
    if "to" in case:
        data["recipient_id"] = {"region": REGION}[case["to"]]
    who = {"school": SCHOOL, "district": DISTRICT}[case["as"]]
    if case["auth"] == "revoked":
        headers = auth(token(who, session_id="signed-out-corpus"))
        REVOKED.keys.add(revoked_key("signed-out-corpus"))
    else:
        headers = {"token": auth(tokens[who]), "none": {}, "forged": auth("uise_forged"),
                   "stranger": auth(tokens["UNREGISTERED"]), "gateway-header": {"X-Participant-Id": who},
                   "expired": auth(token(who, ttl=-600))}[case["auth"]]
    resp = client.post("/v1/submissions", data=data, files=files, headers={**headers, **case.get("headers", {})})
    assert code(resp) == (case["status"], case["code"]), resp.text


def test_explanations_of_queries_travel_in_the_event_and_bad_ones_are_refused(env):
    import json as _json

    from sqlmodel import select

    from uise_common.outbox import OutboxRow

    client, tokens, rt, _ = env
    resp = client.post("/v1/submissions", data={"form_code": "SCH-1", "period": str(THIS_YEAR),
                                                "explanations": _json.dumps({"Q1": "a part-time music teacher"})},
                       files={"document": ("r.json", b'{"pupils": 1}'), "signature": ("r.p7s", cms_like())},
                       headers=auth(tokens[SCHOOL]))
    assert resp.status_code == 202, resp.text
    with Session(rt.engine) as s:
        row = s.exec(select(OutboxRow).where(OutboxRow.topic == "uise.submission.received.v1")).one()
    assert _json.loads(row.body)["explanations"] == {"Q1": "a part-time music teacher"}
    for bad in ("not json", "[1]", _json.dumps({"Q1": ""}), _json.dumps({"Q1": 5})):
        refused = client.post("/v1/submissions", data={"form_code": "SCH-1", "period": str(THIS_YEAR),
                                                       "explanations": bad},
                              files={"document": ("r.json", b'{"pupils": 2}'), "signature": ("r.p7s", cms_like())},
                              headers=auth(tokens[SCHOOL]))
        assert code(refused) == (422, "EXPLANATIONS_INVALID"), bad


def test_the_submitter_explains_its_queries_after_upload(env):
    from uise_common.testing import run_handler
    from uise_contracts.events import Finding, SubmissionQueried

    client, tokens, rt, _ = env
    sid = post(client, tokens[SCHOOL]).json()["submission_id"]
    url = f"/v1/submissions/{sid}/explanations"
    assert code(client.post(url, json={"explanations": {"Q1": "x"}}, headers=auth(tokens[SCHOOL]))) == (
        409, "NOT_QUERIED")
    run_handler(rt.engine, handlers.on_queried, SubmissionQueried(
        submission_id=sid, participant_id=SCHOOL, form_code="SCH-1", period=str(THIS_YEAR), findings=[
            Finding(rule="Q1", severity="warning", message="unusually many teachers")]))
    assert client.get(f"/v1/submissions/{sid}", headers=auth(tokens[SCHOOL])).json()["status"] == "queried"
    # the district reads it but cannot explain for the school; another school cannot even see it
    assert code(client.post(url, json={"explanations": {"Q1": "x"}}, headers=auth(tokens[DISTRICT]))) == (
        404, "SUBMISSION_UNKNOWN")
    assert code(client.post(url, json={"explanations": {"Q9": "x"}}, headers=auth(tokens[SCHOOL]))) == (
        422, "EXPLANATION_UNKNOWN_RULE")
    assert code(client.post(url, json={"explanations": {"Q1": ""}}, headers=auth(tokens[SCHOOL]))) == (
        422, "EXPLANATIONS_INVALID")
    resp = client.post(url, json={"explanations": {"Q1": "twelve part-time music teachers"}},
                       headers=auth(tokens[SCHOOL]))
    assert resp.status_code == 202 and resp.json()["explained"] == ["Q1"]
    from sqlmodel import select

    from uise_common.outbox import OutboxRow

    with Session(rt.engine) as s:
        row = s.exec(select(OutboxRow).where(OutboxRow.topic == "uise.submission.explained.v1")).one()
    event = json.loads(row.body)
    assert event["explanations"] == {"Q1": "twelve part-time music teachers"} and event["explained_by"].endswith(
        f"@{SCHOOL}/head")
    steps = [t["step"] for t in client.get(f"/v1/submissions/{sid}", headers=auth(tokens[DISTRICT])).json()["timeline"]]
    assert steps[-2:] == ["queried", "explained"]


def test_a_return_and_a_correction_needed_reach_the_submitters_timeline(env):
    from uise_contracts.events import ConsolidationDue, SubmissionAccepted, SubmissionReturned

    client, tokens, rt, _ = env
    school = post(client, tokens[SCHOOL]).json()["submission_id"]
    district = post(client, tokens[DISTRICT], document=b'{"pupils": 2}').json()["submission_id"]
    at = datetime.now(ALMATY)
    with Session(rt.engine) as s:
        handlers.on_accepted(SubmissionAccepted(submission_id=school, participant_id=SCHOOL, recipient_id=DISTRICT,
                                                form_code="SCH-1", period=str(THIS_YEAR)), s)
        handlers.on_returned(SubmissionReturned(submission_id=school, participant_id=SCHOOL, recipient_id=DISTRICT,
                                                form_code="SCH-1", period=str(THIS_YEAR), comment="classes: 31, not 33",
                                                returned_by="iin:870303400044", returned_at=at), s)
        handlers.on_consolidation_due(ConsolidationDue(
            node_id=DISTRICT, form_code="SCH-1", period=str(THIS_YEAR), expected=2, received=2, reason="correction",
            submission_id=district, due_id=f"{DISTRICT}:SCH-1:{THIS_YEAR}:3"), s)
        s.commit()
    mine = client.get(f"/v1/submissions/{school}", headers=auth(tokens[SCHOOL])).json()
    assert (mine["status"], mine["final"], mine["reason_code"]) == ("returned", True, "RETURNED")
    returned = [t for t in mine["timeline"] if t["step"] == "returned"]
    assert returned[0]["detail"]["comment"] == "classes: 31, not 33" and returned[0]["service"] == "routing"
    theirs = client.get(f"/v1/submissions/{district}", headers=auth(tokens[DISTRICT])).json()
    needed = [t for t in theirs["timeline"] if t["step"] == "correction_needed"]
    assert needed and needed[0]["detail"]["due_id"].endswith(":3") and needed[0]["service"] == "deadline"
