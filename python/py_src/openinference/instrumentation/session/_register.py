"""``register()``: a tracer provider exporting OTLP, with the session processor."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from ._processor import SessionSpanProcessor
from ._scopes import set_baggage_propagation

#: Where ``register()`` sends spans unless told otherwise: a local ``oi-sessions serve``.
DEFAULT_ENDPOINT = "http://127.0.0.1:6006/v1/traces"
DEFAULT_GRPC_ENDPOINT = "http://127.0.0.1:4317"
PROJECT_NAME_ATTRIBUTE = "openinference.project.name"


def register(
    endpoint: str | None = None,
    project_name: str | None = None,
    *,
    protocol: str = "http/protobuf",
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    batch: bool = True,
    set_global_tracer_provider: bool = True,
    aliases: Iterable[str] = (),
    propagate_baggage: bool = False,
    resource_attributes: Mapping[str, str] | None = None,
) -> TracerProvider:
    """Builds a ``TracerProvider`` that stamps session attributes and exports
    OTLP to ``endpoint`` (default: ``$OI_SESSIONS_ENDPOINT``, else a local
    ``oi-sessions serve`` at ``http://127.0.0.1:6006/v1/traces``).

    ``project_name`` (default ``$OI_SESSIONS_PROJECT`` or ``"default"``) goes
    into the resource as ``openinference.project.name`` and ``service.name``.
    ``api_key`` (default ``$OI_SESSIONS_API_KEY``) is sent as a bearer token.
    ``protocol`` is ``"http/protobuf"`` or ``"grpc"`` (which needs
    ``opentelemetry-exporter-otlp-proto-grpc``).
    """
    if protocol not in ("http/protobuf", "grpc"):
        raise ValueError(f"protocol must be 'http/protobuf' or 'grpc', got {protocol!r}")
    project = project_name or os.environ.get("OI_SESSIONS_PROJECT") or "default"
    if not isinstance(project, str):
        raise TypeError(f"project_name must be a str, not {type(project).__name__}")
    key = api_key or os.environ.get("OI_SESSIONS_API_KEY")
    all_headers: dict[str, str] = dict(headers or {})
    if key:
        all_headers["authorization"] = f"Bearer {key}"

    exporter: SpanExporter
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("protocol='grpc' needs opentelemetry-exporter-otlp-proto-grpc installed") from e
        url = endpoint or os.environ.get("OI_SESSIONS_GRPC_ENDPOINT") or DEFAULT_GRPC_ENDPOINT
        exporter = GrpcExporter(
            endpoint=url, headers=tuple(all_headers.items()) or None, insecure=url.startswith("http://")
        )
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = endpoint or os.environ.get("OI_SESSIONS_ENDPOINT") or DEFAULT_ENDPOINT
        exporter = OTLPSpanExporter(endpoint=url, headers=all_headers or None)

    resource = Resource.create(
        {
            "service.name": project,
            PROJECT_NAME_ATTRIBUTE: project,
            **dict(resource_attributes or {}),
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SessionSpanProcessor(aliases=aliases))
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    if propagate_baggage:
        set_baggage_propagation(True)
    if set_global_tracer_provider:
        trace.set_tracer_provider(provider)
    return provider
