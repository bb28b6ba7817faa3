"""`uise-stack campaign`: a full reporting campaign of one form through every level, for
rehearsals and tests (issue 10, clauses 9 and 12).

It seeds a hierarchy under the Ministry (defaults: 1 region, 2 districts, 6 schools; `--national`
takes the national seed), approves a list holding the campaign's form for a year of its own, and
moves the stack's business clock into that campaign (restored after). Every school's head signs
its figures with the EDS (the project's test CA) and submits them; when a district's consolidated
document is ready, its head signs and submits it up, then each region's, and the Ministry's
consolidation is the national figure. The run prints, per level, who was expected, delivered,
accepted, returned, late and missing, and the national figure against the sum of the schools'
data, cell by cell; it fails when they differ or the chain does not reach the Ministry.

The pieces (`Campaign.seed`, `submit_school`, `consolidate`, ...) are what the end-to-end tests
drive one step at a time."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from uise_common.aggregates import aggregated_cells, combine, contribution, figures, plain
from uise_common.clock import Clock, clear_control, write_control
from uise_common.pki.cms import sign
from uise_common.pki.testca import GostTestCA
from uise_common.spreadsheets import csv_bytes
from uise_contracts.events import Category, FieldType, FormDefinition, FormField, FormRule, Level
from uise_registry.identifiers import make_valid
from uise_stack import client
from uise_stack.client import Signer, bearer, submit
from uise_stack.config import SERVICES, StackConfig, service_of

ALMATY = ZoneInfo("Asia/Almaty")
MINISTRY = "100140011059"  # the Ministry of the demo hierarchy (uise_registry.demo)
MINISTRY_HEAD = "750305300013"
CERT_DAYS = 12 * 365  # the heads' certificates outlive a campaign set years ahead
LEVEL_ORDER = ("organization", "district", "region", "ministry")
PARTICIPANTS_TOPIC = "uise.participant.upserted.v1"
ACCEPTED_TOPIC = "uise.submission.accepted.v1"
SEND_ATTEMPTS = 5
PROGRESS_EVERY = 500  # organizations between two progress lines
IMPORT_COLUMNS = ("bin", "level", "kind", "parent_bin", "name_kk", "name_ru", "head_iin", "head_name", "head_from")


RESPONDENTS = ("school", "college", "preschool")  # the kinds that report on the campaign's form


def campaign_form(code: str = "CMP-1") -> FormDefinition:
    """A small annual form of schools, colleges and kindergartens with every kind of aggregate:
    sums, a mean, a min and a max."""
    cells = [
        FormField(code="pupils_total", title="Pupils, total"),
        FormField(code="pupils_girls", title="of them girls"),
        FormField(code="pupils_boys", title="of them boys"),
        FormField(code="classes", title="Classes"),
        FormField(code="avg_class_size", title="Pupils a class, average", type=FieldType.decimal, aggregate="mean"),
        FormField(code="smallest_class", title="Smallest class", aggregate="min"),
        FormField(code="largest_class", title="Largest class", aggregate="max"),
    ]
    return FormDefinition(
        code=code, title_kk="Науқан нысаны", title_ru="Форма кампании", title_en="Campaign form",
        category=Category.indicators, period_type="annual", respondent_kinds=list(RESPONDENTS), fields=cells,
        rules=[FormRule(code="R1", left="pupils_total", right=["pupils_girls", "pupils_boys"],
                        message="pupils_total must equal girls + boys")],
        deadline_days={Level.organization: 10, Level.district: 20, Level.region: 30})


def school_figures(n: int) -> dict:
    """Plausible figures for the n-th school, varied (a mean with a fraction among them)."""
    n = n % 40
    girls, boys, classes = 180 + 37 * n, 175 + 29 * n, 14 + n
    return {"pupils_total": girls + boys, "pupils_girls": girls, "pupils_boys": boys, "classes": classes,
            "avg_class_size": str((Decimal(girls + boys) / classes).quantize(Decimal("0.01"))),
            "smallest_class": 18 + n % 5, "largest_class": 28 + n % 7}


def peer_figures(district: int) -> dict:
    """The figures of a school of the district-th district: plausible, the totals add up, and the
    same for every school of a district. Validation judges a school against its district's peers
    (docs/validation.md), and a query waits for the school's explanation instead of reaching a
    final state: among equal peers nothing is an outlier, while any spread, however small, can
    be (a modified z-score over a median absolute deviation of half a pupil). For runs that
    follow submissions without answering queries (the bench, the fault suite)."""
    girls, boys, classes = 300 + district % 7, 290 + district % 5, 20
    return {"pupils_total": girls + boys, "pupils_girls": girls, "pupils_boys": boys, "classes": classes,
            "avg_class_size": str((Decimal(girls + boys) / classes).quantize(Decimal("0.01"))),
            "smallest_class": 18, "largest_class": 28 + district % 3}


def approve_forms(registry: str, year: int, forms: Iterable[FormDefinition], label: str) -> None:
    """`forms` added to the year's approved list in one amendment, as the data office would (runs
    that give each phase or each test forms of its own, so that every submission is its school's
    first of its form); a form the list holds already stays as it is."""
    with httpx.Client(base_url=registry, timeout=60.0, auth=client.DataOfficeAuth()) as http:
        lists = http.get(f"/v1/formlists/{year}/with-drafts").json()
        approved = [fl for fl in lists if fl["status"] == "approved"]
        kept = [f for fl in approved[-1:] for f in fl["forms"]]
        have = {f["code"] for f in kept}
        wanted = kept + [f.model_dump(mode="json") for f in forms if f.code not in have]
        draft = http.post("/v1/formlists", json={"year": year, "forms": wanted})
        draft.raise_for_status()
        version = draft.json()["version"]
        http.post(f"/v1/formlists/{year}/{version}/approve",
                  json={"order_no": f"№ {year}-{label}", "order_date": date(year, 1, 15).isoformat(),
                        "signatory": f"Министр ({label})"}).raise_for_status()


@dataclass
class Unit:
    participant_id: str
    level: str
    parent_id: str | None
    head_iin: str
    name: str
    kind: str = ""

    def __post_init__(self) -> None:
        self.kind = self.kind or ("school" if self.level == "organization" else self.level)


@dataclass
class Hierarchy:
    ministry: str
    units: dict[str, Unit] = field(default_factory=dict)

    def at(self, level: str) -> list[Unit]:
        return [u for u in self.units.values() if u.level == level]

    def children(self, node: str) -> list[Unit]:
        return [u for u in self.units.values() if u.parent_id == node]


def small_hierarchy(regions: int = 1, districts: int = 2, schools: int = 6, series: int = 7) -> Hierarchy:
    """`regions` regions under the Ministry, `districts` districts in each, `schools` schools spread
    over the districts; BINs and IINs valid (control digit), numbered by `series` so that two
    campaigns on one stack do not meet."""
    h = Hierarchy(MINISTRY)
    n_district = 0
    for r in range(regions):
        region = make_valid(f"2102{series:02d}{r:05d}")
        h.units[region] = Unit(region, "region", MINISTRY, make_valid(f"7806{series:02d}{r:05d}"), f"Region {r + 1}")
        for _ in range(districts):
            district = make_valid(f"2103{series:02d}{n_district:05d}")
            h.units[district] = Unit(district, "district", region, make_valid(f"8209{series:02d}{n_district:05d}"),
                                     f"District {n_district + 1}")
            n_district += 1
    districts_all = h.at("district")
    for s in range(schools * regions):
        school = make_valid(f"2204{series:02d}{s:05d}")
        parent = districts_all[s % len(districts_all)].participant_id
        h.units[school] = Unit(school, "organization", parent, make_valid(f"8001{series:02d}{s:05d}"), f"School {s + 1}")
    return h


def national_hierarchy() -> Hierarchy:
    """The national seed's departments and its schools, colleges and kindergartens
    (uise_registry.seed), heads included; universities answer on forms of their own."""
    from uise_registry.seed import national

    h = Hierarchy(MINISTRY)
    seeded = national()
    ministry = next(p for p in seeded if p.level == Level.ministry)
    for p in seeded:
        if p.level == Level.ministry or (p.level == Level.organization and p.kind not in RESPONDENTS) or not p.head_iin:
            continue
        parent = MINISTRY if p.parent_id == ministry.participant_id else p.parent_id
        h.units[p.participant_id] = Unit(p.participant_id, p.level.value, parent, p.head_iin, p.name_ru, p.kind)
    return h


@dataclass
class Campaign:
    config: StackConfig
    ca: GostTestCA
    hierarchy: Hierarchy
    form: FormDefinition = field(default_factory=campaign_form)
    year: int = 2033
    data: dict[str, dict] = field(default_factory=dict)  # school → the figures it submitted (latest)
    submissions: dict[str, str] = field(default_factory=dict)  # participant → its latest submission id
    signers: dict[str, Signer] = field(default_factory=dict)  # participant → its head's EDS
    workers: int = 8  # offices acting at once
    log: Callable[[str], None] = print
    as_of: str | None = None  # an information request's period (an as-of date) instead of the year
    timings: list[tuple[str, int, float]] = field(default_factory=list)  # (stage, how many, seconds)

    @property
    def period(self) -> str:
        return self.as_of or str(self.year)

    def url(self, service: str) -> str:
        return self.config.url(service)

    def office(self) -> dict[str, str]:
        return bearer(client.data_office_token())

    # --- the stage ------------------------------------------------------------------------------

    def seed(self) -> None:
        """The hierarchy and the campaign's list, as the data office enters them; every head's
        certificate, and each head signs in (on the real clock, before the campaign's clock)."""
        with httpx.Client(base_url=self.url("registry"), timeout=60.0, auth=client.DataOfficeAuth()) as http:
            if http.get(f"/v1/participants/{MINISTRY}").status_code == 404:
                http.put(f"/v1/participants/{MINISTRY}", json=dict(
                    bin=MINISTRY, level="ministry", kind="ministry", parent_id=None,
                    name_kk="Оқу-ағарту министрлігі", name_ru="Министерство просвещения",
                    head_iin=MINISTRY_HEAD, head_name="Министр", head_from="2020-09-01")).raise_for_status()

            self._import(http)
            self._approve(http)
        self.caught_up(PARTICIPANTS_TOPIC, timeout=max(120.0, len(self.hierarchy.units) / 5))

        def head(unit: Unit) -> None:
            key, cert = self.ca.issue(iin=unit.head_iin, name=f"Head of {unit.name}", bin_=unit.participant_id,
                                      valid_days=CERT_DAYS)
            self.signers[unit.participant_id] = Signer(key, cert)
            client.remember_signer(unit.participant_id, self.signers[unit.participant_id])
            self._signed_in(unit.participant_id)

        self.each(head, self.hierarchy.units.values())

    def _import(self, http: httpx.Client) -> None:
        """The hierarchy as one file through the registry's bulk import, as the data office loads
        a year's list of organizations (parents before children, one transaction)."""
        order = {level: n for n, level in enumerate(("region", "district", "organization"))}
        units = sorted(self.hierarchy.units.values(), key=lambda u: order[u.level])
        rows = [(u.participant_id, u.level, u.kind, u.parent_id, u.name, u.name, u.head_iin, f"Head of {u.name}",
                 "2020-09-01") for u in units]
        data = csv_bytes(IMPORT_COLUMNS, rows)
        resp = http.post("/v1/participants/import", params={"dry_run": "false"},
                         files={"file": ("campaign.csv", data, "text/csv")}, timeout=600.0)
        resp.raise_for_status()
        if resp.json()["rejected"]:
            raise ValueError(f"the registry refused rows of the campaign's hierarchy: {resp.json()['rejected'][:5]}")

    def caught_up(self, topic: str, timeout: float) -> None:
        """Wait until every service has consumed `topic` to its end, as ops would read it off the
        services' /metrics (uise_consumer_lag), so that no school submits before the services
        that judge its submission have heard of it."""
        instances = [name for name in self.config.service_ports if service_of(name) in SERVICES]

        def behind() -> int | None:
            total = 0
            for name in instances:
                text = client.http.get(f"{self.url(name)}/metrics", timeout=10).text
                total += sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                             if line.startswith("uise_consumer_lag{") and f'topic="{topic}"' in line)
            return total

        self.wait(lambda: behind() == 0, f"every service to consume {topic}", timeout)

    def each(self, fn: Callable, items: Iterable) -> list:
        """`fn` over `items` from `workers` threads, as many offices at once would; the first
        failure is raised."""
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(fn, items))

    def _signed_in(self, participant_id: str, timeout: float = 60.0) -> None:
        """Sign in as soon as identity has heard of the head (the registry's events travel)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.token_for(participant_id)
                return
            except httpx.HTTPStatusError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _approve(self, http: httpx.Client) -> None:
        lists = http.get(f"/v1/formlists/{self.year}/with-drafts").json()
        approved = [fl for fl in lists if fl["status"] == "approved"]
        if any(f["code"] == self.form.code for fl in approved for f in fl["forms"]):
            return  # a re-run: the list stands
        # an amendment keeps what the year's list holds and adds the campaign's form
        forms = [f for fl in approved[-1:] for f in fl["forms"]] + [self.form.model_dump(mode="json")]
        drafts = [fl for fl in lists if fl["status"] == "draft"]
        if drafts:  # one left by an interrupted run
            version = drafts[-1]["version"]
            http.put(f"/v1/formlists/{self.year}/{version}", json={"year": self.year, "forms": forms}).raise_for_status()
        else:
            draft = http.post("/v1/formlists", json={"year": self.year, "forms": forms})
            draft.raise_for_status()
            version = draft.json()["version"]
        http.post(f"/v1/formlists/{self.year}/{version}/approve",
                  json={"order_no": f"№ {self.year}-науқан", "order_date": date(self.year, 1, 15).isoformat(),
                        "signatory": "Министр (науқан)"}).raise_for_status()
        self.wait(lambda: client.http.get(f"{self.url('deadline')}/v1/deadlines",
                                    params={"form_code": self.form.code, "level": "organization"}).json(),
                  f"the deadlines of {self.form.code}")

    # --- the clock --------------------------------------------------------------------------------

    def clock(self, moment: datetime) -> None:
        """Every service's business clock at `moment`, running on from there."""
        write_control(self.config.clock_file, offset_seconds=(moment - datetime.now(ALMATY)).total_seconds())

    def opening(self) -> datetime:
        """Early January after the year: the year is over, no deadline has passed."""
        return datetime(self.year + 1, 1, 5, 10, 0, tzinfo=ALMATY)

    def deadline(self, level: str) -> datetime:
        rows = client.read(f"{self.url('deadline')}/v1/deadlines",
                           params={"form_code": self.form.code, "level": level}).json()
        return datetime.fromisoformat(next(r for r in rows if r["period"] == self.period)["deadline_at"])

    # --- submitting -------------------------------------------------------------------------------

    def submit_document(self, participant_id: str, document: bytes, filename: str = "report.json") -> dict:
        """Sign `document` as the participant's head, deliver it, and follow it to a final state."""
        signer = self.signers[participant_id]
        # signed "now" as the stack counts it: a signingTime years before the delivery is refused
        signature = sign(document, signer.key, signer.cert, signing_time=Clock(control_file=self.config.clock_file).now())
        key = uuid.uuid4().hex  # one key for this submission's sends: a send again is the same submission
        for attempt in range(SEND_ATTEMPTS):  # an office whose connection broke sends the same bytes again
            try:
                resp = submit(self.url("intake"), participant_id, self.form.code, self.period, document, signer,
                              filename, signature=signature, idempotency_key=key)
                break
            except httpx.TransportError as exc:
                self.log(f"  {participant_id}: {exc!r}, sending again")
                if attempt == SEND_ATTEMPTS - 1:
                    raise
        if resp.is_error:  # with intake's reason: a refusal at the door says why
            raise httpx.HTTPStatusError(f"{resp.status_code} {resp.text}", request=resp.request, response=resp)
        self.submissions[participant_id] = resp.json()["submission_id"]
        return self.follow(participant_id, resp.json()["submission_id"])

    def follow(self, participant_id: str, submission_id: str, timeout: float = 300.0) -> dict:
        """The submission once final. A query (a figure far from its peers' or its history) is
        answered as the office would: its head confirms the figures in writing, and the
        submission goes on. Polls less often as it waits, so that thousands of offices
        following their submissions do not load intake more than the submissions do."""
        intake = self.url("intake")
        deadline, pause, explained = time.monotonic() + timeout, 0.3, False
        while time.monotonic() < deadline:
            try:
                resp = client.get_submission(intake, submission_id)
            except httpx.TransportError:  # a busy moment: look again later
                resp = None
            body = resp.json() if resp is not None and resp.status_code == 200 else {}
            if body.get("final"):
                return body
            if body.get("status") == "queried" and not explained:
                explained = self.explain(participant_id, submission_id, body)
            time.sleep(pause)
            pause = min(pause * 1.5, 3.0)
        raise TimeoutError(f"submission {submission_id} not final after {timeout:.0f} s: {body.get('status')}")

    def explain(self, participant_id: str, submission_id: str, body: dict) -> bool:
        """The head confirms the queried figures in writing; False when the answer did not get
        through (a timeout, an outage), to be sent again on the next look."""
        rules = {q["rule"] for t in body["timeline"] if t["step"] == "queried" for q in t["detail"]["queries"]}
        try:
            resp = client.http.post(f"{self.url('intake')}/v1/submissions/{submission_id}/explanations", timeout=30,
                                    headers=bearer(client.token_for(participant_id)),
                                    json={"explanations": dict.fromkeys(rules, "checked: the figures are right")})
        except httpx.TransportError:
            return False
        if resp.status_code in client.PASSING:
            return False
        resp.raise_for_status()
        return True

    def submit_school(self, school: str, values: dict) -> dict:
        self.data[school] = values
        return self.submit_document(school, json.dumps(values).encode())

    def consolidation(self, node: str, until: Callable[[dict], bool] | None = None, timeout: float = 120.0) -> dict:
        """The node's latest consolidated document's metadata, once one is built (and `until` holds)."""
        url = f"{self.url('reporting')}/v1/consolidations/{node}/{self.form.code}/{self.period}"

        def ready():  # polled by `wait`, which already looks again after an error or a 503
            resp = client.http.get(url, headers=self.office())
            return resp.json() if resp.status_code == 200 and (until is None or until(resp.json())) else None

        return self.wait(ready, f"the consolidation of {node}", timeout)

    def document(self, node: str, fmt: str = "json", version: int | None = None) -> bytes:
        url = f"{self.url('reporting')}/v1/consolidations/{node}/{self.form.code}/{self.period}/document.{fmt}"
        resp = client.read(url, params={"version": version} if version else {}, headers=self.office())
        resp.raise_for_status()
        return resp.content

    def includes(self, node: str) -> Callable[[dict], bool]:
        """A consolidation holds the latest submission of each of the node's subordinates that
        submitted in this campaign."""
        wanted = {u.participant_id: self.submissions[u.participant_id]
                  for u in self.hierarchy.children(node) if u.participant_id in self.submissions}
        return lambda meta: all(meta["included_submissions"].get(p) == s for p, s in wanted.items())

    def consolidate(self, node: str, until: Callable[[dict], bool] | None = None) -> dict:
        """The node's head signs its consolidated document (as built, once it includes what its
        subordinates submitted last) and submits it up."""
        meta = self.consolidation(node, until or self.includes(node))
        final = self.submit_document(node, self.document(node, "json", meta["version"]))
        return {"consolidation": meta, "submission": final}

    def waits_for_outsiders(self, node: str) -> bool:
        """Whether the node also expects subordinates outside this campaign (the demo's region
        beside the campaign's, a national school that was not seeded a head): then its
        consolidation comes at their deadline, not when the campaign's are complete."""
        resp = client.read(f"{self.url('deadline')}/v1/nodes/{node}/consolidation",
                           params={"form_code": self.form.code, "period": self.period}, headers=self.office())
        if resp.status_code != 200:
            return False
        return any(p not in self.hierarchy.units for p in resp.json()["missing"])

    def close_collection(self, level: str) -> None:
        """The deadline of `level` passes: its superiors consolidate what they have."""
        self.clock(self.deadline(level) + timedelta(minutes=1))

    def national(self, until: Callable[[dict], bool] | None = None) -> dict:
        """The Ministry's consolidation: the national figure."""
        meta = self.consolidation(MINISTRY, until or self.includes(MINISTRY))
        return {**meta, "document": json.loads(self.document(MINISTRY, "json", meta["version"]))}

    def report(self, node: str = MINISTRY, until: Callable[[dict], bool] | None = None,
               timeout: float = 120.0) -> dict:
        """The node's latest report version (metadata: docs/reports.md), once one is built (and
        `until` holds)."""
        url = f"{self.url('reporting')}/v1/reports/{node}/{self.form.code}/{self.period}"

        def ready():  # polled by `wait`, which already looks again after an error or a 503
            resp = client.http.get(url, headers=self.office())
            latest = resp.json()["versions"][-1] if resp.status_code == 200 else None
            return latest if latest and (until is None or until(latest)) else None

        return self.wait(ready, f"the report of {node}", timeout)

    def report_documents(self, meta: dict) -> dict[str, bytes]:
        """A report version's documents, fetched as an integrator does: fresh signed links, each
        document checked against its SHA-256."""
        base = f"{self.url('reporting')}/v1/reports/{meta['report_id']}/{meta['version']}"
        links = client.read(f"{base}/links", method="POST", headers=self.office()).raise_for_status()
        out = {}
        for fmt, doc in links.json()["documents"].items():
            data = client.read(doc["url"], timeout=60).raise_for_status().content
            if hashlib.sha256(data).hexdigest() != doc["sha256"]:
                raise ValueError(f"{meta['report_id']} v{meta['version']} {fmt}: checksum differs")
            out[fmt] = data
        return out

    # --- reading the outcome ----------------------------------------------------------------------------

    def expected_totals(self, schools: Iterable[str] | None = None) -> dict[str, Decimal | None]:
        """The figure of every cell over the schools' own data, computed here independently."""
        cells = aggregated_cells(self.form)
        chosen = self.data if schools is None else {s: self.data[s] for s in schools if s in self.data}
        parts = [contribution({k: str(v) for k, v in values.items()}, None, cells) for values in chosen.values()]
        return figures(cells, combine(parts) if parts else {})

    def differences(self, national: dict, schools: Iterable[str] | None = None) -> dict[str, tuple]:
        want = self.expected_totals(schools)
        got = {k: v for k, v in national["document"].items() if not k.startswith("_")}
        out = {}
        for cell, value in want.items():
            have = None if got.get(cell) is None else Decimal(str(got[cell]))
            if have != value:
                out[cell] = (None if have is None else plain(have), None if value is None else plain(value))
        return out

    def level_table(self) -> dict[str, dict[str, int]]:
        """Per level: expected, delivered, accepted, returned, late, missing, from each recipient's
        inbox at routing."""
        rows = {lvl: dict.fromkeys(("expected", "delivered", "accepted", "returned", "late", "missing"), 0)
                for lvl in LEVEL_ORDER[:-1]}
        recipients = [MINISTRY, *(u.participant_id for u in self.hierarchy.units.values() if u.level != "organization")]
        for node in recipients:
            resp = client.read(f"{self.url('routing')}/v1/inboxes/{node}",
                               params={"form_code": self.form.code, "period": self.period}, headers=self.office())
            resp.raise_for_status()
            for entry in resp.json()["participants"]:
                unit = self.hierarchy.units.get(entry["participant_id"])
                if unit is None or not entry["expected"]:
                    continue  # a participant outside the campaign's hierarchy (another campaign's)
                row = rows[unit.level]
                row["expected"] += 1
                status = entry["status"]
                row["delivered"] += status != "expected"
                row["accepted"] += status in ("accepted", "reviewed")
                row["returned"] += status == "returned"
                row["late"] += bool(entry.get("late"))
                row["missing"] += bool(entry.get("missing"))
        return rows

    @staticmethod
    def wait(probe: Callable[[], object], what: str, timeout: float = 120.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = probe()
            except httpx.HTTPError:
                got = None
            if got:
                return got
            time.sleep(0.5)
        raise TimeoutError(f"waited {timeout:.0f} s for {what}")

    # --- the whole run -------------------------------------------------------------------------------

    @contextmanager
    def stage(self, label: str, count: int) -> Iterator[None]:
        """Time one stage of the run (its wall time goes into the closing table)."""
        self.log(f"{label}: {count} …")
        started = time.monotonic()
        yield
        self.timings.append((label, count, time.monotonic() - started))
        self.log(f"{label}: {count} in {self.timings[-1][2]:.0f} s")

    def run(self) -> int:
        organizations = self.hierarchy.at("organization")
        kinds = Counter(u.kind for u in organizations)
        self.log(f"campaign {self.form.code} {self.period}: {len(organizations)} organizations "
                 f"({', '.join(f'{n} {k}' for k, n in kinds.most_common())}), "
                 f"{len(self.hierarchy.at('district'))} districts, {len(self.hierarchy.at('region'))} regions")
        with self.stage("the hierarchy and its heads (import, every service informed, sign-in)",
                        len(self.hierarchy.units)):
            self.seed()
        self.clock(self.opening())
        try:
            done = Counter()

            def school(numbered: tuple[int, Unit]) -> None:
                n, unit = numbered
                final = self.submit_school(unit.participant_id, school_figures(n))
                done[final["status"]] += 1  # a Counter's += is not atomic, but a lost count only blurs progress
                if final["status"] != "accepted":
                    self.log(f"  {unit.kind} {unit.participant_id}: {final['status']} {final.get('reason_code')}")
                if n % PROGRESS_EVERY == PROGRESS_EVERY - 1:
                    self.log(f"  {n + 1} of {len(organizations)} submitted: {dict(done)}")

            with self.stage("organizations signed, submitted, judged", len(organizations)):
                self.each(school, enumerate(organizations))
            below = "organization"
            for level in ("district", "region", "ministry"):
                nodes = [MINISTRY] if level == "ministry" else [
                    u.participant_id for u in self.hierarchy.at(level) if self.hierarchy.children(u.participant_id)]
                if any(self.waits_for_outsiders(node) for node in nodes):
                    self.log(f"  others beside the campaign are expected: the {below} deadline passes")
                    self.close_collection(below)
                below = level
                if level == "ministry":
                    break

                def up(node: str, level: str = level) -> None:
                    done = self.consolidate(node)
                    self.log(f"  {level} {node}: consolidation v{done['consolidation']['version']} "
                             f"→ {done['submission']['status']}")

                # as an officer reads the dashboard before she consolidates: every service has taken
                # in what was accepted below (else the consolidation's wait measures the backlog)
                with self.stage(f"every service caught up with what the {level} departments accepted", 1):
                    self.caught_up(ACCEPTED_TOPIC, timeout=max(120.0, len(self.hierarchy.units) / 5))
                with self.stage(f"{level} departments consolidated, signed, submitted", len(nodes)):
                    self.each(up, nodes)
            with self.stage("the Ministry's consolidation", 1):
                national = self.national()
        except TimeoutError as exc:
            self.log(f"the chain did not reach the Ministry: {exc}")
            return 1
        finally:
            clear_control(self.config.clock_file)
        self.print_table(self.level_table())
        diff = self.differences(national)
        self.print_national(national, diff)
        try:
            with self.stage("the national report final", 1):
                report = self.report(until=lambda m: m["status"] == "final", timeout=60 + len(self.hierarchy.units) / 100)
            self.log(f"national report {report['report_id']} v{report['version']}: {report['status']}, "
                     + ", ".join(f"{f} {d['size']} B" for f, d in sorted(report["documents"].items())))
        except TimeoutError:
            self.log("the national report is not final (regions missing or returned)")
        self.print_timings()
        return 1 if diff else 0

    def print_timings(self) -> None:
        self.log(f"wall time per stage ({self.workers} offices at once):")
        for label, count, seconds in self.timings:
            rate = f"{count / seconds:8.1f}/s" if count > 1 and seconds else " " * 10
            self.log(f"  {seconds:8.0f} s {rate}  {label} ({count})")
        self.log(f"  {sum(t[2] for t in self.timings):8.0f} s in all")

    def print_table(self, rows: dict[str, dict[str, int]]) -> None:
        names = {"organization": "organizations", "district": "districts", "region": "regions"}
        head = ("level", "expected", "delivered", "accepted", "returned", "late", "missing")
        self.log("  ".join(f"{h:>13}" for h in head))
        for level, row in rows.items():
            self.log("  ".join([f"{names[level]:>13}", *(f"{row[h]:>13}" for h in head[1:])]))

    def print_national(self, national: dict, diff: dict) -> None:
        want = self.expected_totals()
        self.log(f"national figure ({MINISTRY}, consolidation v{national['version']}) against the organizations' data:")
        for cell, value in want.items():
            got = national["document"].get(cell)
            mark = "DIFFERS" if cell in diff else "ok"
            self.log(f"  {cell:<16} {got!s:>14} {'' if value is None else plain(value):>14}  {mark}")


def start_or_attach(base_dir, run: Callable[[StackConfig, GostTestCA], int]) -> int:
    """Run against the stack running in `base_dir`, or start one of its own on free ports in a
    temporary directory, and stop it after."""
    import tempfile
    from pathlib import Path

    from uise_stack.stack import Stack

    config = StackConfig(base_dir=Path(base_dir))
    state = config.base_dir / "stack.json"
    if state.exists():
        from urllib.parse import urlsplit

        from uise_stack.cli import _running

        if _running(config):  # its ports as it wrote them (`up --ephemeral-ports` too)
            known = json.loads(state.read_text())
            config.service_ports = {name: urlsplit(url).port for name, url in known["services"].items()}
            config.kafka_port = int(known["kafka"].rsplit(":", 1)[1])
            stack = Stack(config)
            stack.bootstrap_data_office()
            return run(config, stack.prepare_pki())
    with tempfile.TemporaryDirectory(prefix="uise-campaign-") as tmp:
        config = StackConfig.ephemeral(Path(tmp), database_url=None, redis_url=None)
        stack = Stack(config)
        print(f"no stack runs in {base_dir}: starting one of its own in {tmp} …")
        stack.start()
        try:
            return run(config, stack.prepare_pki())
        finally:
            stack.stop()


def main(base_dir: str, regions: int, districts: int, schools: int, national: bool, year: int,
         offices: int = 8) -> int:
    hierarchy = national_hierarchy() if national else small_hierarchy(regions, districts, schools)

    def run(config: StackConfig, ca: GostTestCA) -> int:
        return Campaign(config, ca, hierarchy, year=year, workers=offices).run()

    return start_or_attach(base_dir, run)

