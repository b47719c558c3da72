"""Fixtures: a real OpenTelemetry SDK tracer provider with our processor and an
in-memory exporter. Tests import the installed package, never the source tree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openinference.instrumentation.session import SessionSpanProcessor, set_baggage_propagation
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Tracer


class Traced:
    def __init__(self, provider: TracerProvider, exporter: InMemorySpanExporter) -> None:
        self.provider = provider
        self.exporter = exporter
        self.tracer: Tracer = provider.get_tracer("tests")

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def attrs(self, name: str) -> dict[str, Any]:
        matches = [s for s in self.spans() if s.name == name]
        assert len(matches) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return dict(matches[0].attributes or {})


def make_traced(**processor_kwargs: Any) -> tuple[TracerProvider, InMemorySpanExporter]:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SessionSpanProcessor(**processor_kwargs))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def traced() -> Iterator[Traced]:
    provider, exporter = make_traced()
    yield Traced(provider, exporter)
    provider.shutdown()


@pytest.fixture(autouse=True)
def _baggage_off() -> Iterator[None]:
    yield
    set_baggage_propagation(False)
