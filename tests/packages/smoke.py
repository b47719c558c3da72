"""Smoke check of an installed distribution (the wheel, or the sdist built from
source): it imports, a session scope is stamped on a span by
SessionSpanProcessor. Run by `scripts/dist.sh --check` in fresh virtualenvs."""

from __future__ import annotations

import platform
import sys

from openinference.instrumentation.session import (
    SessionSpanProcessor,
    _native,
    using_attributes,
    using_session,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SessionSpanProcessor())
provider.add_span_processor(SimpleSpanProcessor(exporter))
with using_session("conv-42"), using_attributes(user_id="user-7", tags=["billing"]):
    with provider.get_tracer("smoke").start_as_current_span("turn"):
        pass
[span] = exporter.get_finished_spans()
attributes = dict(span.attributes or {})
assert attributes["session.id"] == "conv-42", attributes
assert attributes["user.id"] == "user-7", attributes
assert list(attributes["tag.tags"]) == ["billing"], attributes
print(f"ok: CPython {platform.python_version()} ({sys.prefix}), native module {_native.__file__}")
