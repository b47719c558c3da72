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
message and, for a bad parameter, its name.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

DEFAULT_BASE_URL = "http://127.0.0.1:6006"


class SessionsAPIError(Exception):
    """The server answered with an error (or could not be reached: status 0)."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" (parameter {parameter})" if parameter else ""))
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter


def _quote(segment: str) -> str:
    if not isinstance(segment, str) or not segment:
        raise TypeError(f"path segments must be non-empty str, got {segment!r}")
    return urllib.parse.quote(segment, safe="")


class SessionsClient:
    """Reads (and deletes) sessions on an `oi-sessions` server."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = (base_url or os.environ.get("OI_SESSIONS_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key or os.environ.get("OI_SESSIONS_API_KEY")
        self._timeout = timeout

    def _request(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
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
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as e:
            raise _api_error(e) from None
        except urllib.error.URLError as e:
            raise SessionsAPIError(0, "unreachable", f"{self.base_url}: {e.reason}") from None
        return json.loads(body) if body else None

    def _pages(self, path: str, params: Mapping[str, Any], limit: int | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            page = self._request("GET", path, {**params, "cursor": cursor, "limit": limit})
            yield from page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # --- projects -------------------------------------------------------------

    def list_projects(self) -> list[dict[str, Any]]:
        """Every project: name, trace and session counts, last activity."""
        return list(self._pages("/v1/projects", {}, None))

    # --- sessions -------------------------------------------------------------

    def list_sessions(
        self, project: str, *, limit: int | None = None, cursor: str | None = None, **filters: Any
    ) -> dict[str, Any]:
        """One page: ``{"data": [...], "next_cursor": ...}``. ``filters`` are the API's
        query parameters: ``sort``, ``order``, ``start_time``, ``end_time``,
        ``user_id``, ``tag``, ``has_error``, ``min_traces``, ``q``, and
        ``metadata={"plan": "pro"}`` for ``metadata.<key>`` filters."""
        return self._request(  # type: ignore[no-any-return]
            "GET",
            f"/v1/projects/{_quote(project)}/sessions",
            {**_session_filters(filters), "limit": limit, "cursor": cursor},
        )

    def iter_sessions(
        self, project: str, *, page_size: int | None = None, **filters: Any
    ) -> Iterator[dict[str, Any]]:
        """Every session matching ``filters``, following the cursor."""
        return self._pages(f"/v1/projects/{_quote(project)}/sessions", _session_filters(filters), page_size)

    def get_session(self, project: str, session_id: str) -> dict[str, Any]:
        """A session's summary: times, counts, users, tags, metadata, tokens, cost, latency."""
        return self._request(  # type: ignore[no-any-return]
            "GET", f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}"
        )

    def get_turns(
        self, project: str, session_id: str, *, page_size: int | None = None
    ) -> list[dict[str, Any]]:
        """Every turn of a session, in time order: one per trace, with its input and output."""
        path = f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}/turns"
        return list(self._pages(path, {}, page_size))

    def delete_session(self, project: str, session_id: str) -> None:
        """Deletes a session with its traces and spans."""
        self._request("DELETE", f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}")

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
        annotator_kind: str = "HUMAN",
        metadata: Mapping[str, Any] | None = None,
        identifier: str = "",
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """Creates or replaces (same ``name`` and ``identifier``) one annotation of
        a session: a verdict on how the session went. Needs a ``label``, a
        ``score`` or an ``explanation``; ``annotator_kind`` is ``HUMAN``, ``LLM``
        or ``CODE``."""
        body = _annotation(
            None, name, label, score, explanation, annotator_kind, metadata, identifier, user_id
        )
        path = f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}/annotations"
        return self._request("POST", path, body=body)  # type: ignore[no-any-return]

    def log_session_annotations(
        self, project: str, annotations: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Creates or replaces many annotations (each a dict with ``session_id``,
        ``name`` and a verdict), 1,000 per request, each request all or nothing."""
        items = [dict(a) for a in annotations]
        stored: list[dict[str, Any]] = []
        for start in range(0, len(items), 1000):
            page = self._request(
                "POST",
                f"/v1/projects/{_quote(project)}/session_annotations",
                body={"data": items[start : start + 1000]},
            )
            stored.extend(page["data"])
        return stored

    def get_session_annotations(self, project: str, session_id: str) -> list[dict[str, Any]]:
        """A session's annotations, oldest first."""
        path = f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}/annotations"
        return list(self._request("GET", path)["data"])

    def delete_session_annotation(self, project: str, session_id: str, annotation_id: int) -> None:
        """Deletes one annotation."""
        path = (
            f"/v1/projects/{_quote(project)}/sessions/{_quote(session_id)}/annotations/{int(annotation_id)}"
        )
        self._request("DELETE", path)

    # --- traces ---------------------------------------------------------------

    def list_traces(
        self, project: str, *, session_id: str | None = None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Every trace of a project (or of one session)."""
        return list(
            self._pages(f"/v1/projects/{_quote(project)}/traces", {**filters, "session_id": session_id}, None)
        )

    def get_trace(self, project: str, trace_id: str) -> dict[str, Any]:
        """A trace with every span."""
        return self._request(  # type: ignore[no-any-return]
            "GET", f"/v1/projects/{_quote(project)}/traces/{_quote(trace_id)}"
        )


def _annotation(
    session_id: str | None,
    name: str,
    label: str | None,
    score: float | None,
    explanation: str | None,
    annotator_kind: str,
    metadata: Mapping[str, Any] | None,
    identifier: str,
    user_id: str | None,
) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip():
        raise ValueError("name must be a non-empty string")
    if annotator_kind not in ("HUMAN", "LLM", "CODE"):
        raise ValueError(f"annotator_kind must be HUMAN, LLM or CODE, got {annotator_kind!r}")
    if label is None and score is None and explanation is None:
        raise ValueError("an annotation needs a label, a score or an explanation")
    body: dict[str, Any] = {"name": name, "annotator_kind": annotator_kind, "identifier": identifier}
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
        body["metadata"] = dict(metadata)
    return body


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _session_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in filters.items() if k != "metadata"}
    metadata = filters.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict of filters, not {type(metadata).__name__}")
        out.update({f"metadata.{k}": v for k, v in metadata.items()})
    return out


def _api_error(e: urllib.error.HTTPError) -> SessionsAPIError:
    try:
        error = json.loads(e.read())["error"]
        return SessionsAPIError(
            e.code, error.get("code", "error"), error.get("message", ""), error.get("parameter")
        )
    except (ValueError, KeyError, TypeError):
        return SessionsAPIError(e.code, "error", str(e.reason))
