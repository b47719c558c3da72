"""A small client for the `oi-sessions` API: projects, sessions, turns, traces.

    from openinference.instrumentation.session.client import SessionsClient

    client = SessionsClient()                      # http://127.0.0.1:6006, $OI_SESSIONS_API_KEY
    for session in client.iter_sessions("support-bot", user_id="user-42"):
        print(session["session_id"], session["num_traces"])
    turns = client.get_turns("support-bot", "conv-42")

Annotations (verdicts on how a session went) are written with
:meth:`SessionsClient.annotate_session` and, in bulk, :meth:`log_session_annotations`;
:mod:`openinference.instrumentation.session.evals` runs evaluators over sessions.

Answers are the API's JSON objects (see the server's `/openapi.json`). Standard
library only; errors raise :class:`SessionsAPIError` with the server's code,
message and, for a bad parameter, its name (:class:`SessionsTimeoutError` when
the server does not answer in time). Bad arguments raise ``TypeError`` (a wrong
type) or ``ValueError`` (a wrong value) naming the argument, before any request.

The Node package's ``SessionsClient`` is this client's twin: the same checks,
requests and errors (``tests/clients/cases.json`` pins both).
"""

from __future__ import annotations

import datetime as _dt
import http.client
import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ._checks import (
    count,
    json_metadata,
    non_empty,
    opt_int,
    opt_number,
    opt_str,
    opt_time,
    segment,
    shown,
    type_name,
)

#: Where the client goes when neither ``base_url`` nor ``$OI_SESSIONS_URL`` is set.
DEFAULT_BASE_URL = "http://127.0.0.1:6006"
#: How long the client waits for the server, in seconds, unless told otherwise.
DEFAULT_TIMEOUT = 30.0
#: How many annotations one bulk request carries at most (the server's limit).
MAX_ANNOTATIONS_PER_REQUEST = 1000
#: Who gave an annotation.
ANNOTATOR_KINDS = ("HUMAN", "LLM", "CODE")
#: The session list's filters (the API's query parameters).
SESSION_FILTERS = (
    "sort",
    "order",
    "start_time",
    "end_time",
    "user_id",
    "tag",
    "has_error",
    "min_traces",
    "q",
    "metadata",
)

_Query = list[tuple[str, str]]


class SessionsAPIError(Exception):
    """The server answered with an error (or gave no answer: status 0, code
    ``unreachable`` or ``timeout``)."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (parameter {parameter})" if parameter else ""))
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter


class SessionsTimeoutError(SessionsAPIError):
    """The server did not answer within the client's ``timeout`` (status 0, code ``timeout``)."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "timeout", message)


# --- argument checks (the shared ones are in _checks) ---------------------------


def _timeout(value: object) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"timeout must be a positive number of seconds, got {shown(value)}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"timeout must be a positive number of seconds, got {value}")
    return float(value)


def _session_query(filters: Mapping[str, Any], caller: str) -> _Query:
    """The session list's query parameters, checked, in the API's order."""
    unknown = [k for k in filters if k not in SESSION_FILTERS]
    if unknown:
        raise TypeError(f"{caller}() got an unexpected keyword argument {unknown[0]!r}")
    query: _Query = []

    def add(name: str, value: str | None) -> None:
        if value is not None:
            query.append((name, value))

    add("sort", opt_str(filters.get("sort"), "sort"))
    add("order", opt_str(filters.get("order"), "order"))
    add("start_time", opt_time(filters.get("start_time"), "start_time"))
    add("end_time", opt_time(filters.get("end_time"), "end_time"))
    add("user_id", opt_str(filters.get("user_id"), "user_id"))
    add("tag", opt_str(filters.get("tag"), "tag"))
    has_error = filters.get("has_error")
    if has_error is not None:
        if not isinstance(has_error, bool):
            raise TypeError(f"has_error must be a bool, not {type_name(has_error)}")
        add("has_error", "true" if has_error else "false")
    min_traces = opt_int(filters.get("min_traces"), "min_traces", 0)
    add("min_traces", None if min_traces is None else str(min_traces))
    add("q", opt_str(filters.get("q"), "q"))
    metadata = filters.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of filters, not {type_name(metadata)}")
        for key, value in metadata.items():
            place = f"metadata[{shown(key)}]"
            if isinstance(value, bool):
                add(f"metadata.{key}", "true" if value else "false")
            elif isinstance(value, str):
                add(f"metadata.{key}", value)
            elif isinstance(value, (int, float)) and math.isfinite(value):
                add(f"metadata.{key}", str(value))
            elif isinstance(value, float):
                raise ValueError(f"{place} must be a str, a finite number or a bool, got {value}")
            else:
                raise TypeError(f"{place} must be a str, a finite number or a bool, not {type_name(value)}")
    return query


