"""The embedded stack's boundary (issue 7, docs/operations.md): tansu and Valkey have no
authentication of their own and the S3 server speaks plain HTTP, so all three must listen on
127.0.0.1 only. Checked on the command lines uise_stack.stack really builds, with process
start-up replaced by a recorder."""

from __future__ import annotations

import pytest

from uise_common.settings import Settings
from uise_stack import stack as stack_module
from uise_stack.config import SERVICES, StackConfig


@pytest.fixture
def started(monkeypatch, tmp_path):
    argvs: dict[str, list[str]] = {}

    def spawn(name, argv, log_dir, env=None):
        argvs[name] = [str(a) for a in argv]
        return object()

    class NoBuckets:
        def __init__(self, *args, **kwargs):
            pass

        def bucket_exists(self, bucket):
            return True

    monkeypatch.setattr(stack_module, "spawn", spawn)
    monkeypatch.setattr(stack_module, "wait_until", lambda *a, **k: None)
    monkeypatch.setattr(stack_module, "Minio", NoBuckets)
    monkeypatch.setattr(stack_module, "tansu_binary", lambda: "tansu")
    monkeypatch.setattr(stack_module, "valkey_binary", lambda: "valkey-server")
    config = StackConfig.ephemeral(tmp_path, redis_url=None)
    s = stack_module.Stack(config)
    s.start_s3()
    s.start_kafka()
    s.start_redis()
    return config, argvs


def value_after(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def test_the_s3_server_binds_loopback_only(started):
    config, argvs = started
    argv = argvs["s3"]
    assert argv[1:3] == ["-m", "uise_stack.s3server"], "the signature-checking server, not bare moto"
    assert value_after(argv, "--host") == "127.0.0.1"
    assert value_after(argv, "--port") == str(config.s3_port)


def test_the_s3_server_refuses_a_wider_address(capsys):
    from uise_stack import s3server

    for host in ("0.0.0.0", "10.0.0.5", "::"):
        with pytest.raises(SystemExit) as exc:
            s3server.main(["--host", host, "--port", "1", "--credentials-file", "/nonexistent"])
        assert exc.value.code == 2, host
        assert "only a loopback address" in capsys.readouterr().err


def test_tansu_listens_and_advertises_loopback_only(started):
    config, argvs = started
    argv = argvs["kafka"]
    expected = f"tcp://127.0.0.1:{config.kafka_port}"
    assert value_after(argv, "--listener-url") == expected
    assert value_after(argv, "--advertised-listener-url") == expected


def test_valkey_binds_loopback_only(started):
    config, argvs = started
    argv = argvs["redis"]
    assert value_after(argv, "--bind") == "127.0.0.1"
    assert argv.count("--bind") == 1


def test_nothing_is_started_on_a_wider_address(started):
    _, argvs = started
    for name, argv in argvs.items():
        joined = " ".join(argv)
        assert "0.0.0.0" not in joined and "::" not in joined, f"{name}: {joined}"


def test_the_embedded_services_listen_on_loopback(tmp_path, monkeypatch):
    monkeypatch.delenv("UISE_HTTP_HOST", raising=False)
    config = StackConfig.ephemeral(tmp_path)
    for name in SERVICES:
        env = config.service_env(name)
        assert "UISE_HTTP_HOST" not in env
        for key in ("UISE_KAFKA_BOOTSTRAP", "UISE_S3_ENDPOINT"):
            assert env[key].startswith("127.0.0.1:"), (name, key)
    assert Settings().http_host == "127.0.0.1"
