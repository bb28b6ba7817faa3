"""The TCP gate the outage tests put between a service and its server (uise_common.testing):
shut, it refuses every connection even when nobody connected while it was open; opened again,
it forwards on the same port."""

from __future__ import annotations

import socket
import threading

import pytest

from uise_common.testing import TcpGate


@pytest.fixture
def echo():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(conn.recv(64))

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{server.getsockname()[1]}"
    server.close()


def ask(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"ping")
        return conn.recv(64)


def test_a_shut_gate_refuses_connections_and_opens_again_on_the_same_port(echo):
    with TcpGate(echo) as gate:
        assert ask(gate.port) == b"ping"
        gate.shut()  # its accept thread is blocked, waiting for the next connection
        with pytest.raises(ConnectionRefusedError):
            ask(gate.port)
        gate.open()
        assert ask(gate.port) == b"ping"

