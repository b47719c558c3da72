"""Benchmark: what a session costs a span, and what a scope costs, ours beside
openinference-instrumentation, in one run on one interpreter.

    python python/bench/bench_sessions.py [--quick]

Each figure is the median over repeats of the mean time per operation of a
loop; repeats of all cases are interleaved so that machine noise hits every
case alike. "adds" figures subtract the bare span measured in the same round.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib import metadata

from openinference.instrumentation import OITracer, TraceConfig, get_attributes_from_context
from openinference.instrumentation import using_attributes as oi_using_attributes
from openinference.instrumentation import using_session as oi_using_session
from openinference.instrumentation.session import (
    SessionSpanProcessor,
    get_context_attributes,
    using_attributes,
    using_session,
)
from opentelemetry.sdk.trace import TracerProvider

METADATA = {"plan": "pro", "region": "eu"}
TAGS = ["billing", "vip"]


def scope_cases() -> dict[str, Callable[[], object]]:
    def ours_session() -> None:
        with using_session("conv-42"):
            pass

    def theirs_session() -> None:
        with oi_using_session("conv-42"):
            pass

    def ours_four() -> None:
        with using_attributes(session_id="conv-42", user_id="user-7", metadata=METADATA, tags=TAGS):
            pass

    def theirs_four() -> None:
        with oi_using_attributes(session_id="conv-42", user_id="user-7", metadata=METADATA, tags=TAGS):
            pass

    fresh_ids = iter([f"conv-{i}" for i in range(400_000)])
    turns = itertools.count()

    def ours_four_new_metadata() -> None:
        # the dict is built in the loop, as an app building it per turn would
        metadata = {"plan": "pro", "turn": next(turns)}
        with using_attributes(session_id="conv-42", user_id="user-7", metadata=metadata, tags=TAGS):
            pass

    def ours_session_new_id() -> None:
        with using_session(next(fresh_ids)):
            pass

    return {
        "ours: using_session enter+exit": ours_session,
        "ours: using_session enter+exit, a new id each time": ours_session_new_id,
        "theirs: using_session enter+exit": theirs_session,
        "ours: 4-attribute using_attributes enter+exit": ours_four,
        "ours: 4-attribute using_attributes, new metadata each time": ours_four_new_metadata,
        "theirs: 4-attribute using_attributes enter+exit": theirs_four,
    }


def measure(fn: Callable[[], object], loops: int, scope: Callable[[], object] | None = None) -> float:
    if scope is not None:
        with scope():  # type: ignore[attr-defined]
            return measure(fn, loops)
    start = time.perf_counter_ns()
    for _ in range(loops):
        fn()
    return (time.perf_counter_ns() - start) / loops / 1000.0  # µs per op


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer loops, for a smoke run")
    args = parser.parse_args()
    loops, repeats = (2_000, 5) if args.quick else (20_000, 15)

    bare_tracer = TracerProvider().get_tracer("bench")
    ours_provider = TracerProvider()
    ours_provider.add_span_processor(SessionSpanProcessor())
    ours_tracer = ours_provider.get_tracer("bench")
    oi_tracer = OITracer(TracerProvider().get_tracer("bench"), config=TraceConfig())

    def bare_span() -> None:
        with bare_tracer.start_as_current_span("turn"):
            pass

    def fixed_attribute() -> None:
        with bare_tracer.start_as_current_span("turn", attributes={"session.id": "conv-42"}):
            pass

    def ours_span() -> None:
        with ours_tracer.start_as_current_span("turn"):
            pass

    def oi_span() -> None:
        with oi_tracer.start_as_current_span("turn"):
            pass

    def manual_span() -> None:
        with bare_tracer.start_as_current_span("turn", attributes=dict(get_attributes_from_context())):
            pass

    span_cases: list[tuple[str, Callable[[], None], Callable[[], object] | None]] = [
        ("bare span (SDK, no processor)", bare_span, None),
        ("span + 1 fixed attribute (SDK floor for carrying one)", fixed_attribute, None),
        ("ours: span outside any session (our processor installed)", ours_span, None),
        ("ours: span in using_session (our processor)", ours_span, lambda: using_session("conv-42")),
        ("theirs: OITracer span in their using_session", oi_span, lambda: oi_using_session("conv-42")),
        (
            "theirs: manual get_attributes_from_context() span",
            manual_span,
            lambda: oi_using_session("conv-42"),
        ),
    ]
    other_cases: list[tuple[str, Callable[[], object], Callable[[], object] | None]] = [
        (name, fn, None) for name, fn in scope_cases().items()
    ]
    other_cases += [
        ("ours: get_context_attributes()", get_context_attributes, lambda: using_session("conv-42")),
        (
            "theirs: dict(get_attributes_from_context())",
            lambda: dict(get_attributes_from_context()),
            lambda: oi_using_session("conv-42"),
        ),
    ]
    all_cases = span_cases + other_cases
    samples: dict[str, list[float]] = {name: [] for name, _, _ in all_cases}
    for name, fn, scope in all_cases:  # warm-up
        measure(fn, loops // 10, scope)
    for _ in range(repeats):
        for name, fn, scope in all_cases:
            samples[name].append(measure(fn, loops, scope))

    med = {name: statistics.median(v) for name, v in samples.items()}
    bare = med["bare span (SDK, no processor)"]
    print(
        f"# python {platform.python_version()} on {platform.machine()}, "
        f"opentelemetry-sdk {metadata.version('opentelemetry-sdk')}, "
        f"openinference-instrumentation {metadata.version('openinference-instrumentation')}, "
        f"loops={loops} repeats={repeats}"
    )
    print(f"| {'case':<62} | {'median µs/op':>12} | {'adds to bare span µs':>20} |")
    print(f"|{'-' * 64}|{'-' * 14}:|{'-' * 22}:|")
    for name, _, _ in span_cases:
        adds = "" if name.startswith("bare") else f"{med[name] - bare:.2f}"
        print(f"| {name:<62} | {med[name]:>12.2f} | {adds:>20} |")
    for name, _, _ in other_cases:
        print(f"| {name:<62} | {med[name]:>12.2f} | {'':>20} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
