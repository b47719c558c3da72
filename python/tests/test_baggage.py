"""Opt-in W3C Baggage propagation: a downstream service in another process,
called over HTTP on 127.0.0.1, joins the caller's session."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openinference.instrumentation.session import set_baggage_propagation, using_attributes, using_session
from opentelemetry import propagate

DOWNSTREAM = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    from opentelemetry import propagate
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from openinference.instrumentation.session import SessionSpanProcessor, set_baggage_propagation

    set_baggage_propagation(sys.argv[1] == "on")
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SessionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("downstream")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            ctx = propagate.extract({k.lower(): v for k, v in self.headers.items()})
            with tracer.start_as_current_span("downstream-work", context=ctx):
                pass
            spans = exporter.get_finished_spans()
            body = json.dumps(dict(spans[-1].attributes)).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def start_downstream(tmp_path: Path, mode: str) -> Iterator[int]:
    script = tmp_path / "downstream.py"
    script.write_text(DOWNSTREAM)
    proc = subprocess.Popen(
        [sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        assert proc.stdout is not None
        yield int(proc.stdout.readline())
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def downstream_on(tmp_path: Path) -> Iterator[int]:
    yield from start_downstream(tmp_path, "on")


@pytest.fixture
def downstream_off(tmp_path: Path) -> Iterator[int]:
    yield from start_downstream(tmp_path, "off")


def call(port: int) -> dict[str, Any]:
    headers: dict[str, str] = {}
    propagate.inject(headers)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_the_downstream_service_joins_the_session(downstream_on: int) -> None:
    set_baggage_propagation(True)
    with using_attributes(session_id="conv 7; ü", user_id="user-1"):
        attrs = call(downstream_on)
    assert attrs["session.id"] == "conv 7; ü"
    assert attrs["user.id"] == "user-1"


def test_propagation_is_off_by_default_on_the_sending_side(downstream_on: int) -> None:
    with using_session("not-sent"):
        attrs = call(downstream_on)
    assert "session.id" not in attrs


def test_the_receiving_side_must_opt_in_too(downstream_off: int) -> None:
    set_baggage_propagation(True)
    with using_session("sent-but-ignored"):
        attrs = call(downstream_off)
    assert "session.id" not in attrs
