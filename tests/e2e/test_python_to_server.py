"""Python apps traced with this package, exported by the real OpenTelemetry
exporters (HTTP and gRPC) to the real server, read back through the API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from oi_server import REPO, Server
from openinference.instrumentation import using_attributes as oi_using_attributes
from openinference.instrumentation.session import (
    SessionSpanProcessor,
    register,
    using_attributes,
    using_session,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def test_the_example_chat_app_reads_back_as_a_conversation(server: Server) -> None:
    env = dict(os.environ, OI_SESSIONS_ENDPOINT=f"{server.http}/v1/traces")
    subprocess.run(
        [sys.executable, str(REPO / "examples/python-chat/chat.py"), "--session-id", "e2e-chat"],
        check=True,
        env=env,
        capture_output=True,
    )
    # the app shut its provider down before exiting: every span is committed
    base = "/v1/projects/support-bot/sessions/e2e-chat"
    session = server.get(base)
    assert session["num_traces"] == 3
    assert session["user_ids"] == ["user-42"]
    assert session["tags"] == ["billing"]
    assert session["metadata"]["plan"] == "pro"
    assert session["token_count"]["total"] > 0
    turns = server.get(base + "/turns")["data"]
    assert [t["input"]["value"] for t in turns] == [
        "My invoice shows the wrong VAT number",
        "Can you resend it to billing@example.com?",
        "Thanks, that worked",
    ]
    assert turns[1]["output"]["value"] == "Done: invoice INV-1042 was sent to billing@example.com."
    assert all(t["span_count"] >= 2 for t in turns)


def test_register_over_grpc(server: Server) -> None:
    provider = register(
        endpoint=f"http://{server.grpc}",
        project_name="grpc-app",
        protocol="grpc",
        batch=False,
        set_global_tracer_provider=False,
    )
    tracer = provider.get_tracer("grpc")
    with using_session("over-grpc"):
        for i in range(2):
            with tracer.start_as_current_span(f"turn-{i}") as span:
                span.set_attribute("input.value", f"question {i}")
    provider.shutdown()
    session = server.get("/v1/projects/grpc-app/sessions/over-grpc")
    assert session["num_traces"] == 2
    assert session["first_input"]["value"] == "question 0"


def test_a_session_id_belongs_to_the_trace_not_the_span(server: Server) -> None:
    provider = register(
        endpoint=f"{server.http}/v1/traces",
        project_name="trace-rule",
        batch=False,
        set_global_tracer_provider=False,
    )
    tracer = provider.get_tracer("app")
    # the root (an HTTP server span, say) starts before the app opens the session
    with tracer.start_as_current_span("HTTP POST /chat") as root:
        root.set_attribute("input.value", "hello")
        with using_session("late-session"), tracer.start_as_current_span("llm"):
            pass
        with tracer.start_as_current_span("post-processing"):
            pass
    provider.shutdown()
    session = server.get("/v1/projects/trace-rule/sessions/late-session")
    (turn,) = server.get("/v1/projects/trace-rule/sessions/late-session/turns")["data"]
    assert turn["span_count"] == 3  # spans without the id are part of the session through their trace
    assert session["num_traces"] == 1


def test_openinference_sessions_and_ours_land_in_the_same_place(server: Server) -> None:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource

    provider = TracerProvider(resource=Resource.create({"openinference.project.name": "interop"}))
    provider.add_span_processor(SessionSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.http}/v1/traces")))
    tracer = provider.get_tracer("interop")
    with oi_using_attributes(session_id="shared", user_id="u-theirs"):
        with tracer.start_as_current_span("set-by-openinference"):
            pass
    with using_attributes(session_id="shared", user_id="u-ours"):
        with tracer.start_as_current_span("set-by-us"):
            pass
    provider.shutdown()
    session = server.get("/v1/projects/interop/sessions/shared")
    assert session["num_traces"] == 2
    assert sorted(session["user_ids"]) == ["u-ours", "u-theirs"]


def test_sessions_are_listed_per_project(server: Server, tmp_path: Path) -> None:
    for project in ("alpha", "beta"):
        provider = register(
            endpoint=f"{server.http}/v1/traces",
            project_name=project,
            batch=False,
            set_global_tracer_provider=False,
        )
        with using_session("same-id"), provider.get_tracer("t").start_as_current_span("turn"):
            pass
        provider.shutdown()
    names = {p["name"] for p in server.get("/v1/projects")["data"]}
    assert {"alpha", "beta"} <= names
    for project in ("alpha", "beta"):
        listed = server.get(f"/v1/projects/{project}/sessions")["data"]
        assert [s["session_id"] for s in listed] == ["same-id"]
