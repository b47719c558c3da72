"""The public scope API: ``using_*`` context managers and decorators,
``set_session`` / ``clear_session``, ``get_context_attributes`` and ``bind_context``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import (
    Any,
    TypeVar,
    cast,
)

from opentelemetry.context import Context, attach, detach, get_current

from . import _context
from ._native import (
    Attributes,
    ContextScope,
    install_context_hooks,
    parse_aliases,
    set_baggage_flag,
    validate_session_id,
)

F = TypeVar("F", bound=Callable[..., Any])
AttributeValue = Any


def _decorate(attrs: Attributes, fn: Callable[..., Any]) -> Callable[..., Any]:
    open_scope = _context.open_scope
    if inspect.isasyncgenfunction(fn):

        @functools.wraps(fn)
        async def agen_wrapper(*args: Any, **kwargs: Any) -> Any:
            agen = fn(*args, **kwargs)
            step: Any = agen.asend
            arg: Any = None
            while True:
                token = open_scope(attrs)
                try:
                    item = await step(arg)
                except StopAsyncIteration:
                    return
                finally:
                    detach(token)
                try:
                    arg = yield item
                    step = agen.asend
                except GeneratorExit:
                    token = open_scope(attrs)
                    try:
                        await agen.aclose()
                    finally:
                        detach(token)
                    raise
                except BaseException as exc:  # noqa: BLE001 - re-raised inside the generator
                    step, arg = agen.athrow, exc

        return agen_wrapper

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            gen = fn(*args, **kwargs)
            step: Any = gen.send
            arg: Any = None
            while True:
                token = open_scope(attrs)
                try:
                    item = step(arg)
                except StopIteration as stop:
                    return stop.value
                finally:
                    detach(token)
                try:
                    arg = yield item
                    step = gen.send
                except GeneratorExit:
                    token = open_scope(attrs)
                    try:
                        gen.close()
                    finally:
                        detach(token)
                    raise
                except BaseException as exc:  # noqa: BLE001 - re-raised inside the generator
                    step, arg = gen.throw, exc

        return gen_wrapper

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def coro_wrapper(*args: Any, **kwargs: Any) -> Any:
            token = open_scope(attrs)
            try:
                return await fn(*args, **kwargs)
            finally:
                detach(token)

        return coro_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = open_scope(attrs)
        try:
            return fn(*args, **kwargs)
        finally:
            detach(token)

    return wrapper


def _required(name: str, value: Any) -> Any:
    # None means "leave as is" to the native constructor; here it is a mistake.
    if value is None:
        raise TypeError(f"{name} must be a str, not NoneType")
    return value


def using_user(user_id: str) -> ContextScope:
    """Every span started inside carries ``user.id = user_id``."""
    return ContextScope(Attributes(user_id=_required("user_id", user_id)))


def using_metadata(metadata: Mapping[str, Any]) -> ContextScope:
    """Merges ``metadata`` (a JSON-serializable dict) into the metadata in effect."""
    if metadata is None:
        raise TypeError("metadata must be a dict, not NoneType")
    return ContextScope(Attributes(metadata=metadata))


def using_tags(tags: list[str]) -> ContextScope:
    """Adds ``tags`` to the tags in effect."""
    if tags is None:
        raise TypeError("tags must be a list of str, not NoneType")
    return ContextScope(Attributes(tags=tags))


def using_prompt_template(
    *,
    template: str = "",
    version: str = "",
    variables: Mapping[str, Any] | None = None,
) -> ContextScope:
    """Sets the prompt template, its version and its variables."""
    return ContextScope(
        Attributes(
            prompt_template=template or None,
            prompt_template_version=version or None,
            prompt_template_variables=variables,
        )
    )


# What set_session did, innermost last: (session id, the context before it).
_set_sessions: ContextVar[tuple[tuple[str, Context], ...]] = ContextVar(
    "openinference_session_set_sessions", default=()
)


def set_session(session_id: str) -> None:
    """Sets the session of the current thread or task, and of the tasks it
    starts, until ``clear_session``."""
    attrs = Attributes.for_session(session_id)
    before = get_current()
    attach(_context.context_with(attrs, before))
    _set_sessions.set(_set_sessions.get() + ((session_id, before),))


def clear_session(session_id: str | None = None) -> None:
    """Undoes the last ``set_session`` of this thread or task, restoring the
    session attributes that were in effect before it.

    Raises ``ValueError`` when no ``set_session`` is in effect here, or when
    ``session_id`` is given and is not the session set last.
    """
    if session_id is not None:
        session_id = validate_session_id(session_id)
    stack = _set_sessions.get()
    if not stack:
        raise ValueError("clear_session: no session was set with set_session in this thread or task")
    current_id, before = stack[-1]
    if session_id is not None and session_id != current_id:
        raise ValueError(
            f"clear_session: session_id {session_id!r} is not the session set last ({current_id!r})"
        )
    current = get_current()
    restored = {k: v for k, v in current.items() if k not in _context.OWNED_KEYS}
    restored.update((k, before[k]) for k in _context.OWNED_KEYS if k in before)
    attach(Context(restored))
    _set_sessions.set(stack[:-1])


def get_context_attributes(
    context: Context | None = None, *, aliases: Iterable[str] = ()
) -> dict[str, AttributeValue]:
    """The span attributes a span started in ``context`` (default: the current
    context) gets from the session context: exactly what ``SessionSpanProcessor``
    stamps. ``metadata`` is a JSON string and ``tag.tags`` a list. A new dict,
    yours to change::

        tracer.start_as_current_span("step", attributes=get_context_attributes())
    """
    ctx = context if context is not None else get_current()
    attrs = _context.attributes_in(ctx)
    if attrs is None:
        return {}
    bits = parse_aliases(list(aliases)) if aliases else 0
    return {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in attrs.span_attributes(bits).items()}


def bind_context(fn: F) -> F:
    """Wraps ``fn`` so that it runs in the current OpenTelemetry context (session
    included) wherever it is called: for thread pools, which do not copy
    context::

        executor.submit(bind_context(handle_turn), message)
    """
    ctx = get_current()

    @functools.wraps(fn)
    def bound(*args: Any, **kwargs: Any) -> Any:
        token = attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            detach(token)

    return cast(F, bound)


def set_baggage_propagation(enabled: bool) -> None:
    """Turns W3C Baggage propagation of the session on or off (off by default).

    When on, scopes also put ``session.id`` and ``user.id`` in the baggage, which
    the default propagator sends to downstream services; and the span processor
    falls back to those baggage entries when the context holds no session. Turn
    it on in both services: inbound baggage is untrusted, so reading it is never
    the default.
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool, not {type(enabled).__name__}")
    _context.settings.baggage = enabled
    set_baggage_flag(enabled)


async def _enter_async(scope: ContextScope) -> ContextScope:
    return scope.__enter__()


async def _exit_async(scope: ContextScope) -> None:
    scope.__exit__(None, None, None)


# The native ContextScope enters the outermost scope itself and hands every
# other case to context_with; it calls the same runtime functions as
# _context.py, and these Python halves for decorators and `async with`.
install_context_hooks(
    _context.fast_get_current,
    _context.fast_attach,
    _context.fast_reset,
    _context.fast_detach,
    Context,
    _context.context_with,
    _context.SCOPE_KEY,
    _decorate,
    _enter_async,
    _exit_async,
)
