"""``SessionSpanProcessor``: stamps the session context attributes on every span
at start, whatever library started it."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from . import _context
from ._context import _values_in, attributes_in, logger, scope_entry
from ._native import Attributes, parse_aliases

_CONTEXT_KEY_SET = frozenset(_context.CONTEXT_KEYS)


class SessionSpanProcessor(SpanProcessor):
    """Add once, at start-up: ``provider.add_span_processor(SessionSpanProcessor())``.

    The attributes come from the parent context the SDK hands over: the session
    scopes of this package, OpenInference's ``using_*`` scopes, and (when baggage
    propagation is on) W3C Baggage. The context wins over a value a library sets
    at span start, so a library stamping its own ``session.id`` cannot split the
    application's session.

    ``aliases`` also writes the keys of other conventions: ``"gen_ai"``
    (``gen_ai.conversation.id``), ``"langsmith"``, ``"traceloop"``.

    Never raises into the application: a failure is logged and the span goes on.
    """

    def __init__(self, *, aliases: Iterable[str] = ()) -> None:
        self._aliases = parse_aliases(list(aliases))

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            ctx = parent_context if parent_context is not None else get_current()
            entry = scope_entry(ctx)
            attrs: Attributes | None
            if entry is not None:
                attrs, values = entry
                if _values_in(ctx) != values:
                    attrs = attributes_in(ctx)
            elif _CONTEXT_KEY_SET.isdisjoint(ctx) and not _context.settings.baggage:
                return  # the common case outside any session: nothing to read
            else:
                attrs = attributes_in(ctx)
            if attrs is not None:
                span.set_attributes(attrs.span_attributes(self._aliases))
        except Exception:  # noqa: BLE001 - the span path must never fail the application
            logger.warning("could not stamp session attributes on a span", exc_info=True)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
