"""The real OpenTelemetry Python exporters (OTLP/HTTP and OTLP/gRPC, gzip)
against the real `oi-sessions` binary, with spans exported in scrambled order
across requests: children first, roots last, then everything again.

Needs `opentelemetry-sdk` and `opentelemetry-exporter-otlp`, and the binary
(`cargo build --release -p openinference-session-server`; override its path
with `OI_SESSIONS_BIN`). The `server` fixture is tests/support/oi_server.py's.
"""

from __future__ import annotations

from oi_server import Server
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

QUESTIONS = ["Where is my parcel?", "It was due Monday", "Thanks"]


def recorded_chat(service: str):
    """Three turns: an app root with the session id, an LLM child without it."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("chat-app")
    for n, question in enumerate(QUESTIONS):
        with tracer.start_as_current_span("chat-turn") as root:
            root.set_attribute("openinference.span.kind", "CHAIN")
            root.set_attribute("session.id", "py-session")
            root.set_attribute("user.id", "py-user")
            root.set_attribute("input.value", question)
            with tracer.start_as_current_span("ChatCompletion") as llm:
                llm.set_attribute("openinference.span.kind", "LLM")
                llm.set_attribute("llm.token_count.prompt", 10 * (n + 1))
                llm.set_attribute("llm.token_count.completion", 5)
                llm.set_attribute("llm.model_name", "gpt-4o-mini")
            root.set_attribute("output.value", f"answer to {question}")
    provider.shutdown()
    spans = list(memory.get_finished_spans())
    # Scrambled: every child before any root, newest turn first.
    children = [s for s in spans if s.parent is not None][::-1]
    roots = [s for s in spans if s.parent is None][::-1]
    return children + roots


def check_session(server: Server, project: str) -> None:
    session = server.get(f"/v1/projects/{project}/sessions/py-session")
    assert session["num_traces"] == 3
    assert session["user_ids"] == ["py-user"]
    assert session["token_count"] == {"prompt": 60, "completion": 15, "total": 75}
    turns = server.get(f"/v1/projects/{project}/sessions/py-session/turns")["data"]
    assert [t["input"]["value"] for t in turns] == QUESTIONS
    assert [t["output"]["value"] for t in turns] == [f"answer to {q}" for q in QUESTIONS]
    assert all(t["span_count"] == 2 for t in turns)


def export_scrambled(exporter, spans):
    from opentelemetry.sdk.trace.export import SpanExportResult

    for span in spans + spans:  # then every span again: stored once
        assert exporter.export([span]) == SpanExportResult.SUCCESS
    exporter.shutdown()


def test_otlp_http_exporter_scrambled_gzip(server: Server) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"{server.http}/v1/traces", compression=Compression.Gzip)
    export_scrambled(exporter, recorded_chat("py-http"))
    check_session(server, "py-http")


def test_otlp_grpc_exporter_scrambled_gzip(server: Server) -> None:
    from grpc import Compression
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=f"http://{server.grpc}", insecure=True, compression=Compression.Gzip)
    export_scrambled(exporter, recorded_chat("py-grpc"))
    check_session(server, "py-grpc")
