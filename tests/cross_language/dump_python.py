"""Span attributes from the Python package for every case of cases.json, in
the canonical form all three dumpers share (see README.md)."""

from __future__ import annotations

import json
import struct
import sys
from contextlib import ExitStack
from typing import Any

from openinference.instrumentation.session import SessionSpanProcessor, using_attributes
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

NAMES = {
    "sessionId": "session_id",
    "userId": "user_id",
    "metadata": "metadata",
    "tags": "tags",
    "promptTemplate": "prompt_template",
    "promptTemplateVersion": "prompt_template_version",
    "promptTemplateVariables": "prompt_template_variables",
    "attributes": "attributes",
}


def canonical(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return {"array": [canonical(v) for v in value]}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"double": struct.pack(">d", value).hex()}
    if isinstance(value, str):
        return {"string": value}
    raise TypeError(f"unexpected attribute value {value!r}")


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        cases = json.load(f)
    out = []
    for case in cases:
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SessionSpanProcessor(aliases=case.get("aliases", [])))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with ExitStack() as stack:
            for scope in case["scopes"]:
                stack.enter_context(using_attributes(**{NAMES[k]: v for k, v in scope.items()}))
            provider.get_tracer("dump").start_span(case["name"]).end()
        (span,) = exporter.get_finished_spans()
        attributes = [[k, canonical(v)] for k, v in (span.attributes or {}).items()]
        out.append({"name": case["name"], "attributes": attributes})
    sys.stdout.write(json.dumps(out, ensure_ascii=False, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
