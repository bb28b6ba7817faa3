"""How the embedded stack lays out replicas: names, ports, environment (no processes started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from uise_stack.config import StackConfig, instance_name, parse_replicas, service_of


def test_replicas_parse_from_the_command_line():
    assert parse_replicas("intake=2, signature=3,validation=1") == {"intake": 2, "signature": 3, "validation": 1}
    assert parse_replicas("") == {}
    for bad, says in (("portal=2", "portal"), ("intake", "service=count"), ("intake=0", "at least 1"),
                      ("nobody=2", "nobody")):
        with pytest.raises(ValueError, match=says):
            parse_replicas(bad)


def test_a_replica_is_named_after_its_service_and_listens_100_ports_up():
    config = StackConfig(base_dir=Path("var"), replicas={"intake": 3})
    assert config.instances("intake") == ["intake", "intake-2", "intake-3"]
    assert config.instances("signature") == ["signature"]
    assert [config.service_ports[i] for i in config.instances("intake")] == [8002, 8102, 8202]
    assert config.urls("intake") == ["http://127.0.0.1:8002", "http://127.0.0.1:8102", "http://127.0.0.1:8202"]
    assert (instance_name("intake", 1), instance_name("intake", 2), service_of("intake-2")) == (
        "intake", "intake-2", "intake")
    # the first instances first: they migrate the shared databases before any replica starts
    assert config.all_instances[-2:] == ["intake-2", "intake-3"]


def test_a_replica_gets_its_own_port_and_name_and_the_rest_of_its_services_environment():
    config = StackConfig.ephemeral(Path("var"), replicas={"signature": 2})
    first, second = config.service_env("signature"), config.service_env("signature", "signature-2")
    assert second["UISE_SERVICE_NAME"] == "signature" and second["UISE_INSTANCE_NAME"] == "signature-2"
    assert "UISE_INSTANCE_NAME" not in first
    assert first["UISE_HTTP_PORT"] != second["UISE_HTTP_PORT"] == str(config.service_ports["signature-2"])
    assert {k: v for k, v in first.items() if k != "UISE_HTTP_PORT"} == {
        k: v for k, v in second.items() if k not in ("UISE_HTTP_PORT", "UISE_INSTANCE_NAME")}
    assert len(set(config.service_ports.values())) == len(config.service_ports)


def test_scaling_adds_ports_for_new_replicas_only():
    config = StackConfig.ephemeral(Path("var"))
    before = dict(config.service_ports)
    config.scale("validation", 2)
    assert config.instances("validation") == ["validation", "validation-2"]
    assert {k: v for k, v in config.service_ports.items() if k in before} == before
    config.scale("validation", 1)
    assert config.instances("validation") == ["validation"]
    with pytest.raises(ValueError):
        config.scale("portal", 2)
