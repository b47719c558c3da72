"""Phoenix's own clients against a real oi-sessions, on SQLite and on
PostgreSQL: the server helpers of tests/support, and the data every test
starts from, sent over OTLP by an app instrumented with this project's package.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from oi_server import Server, postgres_schema
from openinference.instrumentation.session import (
    SessionSpanProcessor,
    using_session,
    using_user,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str | None  # None: the turn failed


# (project, session id, user, turns): "shared" is in both projects, as a
# session id an app reuses across projects is.
SESSIONS: list[tuple[str, str, str, list[Turn]]] = [
    (
        "support-bot",
        "conv-1",
        "user-1",
        [
            Turn("My invoice is wrong", "Let me check your invoice"),
            Turn("It shows last month", "Fixed: here is the new one"),
            Turn("Thanks", "You're welcome"),
        ],
    ),
    ("support-bot", "conv-2", "user-2", [Turn("Where is my parcel?", None), Turn("Hello?", "On its way")]),
    ("support-bot", "shared", "user-3", [Turn("hi from support", "hello")]),
    ("billing", "shared", "user-3", [Turn("hi from billing", "hello")]),
    ("billing", "conv-9", "user-9", [Turn("Refund please", "Refunded")]),
]


def send_sessions(base: str) -> None:
    """Every session of SESSIONS, one trace per turn (a CHAIN root with the
    question and the answer, an LLM child with its tokens), exported over OTLP;
    returns once the server has committed them."""
    for project in sorted({p for p, *_ in SESSIONS}):
        provider = TracerProvider(resource=Resource.create({"openinference.project.name": project}))
        provider.add_span_processor(SessionSpanProcessor())
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces")))
        tracer = provider.get_tracer("phoenix-clients")
        for p, session_id, user, turns in SESSIONS:
            if p != project:
                continue
            with using_session(session_id), using_user(user):
                for turn in turns:
                    with tracer.start_as_current_span("turn") as root:
                        root.set_attribute("openinference.span.kind", "CHAIN")
                        root.set_attribute("input.value", turn.question)
                        with tracer.start_as_current_span("llm") as llm:
                            llm.set_attribute("openinference.span.kind", "LLM")
                            llm.set_attribute("llm.model_name", "gpt-4o-mini")
                            llm.set_attribute("llm.token_count.prompt", 10)
                            llm.set_attribute("llm.token_count.completion", 5)
                        if turn.answer is None:
                            root.set_status(Status(StatusCode.ERROR, "the model timed out"))
                        else:
                            root.set_attribute("output.value", turn.answer)
        provider.shutdown()


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """oi-sessions on each backend, holding SESSIONS."""
    if request.param == "sqlite":
        s = Server(tmp_path)
        try:
            send_sessions(s.http)
            yield s
        finally:
            s.stop()
    else:
        with postgres_schema() as url:
            s = Server(tmp_path, database_url=url)
            try:
                send_sessions(s.http)
                yield s
            finally:
                s.stop()
