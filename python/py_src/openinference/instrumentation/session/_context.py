"""Session attributes in the OpenTelemetry context (contextvars).

Every scope writes two things into a new context: the values OpenInference keeps
under its own keys (so that OpenInference's packages read what we set), and,
under a private key, the native ``Attributes`` in effect together with those
values. Reading checks that the OpenInference keys still hold exactly what we
wrote; if another package changed them since, the context is read afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry import baggage as _baggage
from opentelemetry import context as _otel_context
from opentelemetry.context import Context, attach, get_current

from ._native import BAGGAGE_SESSION_ID, BAGGAGE_USER_ID, Attributes
from ._native import CONTEXT_KEYS as _NATIVE_CONTEXT_KEYS

logger = logging.getLogger("openinference.instrumentation.session")

#: The keys OpenInference keeps context attributes under, in the order of
#: ``Attributes.context_values()`` (defined once, by the core).
CONTEXT_KEYS: tuple[str, ...] = _NATIVE_CONTEXT_KEYS
_K0, _K1, _K2, _K3, _K4, _K5, _K6 = CONTEXT_KEYS
_CONTEXT_KEY_SET = frozenset(CONTEXT_KEYS)

#: Private key: ``(Attributes in effect, the tuple of values written under CONTEXT_KEYS)``.
SCOPE_KEY = "openinference.session.scope"

# The key the OpenTelemetry API keeps baggage under; private to it, so found
# defensively. Only used to restore baggage in ``clear_session``.
_BAGGAGE_CONTEXT_KEY: str | None = getattr(_baggage, "_BAGGAGE_KEY", None)

#: Every context key a scope may write.
OWNED_KEYS: tuple[str, ...] = (
    CONTEXT_KEYS + (SCOPE_KEY,) + ((_BAGGAGE_CONTEXT_KEY,) if _BAGGAGE_CONTEXT_KEY else ())
)


# The runtime context behind OpenTelemetry's get_current/attach/detach. Calling
# it directly saves a Python frame per call on the scope path (a third of what
# entering a scope costs beyond the context copy); if a future OpenTelemetry
# hides it, the public functions serve. Its default implementation only wraps
# one ContextVar: then the ContextVar's own methods (C functions) serve, which
# saves the runtime's frame too.
_runtime = getattr(_otel_context, "_RUNTIME_CONTEXT", None)
fast_get_current: Callable[[], Context]
fast_attach: Callable[[Context], Token[Context]]
#: Restores the context of a token; raises what ``ContextVar.reset`` raises.
fast_reset: Callable[[Token[Context]], None]


def _context_var(runtime: object) -> ContextVar[Context] | None:
    """The ContextVar behind OpenTelemetry's default runtime context, when its
    methods are exactly the ContextVar's (not overridden, not patched)."""
    try:
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    except ImportError:  # pragma: no cover - depends on the OpenTelemetry version
        return None
    var = getattr(runtime, "_current_context", None)
    if type(runtime) is not ContextVarsRuntimeContext or not isinstance(var, ContextVar):
        return None
    if any(name in vars(runtime) for name in ("get_current", "attach", "detach")):
        return None
    return var


_var = _context_var(_runtime)
if _var is not None:
    fast_get_current = _var.get
    fast_attach = _var.set
    fast_reset = _var.reset
elif _runtime is not None and all(hasattr(_runtime, m) for m in ("get_current", "attach", "detach")):
    fast_get_current = _runtime.get_current
    fast_attach = _runtime.attach
    fast_reset = _runtime.detach
else:  # pragma: no cover - depends on the OpenTelemetry version
    fast_get_current = get_current
    fast_attach = attach
    fast_reset = _otel_context.detach


def fast_detach(token: Token[Context]) -> None:
    """Like ``opentelemetry.context.detach``: logs instead of raising."""
    try:
        fast_reset(token)
    except Exception:
        logger.exception("failed to detach context")


class _Settings:
    """Process-wide switches (not context: they are configuration)."""

    __slots__ = ("baggage",)

    def __init__(self) -> None:
        self.baggage = False


settings = _Settings()

# One-entry cache for contexts filled by another package: their spans share the
# same value objects, so the last conversion is usually the one needed again.
_foreign_cache: tuple[tuple[Any, ...], Attributes | None] = ((), None)


def _values_in(ctx: Context) -> tuple[Any, ...]:
    get = ctx.get
    return (get(_K0), get(_K1), get(_K2), get(_K3), get(_K4), get(_K5), get(_K6))


def _from_values(values: tuple[Any, ...]) -> Attributes | None:
    global _foreign_cache
    cached_values, cached = _foreign_cache
    if cached_values == values:
        return cached
    attrs, problems = Attributes.from_context_values(values)
    for problem in problems:
        logger.warning("ignoring a session context value: %s", problem)
    _foreign_cache = (values, attrs)
    return attrs


def _from_baggage(ctx: Context) -> Attributes | None:
    session_id = _baggage.get_baggage(BAGGAGE_SESSION_ID, ctx)
    user_id = _baggage.get_baggage(BAGGAGE_USER_ID, ctx)
    if session_id is None and user_id is None:
        return None
    # Inbound baggage is untrusted: values that do not validate are ignored.
    attrs, problems = Attributes.from_baggage(session_id, user_id)
    for problem in problems:
        logger.warning("ignoring a baggage value: %s", problem)
    return attrs


def scope_entry(ctx: Context) -> tuple[Attributes, tuple[Any, ...]] | None:
    """What our last scope left in ``ctx``: the attributes in effect and the values
    it wrote under ``CONTEXT_KEYS``."""
    return ctx.get(SCOPE_KEY)  # type: ignore[return-value]


def attributes_in(ctx: Context) -> Attributes | None:
    """The attributes in effect in ``ctx``, whoever set them."""
    entry = scope_entry(ctx)
    if entry is not None:
        attrs, values = entry
        current = _values_in(ctx)
        if current == values:
            return attrs
        # Another package changed OpenInference keys inside our scope: what it
        # set is the inner scope; our free-form attributes still hold.
        foreign = _from_values(current)
        return attrs.with_scope(foreign) if foreign is not None else attrs
    if not _CONTEXT_KEY_SET.isdisjoint(ctx):
        foreign = _from_values(_values_in(ctx))
        if foreign is not None:
            return foreign
    if settings.baggage:
        return _from_baggage(ctx)
    return None


def context_with(scope: Attributes, ctx: Context) -> Context:
    """A new context in which ``scope`` is opened within ``ctx``."""
    if SCOPE_KEY not in ctx and _CONTEXT_KEY_SET.isdisjoint(ctx) and not settings.baggage:
        effective = scope  # nothing to inherit: the common outermost scope
    else:
        outer = attributes_in(ctx)
        effective = scope if outer is None else outer.with_scope(scope)
    values = effective.context_values()
    # Only set values are written: an unset key reads as None either way.
    new = Context({**ctx, **effective.context_updates(), SCOPE_KEY: (effective, values)})
    if settings.baggage:
        session_id, user_id = effective.session_id, effective.user_id
        if session_id is not None:
            new = _baggage.set_baggage(BAGGAGE_SESSION_ID, session_id, new)
        if user_id is not None:
            new = _baggage.set_baggage(BAGGAGE_USER_ID, user_id, new)
    return new


def open_scope(scope: Attributes) -> Token[Context]:
    """Attaches ``scope`` within the current context; returns the detach token."""
    return fast_attach(context_with(scope, fast_get_current()))
