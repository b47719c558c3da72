"""The client over real sockets (no oi-sessions server): a listener that never
answers gives the timeout error, a closed port the unreachable one. The shared
cases (test_clients_shared.py) cover the rest with a fake transport."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from openinference.instrumentation.session.client import (
    SessionsAPIError,
    SessionsClient,
    SessionsTimeoutError,
)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_a_server_that_does_not_answer_in_time(silent_port: int) -> None:
    client = SessionsClient(f"http://127.0.0.1:{silent_port}", timeout=0.2)
    started = time.monotonic()
    with pytest.raises(SessionsTimeoutError) as timed_out:
        client.list_projects()
    assert time.monotonic() - started < 5
    error = timed_out.value
    assert isinstance(error, SessionsAPIError)
    assert (error.status, error.code) == (0, "timeout")
    assert error.message == f"http://127.0.0.1:{silent_port}: no answer within 0.2 s"


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SessionsAPIError) as unreachable:
        SessionsClient(f"http://127.0.0.1:{port}", timeout=2).get_session("p", "s")
    assert not isinstance(unreachable.value, SessionsTimeoutError)
    assert (unreachable.value.status, unreachable.value.code) == (0, "unreachable")
    assert unreachable.value.message.startswith(f"http://127.0.0.1:{port}: ")
