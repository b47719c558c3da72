"""register(): a real OTLP/HTTP exporter sending to a local receiver."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from openinference.instrumentation.session import register, using_session, using_user
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class Receiver:
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                received.requests.append(request)
                received.headers.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def test_register_exports_sessions_over_otlp(receiver: Receiver) -> None:
    provider = register(
        endpoint=receiver.url,
        project_name="support-bot",
        api_key="secret-key",
        batch=False,
        set_global_tracer_provider=False,
        aliases=["gen_ai"],
    )
    tracer = provider.get_tracer("app")
    with using_session("conv-1"), using_user("u-1"):
        for turn in range(3):
            with tracer.start_as_current_span(f"turn-{turn}"):
                pass
    provider.shutdown()
    spans = [
        (rs, span)
        for request in receiver.requests
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    assert len(spans) == 3
    for rs, span in spans:
        attrs = {kv.key: kv.value.string_value for kv in span.attributes}
        assert attrs["session.id"] == "conv-1"
        assert attrs["user.id"] == "u-1"
        assert attrs["gen_ai.conversation.id"] == "conv-1"
        resource = {kv.key: kv.value.string_value for kv in rs.resource.attributes}
        assert resource["openinference.project.name"] == "support-bot"
        assert resource["service.name"] == "support-bot"
    assert all(h["authorization"] == "Bearer secret-key" for h in receiver.headers)
    # one trace per turn, all in one session
    assert len({span.trace_id for _, span in spans}) == 3
