"""Both ways with the real openinference-instrumentation from PyPI."""

from __future__ import annotations

import json

from conftest import Traced
from openinference.instrumentation import (
    OITracer,
    TraceConfig,
    get_attributes_from_context,
)
from openinference.instrumentation import using_attributes as oi_using_attributes
from openinference.instrumentation import using_metadata as oi_using_metadata
from openinference.instrumentation import using_session as oi_using_session
from openinference.instrumentation.session import (
    get_context_attributes,
    using_attributes,
    using_metadata,
    using_session,
    using_tags,
)


def test_openinference_reads_what_we_set_with_the_same_keys_and_types() -> None:
    with using_attributes(
        session_id="ours", user_id="u", metadata={"a": 1}, tags=["x", "y"], prompt_template="T"
    ):
        theirs = dict(get_attributes_from_context())
    assert theirs == {
        "session.id": "ours",
        "user.id": "u",
        "metadata": '{"a":1}',
        "tag.tags": ["x", "y"],  # a list, as OpenInference Python keeps it
        "llm.prompt_template.template": "T",
    }


def test_oitracer_spans_inside_our_session_carry_it() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    # no processor of ours on this provider: OpenInference's own tracer does it
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OITracer(provider.get_tracer("oi"), config=TraceConfig())
    with using_session("ours"), using_tags(["t"]), tracer.start_as_current_span("oi-span"):
        pass
    (span,) = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes["session.id"] == "ours"
    assert span.attributes["tag.tags"] == ("t",)


def test_our_processor_stamps_a_session_set_with_openinference(traced: Traced) -> None:
    with oi_using_attributes(session_id="theirs", user_id="u-9", metadata={"plan": "pro"}, tags=["b"]):
        with traced.tracer.start_as_current_span("plain"):
            pass
        assert get_context_attributes()["session.id"] == "theirs"
    attrs = traced.attrs("plain")
    assert attrs["session.id"] == "theirs"
    assert attrs["user.id"] == "u-9"
    assert json.loads(attrs["metadata"]) == {"plan": "pro"}
    assert attrs["tag.tags"] == ("b",)


def test_mixed_nesting_follows_the_innermost_scope(traced: Traced) -> None:
    t = traced.tracer
    with using_session("ours-outer"), using_metadata({"plan": "pro"}):
        with oi_using_session("theirs-inner"), oi_using_metadata({"turn": 3}):
            with t.start_as_current_span("theirs-inside-ours"):
                pass
        with t.start_as_current_span("back-to-ours"):
            pass
    with oi_using_session("theirs-outer"), using_metadata({"k": "v"}):
        with t.start_as_current_span("ours-inside-theirs"):
            pass
    inner = traced.attrs("theirs-inside-ours")
    assert inner["session.id"] == "theirs-inner"
    assert json.loads(inner["metadata"]) == {"plan": "pro", "turn": 3}
    assert traced.attrs("back-to-ours")["session.id"] == "ours-outer"
    assert json.loads(traced.attrs("back-to-ours")["metadata"]) == {"plan": "pro"}
    mixed = traced.attrs("ours-inside-theirs")
    assert mixed["session.id"] == "theirs-outer"
    assert json.loads(mixed["metadata"]) == {"k": "v"}


def test_both_packages_import_side_by_side() -> None:
    import openinference.instrumentation as oi
    import openinference.instrumentation.session as ours

    assert hasattr(oi, "using_session") and hasattr(ours, "using_session")
    assert oi.using_session is not ours.using_session
