"""Bad arguments raise TypeError/ValueError naming the argument, at the call
site; the span path never raises."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
from conftest import Traced
from openinference.instrumentation.session import (
    MAX_ID_BYTES,
    SessionSpanProcessor,
    get_context_attributes,
    register,
    set_session,
    using_attributes,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)


@pytest.mark.parametrize(
    "value, error, message",
    [
        (None, TypeError, "session_id must be a str, not NoneType"),
        ("", ValueError, "session_id must be a non-empty string"),
        ("   ", ValueError, "session_id must be a non-empty string"),
        (42, TypeError, "session_id must be a str, not int"),
        (b"bytes", TypeError, "session_id must be a str, not bytes"),
        ("x" * (10 * 1024 * 1024), ValueError, "session_id is 10485760 bytes, over the limit of 4096"),
    ],
)
def test_bad_session_ids(value: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        using_session(value)
    with pytest.raises(error, match=message):
        set_session(value)


def test_id_limit_is_inclusive() -> None:
    with using_session("x" * MAX_ID_BYTES):
        assert len(get_context_attributes()["session.id"]) == MAX_ID_BYTES


def test_bad_user_ids() -> None:
    with pytest.raises(TypeError, match="user_id must be a str, not int"):
        using_user(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        using_user("\t")


@pytest.mark.parametrize(
    "metadata, error, message",
    [
        (None, TypeError, "metadata must be a dict, not NoneType"),
        ([1, 2], TypeError, "metadata must be a dict, not list"),
        ('{"a": 1}', TypeError, "metadata must be a dict, not str"),
        ({"a": object()}, TypeError, r'metadata\["a"\] is not JSON-serializable'),
        ({"a": {1, 2}}, TypeError, r'metadata\["a"\] is not JSON-serializable: a value of type set'),
        ({1: "int key"}, TypeError, "keys must be str"),
        ({"nan": math.nan}, ValueError, "JSON cannot represent"),
        ({"big": 2**80}, ValueError, "too large"),
        ({"blob": "x" * (1024 * 1024)}, ValueError, "metadata is .* bytes, over the limit"),
    ],
)
def test_bad_metadata(metadata: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        using_metadata(metadata)


def test_deeply_nested_metadata_is_refused_not_a_crash() -> None:
    deep: Any = {}
    node = deep
    for _ in range(10_000):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ValueError, match="nested deeper than 64"):
        using_metadata(deep)


@pytest.mark.parametrize(
    "tags, error, message",
    [
        (None, TypeError, "tags must be a list of str, not NoneType"),
        ("billing", TypeError, "tags must be a list of str, not str"),
        (["ok", 3], TypeError, r"tags\[1\] must be a str, not int"),
        (["ok", " "], ValueError, "tags must be a non-empty string"),
    ],
)
def test_bad_tags(tags: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        using_tags(tags)


def test_bad_free_form_attributes() -> None:
    with pytest.raises(ValueError, match='attributes must not set "session.id"'):
        using_attributes(attributes={"session.id": "x"})
    with pytest.raises(TypeError, match="must be a str, bool, int, float or a list"):
        using_attributes(attributes={"k": {"nested": 1}})
    with pytest.raises(ValueError, match="mixes value types"):
        using_attributes(attributes={"k": [1, "a"]})
    with pytest.raises(TypeError, match="attributes must be a dict"):
        using_attributes(attributes=["k"])  # type: ignore[arg-type]


def test_bad_register_arguments() -> None:
    with pytest.raises(ValueError, match="protocol must be"):
        register(protocol="carrier-pigeon", set_global_tracer_provider=False)


def test_nothing_already_set_is_lost_by_a_rejected_call() -> None:
    with using_session("kept"):
        with pytest.raises(ValueError):
            using_session("")
        assert get_context_attributes() == {"session.id": "kept"}


def test_the_processor_logs_and_carries_on(traced: Traced, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenSpan:
        def set_attributes(self, attributes: Any) -> None:
            raise RuntimeError("span exploded")

    processor = SessionSpanProcessor()
    with using_session("s"), caplog.at_level(logging.WARNING):
        processor.on_start(BrokenSpan())  # type: ignore[arg-type]
    assert "could not stamp session attributes" in caplog.text


def test_garbage_left_in_the_context_by_others_is_ignored(
    traced: Traced, caplog: pytest.LogCaptureFixture
) -> None:
    from opentelemetry.context import attach, detach, get_current, set_value

    token = attach(set_value("metadata", "{not json", set_value("session.id", 12, get_current())))
    try:
        with caplog.at_level(logging.WARNING), traced.tracer.start_as_current_span("span"):
            pass
    finally:
        detach(token)
    assert "session.id" not in traced.attrs("span")
    assert "ignoring a session context value" in caplog.text