_ANNOTATION_FIELDS = (
    "label",
    "score",
    "explanation",
    "annotator_kind",
    "metadata",
    "identifier",
    "user_id",
)


def _annotation_body(
    session_id: str | None, name: object, fields: Mapping[str, Any], prefix: str
) -> dict[str, Any]:
    """The API body of one annotation, checked (``prefix`` names its place in a bulk request)."""
    non_empty(name, f"{prefix}name")
    kind = fields.get("annotator_kind")
    if kind is None:
        kind = "HUMAN"
    if kind not in ANNOTATOR_KINDS:
        error = ValueError if isinstance(kind, str) else TypeError
        raise error(f"{prefix}annotator_kind must be HUMAN, LLM or CODE, got {shown(kind)}")
    label = opt_str(fields.get("label"), f"{prefix}label")
    explanation = opt_str(fields.get("explanation"), f"{prefix}explanation")
    user_id = opt_str(fields.get("user_id"), f"{prefix}user_id")
    identifier = opt_str(fields.get("identifier"), f"{prefix}identifier") or ""
    score = opt_number(fields.get("score"), f"{prefix}score")
    if label is None and score is None and explanation is None:
        raise ValueError(f"{prefix.rstrip('.') or 'an annotation'} needs a label, a score or an explanation")
    metadata = json_metadata(fields.get("metadata"), f"{prefix}metadata")
    body: dict[str, Any] = {"name": name, "annotator_kind": kind, "identifier": identifier}
    for key, value in (
        ("session_id", session_id),
        ("label", label),
        ("score", score),
        ("explanation", explanation),
        ("user_id", user_id),
    ):
        if value is not None:
            body[key] = value
    if metadata:
        body["metadata"] = metadata
    return body


# --- the client ------------------------------------------------------------------


