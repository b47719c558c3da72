"""Type stubs of the native core binding (Rust, pyo3)."""

from typing import Any, List, Mapping, Optional, Sequence, Tuple

MAX_ID_BYTES: int

class Attributes:
    """Validated context attributes: what one scope sets, or what is in effect
    inside nested scopes. Immutable."""

    def __new__(
        cls,
        session_id: Optional[str] = None,
        user_id: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
        tags: Optional[Sequence[str]] = None,
        prompt_template: Optional[str] = None,
        prompt_template_version: Optional[str] = None,
        prompt_template_variables: Optional[Mapping[str, Any]] = None,
        attributes: Optional[Mapping[str, Any]] = None,
    ) -> "Attributes": ...
    @staticmethod
    def from_context_values(
        session_id: Any,
        user_id: Any,
        metadata: Any,
        tags: Any,
        prompt_template: Any,
        prompt_template_version: Any,
        prompt_template_variables: Any,
    ) -> Tuple[Optional["Attributes"], List[str]]: ...
    def with_scope(self, scope: "Attributes") -> "Attributes": ...
    def context_values(self) -> Tuple[Any, ...]: ...
    def span_attributes(self, aliases: int = 0) -> dict[str, Any]: ...
    @property
    def session_id(self) -> Optional[str]: ...
    @property
    def user_id(self) -> Optional[str]: ...

def parse_aliases(names: Sequence[str]) -> int: ...
def validate_session_id(session_id: str) -> str: ...
