"""What the Python chat apps share: the ids the harness hands them, the
questions, the parcel tool, and a plain OpenTelemetry SDK exporting OTLP/HTTP
(protobuf) to $OTEL_EXPORTER_OTLP_ENDPOINT."""

import json
import os
from pathlib import Path

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

CONVERSATION = json.loads((Path(__file__).resolve().parent.parent / "conversation.json").read_text())
QUESTIONS: list[str] = CONVERSATION["questions"]
PROJECT = os.environ["OI_PROJECT"]
SESSION_ID = os.environ["OI_SESSION_ID"]
USER_ID = os.environ["OI_USER_ID"]
OPENAI_BASE_URL = os.environ["OPENAI_BASE_URL"]
MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are the support assistant of a parcel delivery company. Answer briefly."


def track_parcel(parcel_id: str) -> str:
    """Look up where a parcel is and when it will be delivered."""
    return CONVERSATION["tool"]["result"]


def resource() -> Resource:
    return Resource.create({"service.name": PROJECT, "openinference.project.name": PROJECT})


def tracer_provider(*processors) -> TracerProvider:
    """The global tracer provider: `processors` first, then a batch OTLP exporter."""
    provider = TracerProvider(resource=resource())
    for processor in processors:
        provider.add_span_processor(processor)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
