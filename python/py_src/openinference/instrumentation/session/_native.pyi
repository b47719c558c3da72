"""Type stubs of the native core binding (Rust, pyo3)."""

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, final

from typing_extensions import Self

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "BAGGAGE_SESSION_ID",
    "BAGGAGE_USER_ID",
    "CONTEXT_KEYS",
    "MAX_ID_BYTES",
    "MAX_TEMPLATE_BYTES",
    "MAX_VALUE_BYTES",
    "Attributes",
    "ContextScope",
    "install_context_hooks",
    "json_object_text",
    "parse_aliases",
    "set_baggage_flag",
    "using_attributes",
    "using_session",
    "validate_session_id",
]

#: The largest id (session, user, template version) or tag, in bytes.
MAX_ID_BYTES: int
#: The largest metadata or template variables (serialized JSON) or free-form string attribute, in bytes.
MAX_VALUE_BYTES: int
#: The largest prompt template, in bytes.
MAX_TEMPLATE_BYTES: int
#: OpenInference's context keys in the order of ``Attributes.context_values()``.
CONTEXT_KEYS: tuple[str, ...]
#: The W3C Baggage entries carrying the session and user ids (opt-in propagation).
BAGGAGE_SESSION_ID: str
BAGGAGE_USER_ID: str

@final
class Attributes:
    """Validated context attributes: what one scope sets, or what is in effect
    inside nested scopes. Immutable."""

    def __new__(
        cls,
        session_id: str | None = None,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: Sequence[str] | None = None,
        prompt_template: str | None = None,
        prompt_template_version: str | None = None,
        prompt_template_variables: Mapping[str, Any] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Self: ...
    @staticmethod
    def for_session(session_id: str) -> Attributes: ...
    @staticmethod
    def from_context_values(values: Iterable[Any]) -> tuple[Attributes | None, list[str]]: ...
    @staticmethod
    def from_baggage(session_id: Any = None, user_id: Any = None) -> tuple[Attributes | None, list[str]]: ...
    def with_scope(self, scope: Attributes) -> Attributes: ...
    def context_values(self) -> tuple[Any, ...]: ...
    def context_updates(self) -> dict[str, Any]: ...
    def span_attributes(self, aliases: int = 0) -> dict[str, Any]: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def user_id(self) -> str | None: ...

@final
class ContextScope:
    """A scope that sets session context attributes: ``with``, ``async with``,
    or a decorator of a function, coroutine function, generator or async
    generator."""

    def __new__(cls, attributes: Attributes) -> Self: ...
    @property
    def attributes(self) -> Attributes: ...
    def __enter__(self) -> Self: ...
    def __exit__(
        self, _exc_type: object = None, _exc_value: object = None, _traceback: object = None
    ) -> bool: ...
    def __aenter__(self) -> Awaitable[Self]: ...
    def __aexit__(self, *exc_info: object) -> Awaitable[None]: ...
    def __call__(self, fn: _F) -> _F: ...

def using_session(session_id: str) -> ContextScope:
    """Every span started inside carries ``session.id = session_id``."""

def using_attributes(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    prompt_template: str | None = None,
    prompt_template_version: str | None = None,
    prompt_template_variables: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> ContextScope:
    """Sets several context attributes at once; ``None`` leaves one as it is."""

def install_context_hooks(
    get_current: Callable[[], Any],
    attach: Callable[[Any], Any],
    reset: Callable[[Any], None],
    detach: Callable[[Any], None],
    context_type: type,
    context_with: Callable[[Attributes, Any], Any],
    scope_key: str,
    decorate: Callable[[Attributes, Callable[..., Any]], Callable[..., Any]],
    aenter: Callable[[ContextScope], Awaitable[ContextScope]],
    aexit: Callable[[ContextScope], Awaitable[None]],
) -> None: ...
def set_baggage_flag(enabled: bool) -> None: ...
def parse_aliases(names: Sequence[str]) -> int: ...
def validate_session_id(session_id: str) -> str: ...
def json_object_text(value: object, name: str) -> str:
    """Checks a dict of JSON values the way metadata is checked; returns its JSON text."""
