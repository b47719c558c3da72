"""Argument checks of the API client and the evaluations: a wrong type is a
``TypeError``, a wrong value a ``ValueError``; both name the argument, with the
messages of the Node twin where the languages allow (``tests/clients/``)."""

from __future__ import annotations

import datetime as dt
import json
import math
import urllib.parse
from collections.abc import Mapping
from typing import Any, cast

from ._native import json_object_text


def type_name(value: object) -> str:
    return type(value).__name__


def shown(value: object) -> str:
    """A value in an error message: text as JSON (as the Node twin shows it), a
    number as itself, anything else by its type."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return type_name(value)


def segment(value: object, argument: str) -> str:
    """A path segment: a non-empty str, percent-encoded."""
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type_name(value)}")
    if value == "":
        raise ValueError(f"{argument} must be a non-empty string")
    if value in (".", ".."):
        # URL resolution (the Node twin's fetch, proxies) reads "." and ".." as
        # moves in the path: the request would reach another resource.
        raise ValueError(f"{argument} {shown(value)} cannot be sent in a URL path")
    try:
        return urllib.parse.quote(value, safe="")
    except UnicodeEncodeError:
        raise ValueError(f"{argument} is not well-formed Unicode (a lone surrogate)") from None


def opt_str(value: object, argument: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a str, not {type_name(value)}")
    return value


def non_empty(value: object, argument: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be a non-empty string, got {shown(value)}")
    if not value.strip():
        raise ValueError(f"{argument} must be a non-empty string, got {shown(value)}")
    return value


def opt_int(value: object, argument: str, minimum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{argument} must be an integer of at least {minimum}, got {shown(value)}")
    if value < minimum:
        raise ValueError(f"{argument} must be an integer of at least {minimum}, got {value}")
    return value


def count(value: object, argument: str, minimum: int) -> int:
    """A required integer of at least ``minimum``."""
    checked = opt_int(value, argument, minimum)
    if checked is None:
        raise TypeError(f"{argument} must be an integer of at least {minimum}, got None")
    return checked


def finite_number(value: object, what: str) -> float:
    """A finite number (not a bool); ``what`` says what it must be, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what}, got {shown(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{what}, got {value}")
    return value


def opt_number(value: object, argument: str) -> float | None:
    return None if value is None else finite_number(value, f"{argument} must be a finite number")


def opt_time(value: object, argument: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{argument} is a naive datetime: give it a timezone")
        # UTC with a Z, milliseconds unless finer (the Node twin's Date.toISOString)
        utc = value.astimezone(dt.timezone.utc)
        spec = "milliseconds" if utc.microsecond % 1000 == 0 else "microseconds"
        return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    if not isinstance(value, str):
        raise TypeError(f"{argument} must be an RFC 3339 str or a datetime, not {type_name(value)}")
    return value


def json_metadata(value: object, argument: str) -> dict[str, Any] | None:
    """Annotation metadata: a dict of JSON values (checked by the core's converter)."""
    if value is None:
        return None
    if isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)
    json_object_text(value, argument)  # raises unless a dict of JSON values
    return cast("dict[str, Any]", value)
