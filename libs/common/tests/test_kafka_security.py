"""Kafka client security: what the UISE_KAFKA_* settings turn into for the FastStream broker,
the topic admin and plain aiokafka clients (issue 7). No broker is needed: the clients are built
but not started, which is where aiokafka checks its security arguments."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faststream.security import SASLScram256, SASLScram512
from pydantic import ValidationError

from uise_common import broker as broker_module
from uise_common.broker import (
    KafkaSecurityError,
    ensure_topics,
    kafka_client_options,
    kafka_security,
    make_broker,
)
from uise_common.settings import Settings
from uise_contracts.topics import BY_NAME

PASSWORD = "0123456789abcdef0123456789abcdef"


def scram(**overrides) -> Settings:
    values = dict(kafka_security_protocol="SASL_PLAINTEXT", kafka_username="intake",
                  kafka_password=PASSWORD)
    return Settings(**(values | overrides))


@pytest.fixture
def ca_file(tmp_path):
    """A private CA certificate, as a broker behind SASL_SSL would be signed by."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "UISE test Kafka CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path / "kafka-ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


async def build_clients(options: dict) -> None:
    """aiokafka validates security_protocol, sasl_* and ssl_context when a client is made (in a
    running event loop); none is started."""
    await AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", **options).close()
    await AIOKafkaProducer(bootstrap_servers="127.0.0.1:1", **options).stop()
    await AIOKafkaConsumer(bootstrap_servers="127.0.0.1:1", **options).stop()


# ---------------------------------------------------------------------------------------------
# what each protocol turns into
# ---------------------------------------------------------------------------------------------


def test_plaintext_is_the_default_and_sends_no_credentials():
    s = Settings()
    assert s.kafka_security_protocol == "PLAINTEXT"
    assert kafka_security(s) is None
    assert kafka_client_options(s) == {}
    kwargs = make_broker(s)._connection_kwargs
    assert "sasl_mechanism" not in kwargs and kwargs.get("security_protocol", "PLAINTEXT") == "PLAINTEXT"


async def test_sasl_plaintext_is_scram_sha_512_with_the_services_credentials():
    s = scram()
    sec = kafka_security(s)
    assert isinstance(sec, SASLScram512)
    assert (sec.username, sec.password, sec.use_ssl) == ("intake", PASSWORD, False)
    options = kafka_client_options(s)
    assert options == {
        "security_protocol": "SASL_PLAINTEXT",
        "ssl_context": None,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "intake",
        "sasl_plain_password": PASSWORD,
    }
    await build_clients(options)


def test_the_broker_the_services_run_connects_with_the_same_credentials():
    """FastStream gives these kwargs to its producer, consumers and admin client alike."""
    kwargs = make_broker(scram())._connection_kwargs
    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("intake", PASSWORD)


async def test_sasl_ssl_verifies_the_broker_against_the_configured_ca(ca_file):
    s = scram(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=ca_file)
    options = kafka_client_options(s)
    assert options["security_protocol"] == "SASL_SSL"
    ctx = options["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    subjects = [dict(x[0] for x in c["subject"]) for c in ctx.get_ca_certs()]
    assert {"commonName": "UISE test Kafka CA"} in subjects
    await build_clients(options)


async def test_sasl_ssl_without_a_ca_file_uses_the_systems_cas():
    options = kafka_client_options(scram(kafka_security_protocol="SASL_SSL"))
    ctx = options["ssl_context"]
    assert isinstance(ctx, ssl.SSLContext) and ctx.verify_mode == ssl.CERT_REQUIRED
    await build_clients(options)


def test_scram_sha_256_can_be_chosen():
    sec = kafka_security(scram(kafka_sasl_mechanism="SCRAM-SHA-256"))
    assert isinstance(sec, SASLScram256) and not isinstance(sec, SASLScram512)
    assert kafka_client_options(scram(kafka_sasl_mechanism="SCRAM-SHA-256"))["sasl_mechanism"] == "SCRAM-SHA-256"


def test_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("UISE_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")  # case does not matter
    monkeypatch.setenv("UISE_KAFKA_SASL_MECHANISM", "scram-sha-512")
    monkeypatch.setenv("UISE_KAFKA_USERNAME", "routing")
    monkeypatch.setenv("UISE_KAFKA_PASSWORD", PASSWORD)
    s = Settings()
    assert kafka_client_options(s)["sasl_plain_username"] == "routing"
    assert PASSWORD not in repr(s) and PASSWORD not in str(s.model_dump())


async def test_the_topic_admin_authenticates_as_the_given_principal(monkeypatch):
    made = {}

    class Admin:
        def __init__(self, **kwargs):
            made.update(kwargs)

        async def start(self):
            pass

        async def list_topics(self):
            return ["uise.submission.received.v1", "uise.submission.received.v1.dlq"]

        async def create_topics(self, topics):
            made["created"] = [t.name for t in topics]

        async def close(self):
            pass

    monkeypatch.setattr(broker_module, "AIOKafkaAdminClient", Admin)
    s = scram(kafka_username="admin")
    created = await ensure_topics("kafka:9092", (BY_NAME["uise.submission.received.v1"],
                                                 BY_NAME["uise.submission.accepted.v1"]),
                                  security=kafka_security(s))
    assert made["sasl_mechanism"] == "SCRAM-SHA-512" and made["sasl_plain_username"] == "admin"
    assert made["security_protocol"] == "SASL_PLAINTEXT"
    assert created == made["created"] == ["uise.submission.accepted.v1", "uise.submission.accepted.v1.dlq"]


# ---------------------------------------------------------------------------------------------
# half-configured clients are refused at start-up, with the variable to set
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["kafka_username", "kafka_password"])
def test_sasl_without_credentials_is_refused(missing):
    with pytest.raises(ValidationError, match="needs UISE_KAFKA_USERNAME and UISE_KAFKA_PASSWORD"):
        scram(**{missing: None})


def test_credentials_with_plaintext_are_refused_rather_than_silently_unused():
    with pytest.raises(ValidationError, match="UISE_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"):
        Settings(kafka_username="intake", kafka_password=PASSWORD)


def test_a_ca_file_without_tls_is_refused(ca_file):
    with pytest.raises(ValidationError, match="only with UISE_KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        scram(kafka_ssl_cafile=ca_file)


@pytest.mark.parametrize("value", ["SSL", "GSSAPI", "plain"])
def test_unknown_protocols_and_mechanisms_are_refused(value):
    with pytest.raises(ValidationError):
        scram(kafka_security_protocol=value)
    with pytest.raises(ValidationError):
        scram(kafka_sasl_mechanism=value)


def test_an_unreadable_ca_file_names_the_variable(tmp_path):
    missing = tmp_path / "nope.pem"
    with pytest.raises(KafkaSecurityError, match="UISE_KAFKA_SSL_CAFILE=.*nope.pem"):
        kafka_security(scram(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=missing))
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with pytest.raises(KafkaSecurityError, match="cannot load CA certificates"):
        kafka_security(scram(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=garbage))
