"""Metadata is written as JSON text straight from the Python values: the text
is exactly the core's (serde_json's compact form, keys sorted), the checks and
their messages are the same, and OpenInference's readers and spans see it."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from conftest import Traced
from openinference.instrumentation import get_attributes_from_context
from openinference.instrumentation.session import (
    get_context_attributes,
    using_attributes,
    using_metadata,
    using_session,
)
from openinference.instrumentation.session._native import json_object_text


def _reference(metadata: dict[str, Any]) -> str:
    # Python's json agrees with serde_json on everything but float exponents
    return json.dumps(metadata, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


CASES: list[dict[str, Any]] = [
    {},
    {"plan": "pro", "turn": 3},
    {"z": 1, "a": 2, "m": 3},  # unsorted keys come out sorted
    {"outer": {"z": [1, {"b": None, "a": True}], "a": (False, "x")}},  # nested, tuples are arrays
    {"ключ": "значение", "emoji": "🦀", "中文": ["一", "二"]},
    {'q"uote': 'back\\slash "quoted"', "ctl": "\n\t\r\b\f\x00\x1f\x7f/"},
    {"é": 1, "e": 2, "E": 3, "": 4},  # byte order of UTF-8, the empty key first
    {"ints": [0, -1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1]},
    {"floats": [0.1, 0.5, 1.5, -2.25, 3.141592653589793, 0.30000000000000004]},
    {"deep": [[[[{"k": [[]]}]]]]},
]


@pytest.mark.parametrize("metadata", CASES)
def test_text_is_the_sorted_compact_json(metadata: dict[str, Any], traced: Traced) -> None:
    expected = _reference(metadata)
    with using_attributes(session_id="s", user_id="u", metadata=metadata, tags=["t"]):
        assert get_context_attributes()["metadata"] == expected
        # OpenInference's own reader finds the text under its key
        assert dict(get_attributes_from_context())["metadata"] == expected
        with traced.tracer.start_as_current_span("span"):
            pass
    assert traced.attrs("span")["metadata"] == expected
    assert json_object_text(metadata, "metadata") == expected
    with using_metadata(metadata):  # the general path, not the scope cache's
        assert get_context_attributes()["metadata"] == expected


@pytest.mark.parametrize(
    "value, text",
    [
        (1, "1"),
        (1.0, "1.0"),  # a float stays a float
        (-0.0, "-0.0"),
        (0.0, "0.0"),
        (True, "true"),
        (1e20, "1e+20"),
        (1.5e-7, "1.5e-7"),
        (123456789012345680.0, "1.2345678901234568e+17"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (2**64 - 1, "18446744073709551615"),
        (-(2**63), "-9223372036854775808"),
    ],
)
def test_numbers_keep_their_json_type(value: Any, text: str) -> None:
    with using_attributes(session_id="s", metadata={"n": value}):
        assert get_context_attributes()["metadata"] == '{"n":' + text + "}"


@pytest.mark.parametrize(
    "metadata, error, message",
    [
        ({1: "int key"}, TypeError, r"metadata is not JSON-serializable: key 1 is a int, keys must be str"),
        ({"a": {None: 1}}, TypeError, r'metadata\["a"\] is not JSON-serializable: key None is a NoneType'),
        ({"a": [1, {"b": object()}]}, TypeError, r'metadata\["a"\]\[1\]\["b"\] is not JSON-serializable'),
        ({"big": 2**64}, ValueError, r'metadata\["big"\] is an integer too large'),
        ({"small": -(2**63) - 1}, ValueError, "too large"),
        ({"inf": [math.inf]}, ValueError, r'metadata\["inf"\]\[0\] is inf, which JSON cannot represent'),
        ({"nan": -math.nan}, ValueError, "which JSON cannot represent"),
        # the first bad entry in the dict's order is the one reported
        ({"b": object(), 1: "x"}, TypeError, r'metadata\["b"\] is not JSON-serializable'),
        ({1: "x", "b": object()}, TypeError, "key 1 is a int"),
        ({"lone": "\ud800"}, UnicodeEncodeError, "surrogate"),
    ],
)
def test_bad_values_raise_on_every_path(metadata: Any, error: type, message: str) -> None:
    for _ in range(2):  # the second time the scope cache holds the ids
        with pytest.raises(error, match=message):
            using_attributes(session_id="s", user_id="u", metadata=metadata)
    with pytest.raises(error, match=message):
        using_metadata(metadata)
    with pytest.raises(error, match=message.replace("metadata", "arg")):
        json_object_text(metadata, "arg")


def test_ids_are_checked_before_metadata_and_metadata_before_tags() -> None:
    with pytest.raises(ValueError, match="session_id must be a non-empty string"):
        using_attributes(session_id=" ", metadata={"k": object()})
    with pytest.raises(TypeError, match=r'metadata\["k"\]'):
        using_attributes(session_id="s", metadata={"k": object()}, tags=[1])


def test_keys_of_the_same_text_keep_the_last_value() -> None:
    class Distinct(str):
        # equal text, yet another dict key
        __hash__ = object.__hash__

        def __eq__(self, other: object) -> bool:
            return self is other

    metadata = {"b": 0, "a": 1, Distinct("a"): 2}
    assert len(metadata) == 3
    with using_attributes(session_id="s", metadata=metadata):
        assert get_context_attributes()["metadata"] == '{"a":2,"b":0}'


def test_new_metadata_every_turn_reaches_openinference_and_spans(traced: Traced) -> None:
    for turn in range(5):
        metadata = {"turn": turn, "plan": "pro", "score": turn / 3}
        with using_attributes(session_id="chat", user_id="u", metadata=metadata, tags=["a", "b"]):
            theirs = dict(get_attributes_from_context())
            with traced.tracer.start_as_current_span(f"turn-{turn}"):
                pass
        assert json.loads(theirs["metadata"]) == metadata
        assert theirs["tag.tags"] == ["a", "b"]
        assert traced.attrs(f"turn-{turn}")["metadata"] == theirs["metadata"]


def test_the_context_holds_its_own_tag_list() -> None:
    tags = ["a", "b"]
    with using_attributes(session_id="s", tags=tags):
        tags.append("c")  # the caller's list changed inside the scope
        assert dict(get_attributes_from_context())["tag.tags"] == ["a", "b"]
        assert get_context_attributes()["tag.tags"] == ["a", "b"]


def test_nested_metadata_merges_keeping_each_value_byte_for_byte() -> None:
    outer = {"x": 0.1, "y": [1.7976931348623157e308, 5e-324], "z": {"deep": 1.0}}
    with using_attributes(session_id="s", metadata=outer):
        with using_metadata({"w": -0.0, "z": "replaced"}):
            merged = get_context_attributes()["metadata"]
            assert dict(get_attributes_from_context())["metadata"] == merged
        assert get_context_attributes()["metadata"] == (
            '{"x":0.1,"y":[1.7976931348623157e+308,5e-324],"z":{"deep":1.0}}'
        )
    assert merged == '{"w":-0.0,"x":0.1,"y":[1.7976931348623157e+308,5e-324],"z":"replaced"}'


def test_session_ids_given_as_str_subclasses_are_stored_as_str() -> None:
    class Id(str):
        pass

    with using_session(Id("s")):
        value = dict(get_attributes_from_context())["session.id"]
        assert value == "s" and type(value) is str
    with using_attributes(session_id=Id("t"), user_id=Id("u"), tags=[Id("x")]):
        theirs = dict(get_attributes_from_context())
        assert type(theirs["session.id"]) is str and type(theirs["user.id"]) is str
        assert [type(t) for t in theirs["tag.tags"]] == [str]
