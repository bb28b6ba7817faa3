"""Schemathesis against every service's OpenAPI, in process, as each kind of caller.

Each service runs as it does in production (its app factory and lifespan: migrations, broker,
outbox relay, background work) on a SQLite database of its own, real Redis, moto's S3 and a
tansu broker, its read model holding the demo hierarchy. For every operation and every caller
(CALLERS), Schemathesis generates requests that fit the schema and requests that do not, and
each answer must be no server error, a status the operation declares, and a body that matches
the schema declared for that status. Counts are printed per service.

UISE_FUZZ_EXAMPLES (default 10) sets the examples per operation, caller and mode; UISE_FUZZ_SEED
(default 14) the seed, so a run is repeatable and a finding can be reproduced."""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from uise_common.broker import ensure_topics
from uise_common.testing import tansu_in_memory
from uise_registry.demo import DEMO_FORM, DISTRICT, HEADS, SCHOOLS
from uise_stack.config import SERVICES
from uise_stack.demo import enter_demo

SCHOOL = next(iter(SCHOOLS))

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("UISE_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("UISE_FUZZ_SEED", "14"))
# Path parameters the demo knows: a third pass per caller fixes them, so that generated queries and
# bodies reach the routes' own work (found participants, the approved list) and not only "unknown".
KNOWN = {"participant_id": SCHOOL, "node_id": DISTRICT, "recipient_id": DISTRICT, "form_code": DEMO_FORM.code,
         "code": DEMO_FORM.code, "period": "2026", "year": "2026", "version": "1", "fmt": "csv", "part": "document",
         "cell": "pupils_total", "iin": HEADS[SCHOOL], "report_id": f"{DISTRICT}:{DEMO_FORM.code}:2026"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Tally:
    """What one service's fuzz did: operations, inputs sent, and each distinct finding (operation,
    caller, what failed) with how often it happened and one request that shows it."""

    operations: int = 0
    inputs: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # by operation: where a slow run spends its time
    answers: Counter = field(default_factory=Counter)  # by status class: how deep the inputs went
    findings: dict[tuple[str, str, str], list] = field(default_factory=dict)

    def found(self, operation: str, caller: str, what: str, example: str) -> None:
        self.findings.setdefault((operation, caller, what), [0, example])[0] += 1

    @property
    def failures(self) -> int:
        return sum(n for n, _ in self.findings.values())

    def report(self, limit: int = 25) -> str:
        return "\n\n".join(f"{op} as {caller}: {what} ({n}x)\n{example}"
                            for (op, caller, what), (n, example) in list(self.findings.items())[:limit])


def send(case, caller, tally: Tally) -> None:
    """One generated request as `caller`; what fails is counted as a finding."""
    label = case.operation.label
    headers = caller.headers()
    tally.inputs += 1
    try:
        response = case.call(headers=headers)
    except Exception as exc:  # the app raised: FastAPI answered 500 and re-raised it
        tally.found(label, caller.name, f"server error {type(exc).__name__}: {exc}"[:300],
                    case.as_curl_command(headers=headers))
        return
    tally.answers[f"{response.status_code // 100}xx"] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        for failure in group.exceptions:
            tally.found(label, caller.name, f"{failure.title} ({response.status_code})",
                        f"{failure.message[:600]}\n{case.as_curl_command(headers=headers)[:600]}\n"
                        f"-> {response.text[:400]}")


def fuzz_operation(operation, callers, tally: Tally) -> None:
    """EXAMPLES requests that fit the schema, EXAMPLES that do not, and EXAMPLES that fit with the
    demo's own identifiers in the path (when the path has any), each sent as every caller (a
    generated body can take a second to make, a call a few milliseconds)."""
    passes = [(GenerationMode.POSITIVE, None), (GenerationMode.NEGATIVE, None)]
    known = {p.name: KNOWN[p.name] for p in operation.path_parameters if p.name in KNOWN}
    if known:
        passes.append((GenerationMode.POSITIVE, known))
    started = time.monotonic()
    for mode, path_parameters in passes:
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                             suppress_health_check=list(HealthCheck))
        @hypothesis.seed(SEED)
        def run(case) -> None:
            for caller in callers:
                send(case, caller, tally)

        run()
    tally.seconds[operation.label] = time.monotonic() - started


@pytest.mark.timeout(1200)  # a deeper run (UISE_FUZZ_EXAMPLES) of the registry takes minutes
@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_a_server_error_or_contradicts_its_schema(service, tmp_path, world):
    with tansu_in_memory() as kafka:
        import asyncio

        asyncio.run(ensure_topics(kafka))
        rt = world.runtime(service, tmp_path, kafka)
        app = rt.app()
        try:
            schema = schemathesis.openapi.from_asgi("/openapi.json", app)  # starts the app's lifespan
            if service == "registry":
                with asgi.get_client(app) as http:
                    http.headers.update(world.callers[3].headers())
                    enter_demo(http)
            tally = Tally()
            for result in schema.get_all_operations():
                operation = result.ok()
                tally.operations += 1
                fuzz_operation(operation, world.callers, tally)
        finally:
            asgi.shutdown_lifespans()
            rt.engine.dispose()
    slowest = sorted(tally.seconds.items(), key=lambda kv: -kv[1])[:3]
    print(f"\nAPI fuzz {service}: {tally.operations} operations, {len(world.callers)} callers, "
          f"{tally.inputs} inputs tried ({', '.join(f'{k} {n}' for k, n in sorted(tally.answers.items()))}), "
          f"{tally.failures} failures ({len(tally.findings)} distinct); "
          f"slowest: {', '.join(f'{op} {sec:.0f} s' for op, sec in slowest)}")
    assert not tally.findings, tally.report()
