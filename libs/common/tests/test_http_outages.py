"""A route that meets an outage (the database, object storage, Redis, Kafka) answers 503 with a
reason code, kk/ru/en and Retry-After, in the body every refusal has: a client retries it. Before,
only intake mapped outages; identity's refresh answered a bare 500 while the fault suite held the
database away."""

from __future__ import annotations

import pytest
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI
from fastapi.testclient import TestClient
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy.exc import OperationalError
from urllib3.exceptions import MaxRetryError

from uise_common import http

RAISED = {
    "database": (OperationalError("SELECT 1", {}, Exception("connection refused")), "DATABASE_UNAVAILABLE"),
    "storage": (MaxRetryError(None, "/uise-documents/x", "connection refused"), "STORAGE_UNAVAILABLE"),
    "redis": (RedisConnectionError("connection refused"), "REDIS_UNAVAILABLE"),
    "kafka": (KafkaConnectionError("no broker"), "KAFKA_UNAVAILABLE"),
}


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    http.install(app, "test")

    @app.get("/away/{what}")
    def away(what: str) -> dict:
        raise RAISED[what][0]

    @app.get("/bug")
    def bug() -> dict:
        raise RuntimeError("a bug is not an outage")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("what", sorted(RAISED))
def test_an_outage_is_a_503_to_retry_with_its_reason(client, what):
    resp = client.get(f"/away/{what}")
    assert resp.status_code == 503, resp.text
    assert resp.headers["retry-after"] == http.OUTAGE_RETRY_AFTER
    error = resp.json()["error"]
    assert error["code"] == RAISED[what][1]
    assert set(error["message"]) == {"kk", "ru", "en"} and all(error["message"].values())


def test_a_bug_is_still_a_500(client):
    assert client.get("/bug").status_code == 500


def test_every_operation_declares_the_outages_in_its_openapi():
    app = FastAPI()

    @app.get("/x")
    def x() -> dict:
        return {}

    schema = http.describe_errors(app.openapi())
    declared = schema["paths"]["/x"]["get"]["responses"]["503"]
    assert declared["description"].split(", ") == [
        "DATABASE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "REDIS_UNAVAILABLE", "KAFKA_UNAVAILABLE"]
    assert declared["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_outages_join_a_503_the_route_declares_already():
    app = FastAPI()

    @app.get("/y", responses={503: {"description": "AUTH_UNAVAILABLE"}})
    def y() -> dict:
        return {}

    schema = http.describe_errors(app.openapi())
    assert schema["paths"]["/y"]["get"]["responses"]["503"]["description"].split(", ") == [
        "AUTH_UNAVAILABLE", "DATABASE_UNAVAILABLE", "STORAGE_UNAVAILABLE", "REDIS_UNAVAILABLE", "KAFKA_UNAVAILABLE"]