class SessionsClient:
    """Reads (and deletes) sessions on an `oi-sessions` server, and writes their annotations."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        url = opt_str(base_url, "base_url") or os.environ.get("OI_SESSIONS_URL") or DEFAULT_BASE_URL
        url = url.rstrip("/")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http(s) URL, got {shown(url)}")
        #: The server's base URL, without a trailing slash.
        self.base_url = url
        #: How long to wait for the server, in seconds: to connect, and then for each part of its answer.
        self.timeout = _timeout(timeout)
        self._api_key = opt_str(api_key, "api_key") or os.environ.get("OI_SESSIONS_API_KEY") or None

    def _request(self, method: str, path: str, query: _Query | None = None, body: Any = None) -> Any:
        url = self.base_url + path + (("?" + urllib.parse.urlencode(query)) if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            url, data=data, method=method, headers={"accept": "application/json"}
        )
        if data is not None:
            request.add_header("content-type", "application/json")
        if self._api_key:
            request.add_header("authorization", f"Bearer {self._api_key}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
                text = response.read()
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                raise self._timed_out() from None
            raise SessionsAPIError(0, "unreachable", f"{self.base_url}: {e.reason}") from None
        except TimeoutError:
            raise self._timed_out() from None
        except (OSError, http.client.HTTPException) as e:
            raise SessionsAPIError(0, "unreachable", f"{self.base_url}: {e}") from None
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise SessionsAPIError(
                status, "invalid_response", f"{method} {path}: the answer is not JSON"
            ) from None

    def _timed_out(self) -> SessionsTimeoutError:
        return SessionsTimeoutError(f"{self.base_url}: no answer within {self.timeout:g} s")

    def _pages(self, path: str, query: _Query, page_size: int | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            params = list(query)
            if cursor:
                params.append(("cursor", cursor))
            if page_size is not None:
                params.append(("limit", str(page_size)))
            page = self._request("GET", path, params)
            yield from page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # --- projects -------------------------------------------------------------

    def list_projects(self) -> list[dict[str, Any]]:
        """Every project: name, trace and session counts, last activity."""
        return list(self._pages("/v1/projects", [], None))

    # --- sessions -------------------------------------------------------------

    def list_sessions(
        self, project: str, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> dict[str, Any]:
        """One page: ``{"data": [...], "next_cursor": ...}``. ``filters`` are the API's
        query parameters: ``sort``, ``order``, ``start_time``, ``end_time`` (RFC 3339
        text or an aware ``datetime``), ``user_id``, ``tag``, ``has_error``,
        ``min_traces``, ``q``, and ``metadata={"plan": "pro"}`` for ``metadata.<key>``
        filters."""
        path = f"/v1/projects/{segment(project, 'project')}/sessions"
        query = _session_query(filters, "list_sessions")
        page_size = opt_int(limit, "limit", 1)
        after = opt_str(cursor, "cursor")
        if page_size is not None:
            query.append(("limit", str(page_size)))
        if after:
            query.append(("cursor", after))
        return self._request("GET", path, query)  # type: ignore[no-any-return]

    def iter_sessions(
        self, project: str, *, page_size: int | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Every session matching ``filters`` (those of :meth:`list_sessions`), following
        the cursor. Arguments are checked when called, not at the first ``next()``."""
        path = f"/v1/projects/{segment(project, 'project')}/sessions"
        query = _session_query(filters, "iter_sessions")
        return self._pages(path, query, opt_int(page_size, "page_size", 1))

    def _session_path(self, project: str, session_id: str) -> str:
        return f"/v1/projects/{segment(project, 'project')}/sessions/{segment(session_id, 'session_id')}"

    def get_session(self, project: str, session_id: str) -> dict[str, Any]:
        """A session's summary: times, counts, users, tags, metadata, tokens, cost, latency, annotations."""
        return self._request("GET", self._session_path(project, session_id))  # type: ignore[no-any-return]

    def get_turns(
        self, project: str, session_id: str, *, page_size: int | None = None
    ) -> list[dict[str, Any]]:
        """Every turn of a session, in time order: one per trace, with its input and output."""
        path = self._session_path(project, session_id) + "/turns"
        return list(self._pages(path, [], opt_int(page_size, "page_size", 1)))

    def delete_session(self, project: str, session_id: str) -> None:
        """Deletes a session with its traces, spans and annotations."""
        self._request("DELETE", self._session_path(project, session_id))

    # --- annotations ------------------------------------------------------------

    def annotate_session(
        self,
        project: str,
        session_id: str,
        name: str,
        *,
        label: str | None = None,
        score: float | None = None,
        explanation: str | None = None,
        annotator_kind: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        identifier: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Creates or replaces (same ``name`` and ``identifier``) one annotation of
        a session: a verdict on how the session went. Needs a ``label``, a
        ``score`` or an ``explanation``; ``annotator_kind`` is ``HUMAN`` (default),
        ``LLM`` or ``CODE``; ``identifier`` defaults to ``""``."""
        path = self._session_path(project, session_id) + "/annotations"
        fields = {
            "label": label,
            "score": score,
            "explanation": explanation,
            "annotator_kind": annotator_kind,
            "metadata": metadata,
            "identifier": identifier,
            "user_id": user_id,
        }
        return self._request("POST", path, body=_annotation_body(None, name, fields, ""))  # type: ignore[no-any-return]

    def log_session_annotations(
        self, project: str, annotations: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Creates or replaces many annotations of any sessions of the project (each
        a dict with ``session_id``, ``name`` and a verdict, and the options of
        :meth:`annotate_session`), 1,000 per request, each request all or nothing.
        Every annotation is checked before the first request. Returns the stored
        annotations, in order."""
        path = f"/v1/projects/{segment(project, 'project')}/session_annotations"
        if isinstance(annotations, (str, bytes, Mapping)) or not isinstance(annotations, Iterable):
            raise TypeError(
                f"annotations must be a list (an iterable) of dicts, not {type_name(annotations)}"
            )
        bodies: list[dict[str, Any]] = []
        for i, item in enumerate(annotations):
            if not isinstance(item, Mapping):
                raise TypeError(f"annotations[{i}] must be a dict, not {type_name(item)}")
            known = (*_ANNOTATION_FIELDS, "session_id", "name")
            unknown = [k for k in item if k not in known]
            if unknown:
                raise TypeError(
                    f"annotations[{i}] has an unknown key {shown(unknown[0])}; known keys are {', '.join(known)}"
                )
            session_id = item.get("session_id")
            if not isinstance(session_id, str) or session_id == "":
                error = ValueError if isinstance(session_id, str) else TypeError
                raise error(
                    f"annotations[{i}].session_id must be a non-empty string, got {shown(session_id)}"
                )
            bodies.append(_annotation_body(session_id, item.get("name"), item, f"annotations[{i}]."))
        stored: list[dict[str, Any]] = []
        for start in range(0, len(bodies), MAX_ANNOTATIONS_PER_REQUEST):
            page = self._request(
                "POST", path, body={"data": bodies[start : start + MAX_ANNOTATIONS_PER_REQUEST]}
            )
            stored.extend(page["data"])
        return stored

    def get_session_annotations(self, project: str, session_id: str) -> list[dict[str, Any]]:
        """A session's annotations, oldest first."""
        return list(self._request("GET", self._session_path(project, session_id) + "/annotations")["data"])

    def delete_session_annotation(self, project: str, session_id: str, annotation_id: int) -> None:
        """Deletes one annotation (its ``id``)."""
        base = self._session_path(project, session_id) + "/annotations"
        self._request("DELETE", f"{base}/{count(annotation_id, 'annotation_id', 0)}")

    # --- traces ---------------------------------------------------------------

    def list_traces(
        self,
        project: str,
        *,
        session_id: str | None = None,
        start_time: str | _dt.datetime | None = None,
        end_time: str | _dt.datetime | None = None,
        page_size: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every trace of a project, or of one session (``session_id``), in every page."""
        path = f"/v1/projects/{segment(project, 'project')}/traces"
        query: _Query = []
        for name, value in (
            ("session_id", opt_str(session_id, "session_id")),
            ("start_time", opt_time(start_time, "start_time")),
            ("end_time", opt_time(end_time, "end_time")),
        ):
            if value is not None:
                query.append((name, value))
        return list(self._pages(path, query, opt_int(page_size, "page_size", 1)))

    def get_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        """A trace with every span."""
        path = f"/v1/projects/{segment(project, 'project')}/traces/{segment(trace_id, 'trace_id')}"
        return self._request("GET", path)  # type: ignore[no-any-return]


def _api_error(e: urllib.error.HTTPError) -> SessionsAPIError:
    try:
        error = json.loads(e.read())["error"]
    except (OSError, ValueError, KeyError, TypeError):
        error = None
    if isinstance(error, dict):
        code, message, parameter = error.get("code"), error.get("message"), error.get("parameter")
        return SessionsAPIError(
            e.code,
            code if isinstance(code, str) else "error",
            message if isinstance(message, str) else "",
            parameter if isinstance(parameter, str) else None,
        )
    # not the API's JSON error: a proxy's page, say
    return SessionsAPIError(e.code, "error", str(e.reason or f"HTTP {e.code}"))
