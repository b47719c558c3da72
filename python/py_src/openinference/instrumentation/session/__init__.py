"""Session tracking for OpenTelemetry / OpenInference tracing.

Every span started inside a session scope carries ``session.id`` (and
``user.id``, ``metadata``, ``tag.tags``, prompt template attributes), so that a
sessions server can group the traces of one conversation::

    from openinference.instrumentation.session import SessionSpanProcessor, using_session

    provider.add_span_processor(SessionSpanProcessor())  # once, at start-up
    with using_session("conv-42"):
        handle_turn()

The rules (validation, inheritance, span attributes) live in the Rust core
``openinference-session``; the context lives in OpenTelemetry's (contextvars),
so it follows threads and asyncio tasks the way OpenTelemetry's does. Values
are kept under OpenInference's own context keys: ``openinference-instrumentation``
reads what this package sets and the other way round.
"""

from ._native import MAX_ID_BYTES, ContextScope, using_attributes, using_session
from ._processor import SessionSpanProcessor
from ._register import DEFAULT_ENDPOINT, register
from ._scopes import (
    bind_context,
    clear_session,
    get_context_attributes,
    set_baggage_propagation,
    set_session,
    using_metadata,
    using_prompt_template,
    using_tags,
    using_user,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "MAX_ID_BYTES",
    "ContextScope",
    "SessionSpanProcessor",
    "bind_context",
    "clear_session",
    "get_context_attributes",
    "register",
    "set_baggage_propagation",
    "set_session",
    "using_attributes",
    "using_metadata",
    "using_prompt_template",
    "using_session",
    "using_tags",
    "using_user",
]
