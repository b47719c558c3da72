"""The shared cases of the API client and the evaluations (tests/clients/cases.json),
run against the installed package. The Node package runs the same file
(node/test/clients-shared.test.mjs); tests/clients/README.md describes the format.

No server: requests go to a fake ``urlopen`` that records them and answers what
the case says; evaluations get a fake client holding the case's sessions."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openinference.instrumentation.session.client import (
    SessionsAPIError,
    SessionsClient,
    SessionsTimeoutError,
)
from openinference.instrumentation.session.evals import (
    EvaluationResult,
    LLMJudge,
    SessionTranscript,
    error_free,
    evaluate_sessions,
)
from typing_extensions import Self

CASES_FILE = Path(__file__).resolve().parents[2] / "tests" / "clients" / "cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
CALLS = {
    "client",
    "client_method",
    "transcript",
    "judge",
    "judge_prompt",
    "judge_parse",
    "error_free",
    "evaluate_sessions",
}
ERRORS = {
    "TypeError": TypeError,
    "ValueError": ValueError,
    "SessionsAPIError": SessionsAPIError,
    "SessionsTimeoutError": SessionsTimeoutError,
}
FAKE_BASE_URL = "http://oi.test"


class EvaluatorFailure(Exception):
    """What a case's evaluator raises for ``{"$raise": message}``."""


# --- values JSON cannot spell ------------------------------------------------------


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if isinstance(value, dict):
        if "$number" in value:
            return float(value["$number"].lower().replace("infinity", "inf"))
        if "$opaque" in value:
            return object()
        if "$date" in value:
            return dt.datetime.fromisoformat(value["$date"].replace("Z", "+00:00"))
        if "$not_callable" in value:
            return value["$not_callable"]
        return {k: decode(v) for k, v in value.items()}
    return value


def same(actual: Any, expected: Any) -> bool:
    """JSON equality that tells a bool from a number (``True == 1`` in Python)."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return actual == expected
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == expected.keys()
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected))
        )
    return type(actual) is type(expected) and actual == expected


# --- the fake transport ------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self._body = body

    def read(self) -> bytes:
        return self._body

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def reply_body(reply: dict[str, Any]) -> bytes:
    if "json" in reply:
        return json.dumps(reply["json"]).encode()
    return str(reply.get("text", "")).encode()


class Transport:
    """Stands in for ``urllib.request.urlopen``: records each request, answers the next reply."""

    def __init__(self, replies: list[dict[str, Any]]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: urllib.request.Request, timeout: float | None = None) -> FakeResponse:
        assert isinstance(request, urllib.request.Request)
        url = request.full_url
        assert url.startswith(FAKE_BASE_URL), url
        data = request.data
        self.requests.append(
            {
                "method": request.get_method(),
                "url": url[len(FAKE_BASE_URL) :],
                "body": None if data is None else json.loads(data),  # type: ignore[arg-type]
                "authorization": request.get_header("Authorization"),
            }
        )
        if not self.replies:
            raise AssertionError(f"an unexpected request: {self.requests[-1]}")
        reply = self.replies.pop(0)
        fail = reply.get("fail")
        if fail == "refused":
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        if fail == "reset":
            raise ConnectionResetError(104, "Connection reset by peer")
        if fail == "timeout_connect":
            raise urllib.error.URLError(TimeoutError("timed out"))
        if fail == "timeout_read":
            raise TimeoutError("timed out")
        assert fail is None, fail
        status = reply["status"]
        if status >= 400:
            raise urllib.error.HTTPError(
                url,
                status,
                reply.get("reason", ""),
                {},
                io.BytesIO(reply_body(reply)),  # type: ignore[arg-type]
            )
        return FakeResponse(status, reply_body(reply))


# --- the fake client of evaluations -------------------------------------------------


class FakeClient:
    """A client holding the case's sessions: what evaluate_sessions reads and writes."""

    def __init__(self, sessions: dict[str, list[dict[str, Any]]]) -> None:
        self.sessions = sessions
        self.listing: dict[str, Any] | None = None
        self.log_calls: list[list[dict[str, Any]]] = []

    def _turns(self, session_id: str) -> list[dict[str, Any]]:
        if session_id not in self.sessions:
            raise SessionsAPIError(404, "not_found", f"no session {session_id}")
        return copy.deepcopy(self.sessions[session_id])

    def get_session(self, project: str, session_id: str) -> dict[str, Any]:
        self._turns(session_id)
        return {"session_id": session_id}

    def get_turns(self, project: str, session_id: str) -> list[dict[str, Any]]:
        return self._turns(session_id)

    def iter_sessions(self, project: str, **options: Any) -> Iterator[dict[str, Any]]:
        self.listing = {k: v for k, v in options.items() if v is not None}
        return iter([{"session_id": s} for s in self.sessions])

    def log_session_annotations(
        self, project: str, annotations: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self.log_calls.append(copy.deepcopy(list(annotations)))
        return list(annotations)


def make_judge(spec: dict[str, Any], complete: Any = None) -> LLMJudge:
    spec = decode(spec)
    if "complete" in spec:
        complete = spec.pop("complete")
    return LLMJudge(complete if complete is not None else (lambda prompt: ""), **spec)


def make_evaluator(spec: dict[str, Any]) -> Any:
    kind = spec["kind"]
    if kind == "error_free":
        return error_free
    if kind == "value":
        return spec["value"]
    if kind == "judge":
        answers = decode(spec["answers"])

        def complete(prompt: str) -> Any:
            return next(answer for part, answer in answers if part in prompt)

        return make_judge(spec["judge"], complete)
    assert kind == "returns", kind
    results = spec["results"]

    def evaluator(transcript: SessionTranscript) -> Any:
        result = results.get(transcript.session_id)
        if isinstance(result, dict) and "$raise" in result:
            raise EvaluatorFailure(result["$raise"])
        return decode(result)

    if "annotator_kind" in spec:
        evaluator.annotator_kind = spec["annotator_kind"]  # type: ignore[attr-defined]
    return evaluator


def verdict(result: EvaluationResult) -> dict[str, Any]:
    return {
        "label": result.label,
        "score": result.score,
        "explanation": result.explanation,
        "metadata": result.metadata,
    }


def transcript_of(turns: list[dict[str, Any]]) -> SessionTranscript:
    return SessionTranscript.from_turns("p", "s", {}, decode(turns))


# --- running a case -----------------------------------------------------------------


def call(case: dict[str, Any], transport: Transport, fake: list[FakeClient]) -> Any:
    args = case["args"]
    what = case["call"]
    if what == "client":
        client = SessionsClient(**decode(args))
        return {"base_url": client.base_url, "timeout": client.timeout}
    if what == "client_method":
        client = SessionsClient(**{"base_url": FAKE_BASE_URL, **decode(args.get("client", {}))})
        result = getattr(client, args["method"])(*decode(args["args"]), **decode(args.get("options", {})))
        return list(result) if isinstance(result, Iterator) else result
    if what == "transcript":
        t = transcript_of(args["turns"])
        text = t.text(**({"max_chars": decode(args["max_chars"])} if "max_chars" in args else {}))
        return {"messages": [[m.role, m.content] for m in t.messages], "text": text}
    if what == "judge":
        return {"labels": [[k, v] for k, v in make_judge(args).labels.items()]}
    if what == "judge_prompt":
        return make_judge(args["judge"]).prompt(transcript_of(args["turns"]))
    if what == "judge_parse":
        return verdict(make_judge(args["judge"]).parse(decode(args["answer"])))
    if what == "error_free":
        return verdict(error_free(transcript_of(args["turns"])))
    assert what == "evaluate_sessions", what
    client = FakeClient(args["sessions"])
    fake.append(client)
    run = evaluate_sessions(
        client,  # type: ignore[arg-type]
        args.get("project", "p"),
        make_evaluator(args["evaluator"]),
        **decode(args["options"]),
    )
    assert run.annotations == [a for batch in client.log_calls for a in batch]
    return {"listing": client.listing, "log_calls": client.log_calls, "errors": run.errors}


def error_problems(what: str, error: BaseException, expected: dict[str, Any]) -> list[str]:
    problems = []
    kind = expected["error"]
    if type(error).__name__ != kind:
        problems.append(f"{what}: expected {kind}, got {type(error).__name__}: {error}")
    message = str(error)
    argument = expected.get("argument")
    for fragment in [*expected.get("message_contains", []), *([argument] if argument else [])]:
        if fragment not in message:
            problems.append(f"{what}: {message!r} does not contain {fragment!r}")
    for field in ("status", "code", "parameter"):
        if field in expected and getattr(error, field, None) != expected[field]:
            problems.append(
                f"{what}: {field} is {getattr(error, field, None)!r}, expected {expected[field]!r}"
            )
    return problems


def errors_problems(actual: dict[str, str], expected: dict[str, Any]) -> list[str]:
    """A run's errors: exact text, or ``{"error", "message_contains"}`` for the error's class and message."""
    if actual.keys() != expected.keys():
        return [f"errors of sessions {sorted(actual)}, expected {sorted(expected)}: {actual}"]
    problems = []
    for session_id, want in expected.items():
        text = actual[session_id]
        if isinstance(want, str):
            if text != want:
                problems.append(f"errors[{session_id!r}] is {text!r}, expected {want!r}")
            continue
        if not text.startswith(want["error"] + ": "):
            problems.append(f"errors[{session_id!r}] is {text!r}, expected a {want['error']}")
        problems += [
            f"errors[{session_id!r}]: {text!r} does not contain {f!r}"
            for f in want.get("message_contains", [])
            if f not in text
        ]
    return problems


def check(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What is wrong with the behaviour against the case's expectation ([] when nothing)."""
    for name in ("OI_SESSIONS_URL", "OI_SESSIONS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value)
    transport = Transport(case.get("transport", []))
    monkeypatch.setattr(urllib.request, "urlopen", transport)
    expect = case["expect"]
    problems: list[str] = []
    fake: list[FakeClient] = []
    try:
        result = call(case, transport, fake)
    except (TypeError, ValueError, SessionsAPIError) as error:
        if "error" not in expect:
            return [f"raised {type(error).__name__}: {error}"]
        problems += error_problems("the call", error, expect)
    else:
        if "error" in expect:
            return [f"expected {expect['error']}, got the result {result!r}"]
        wanted = expect["result"]
        if case["call"] == "evaluate_sessions":
            problems += errors_problems(result.pop("errors"), wanted["errors"])
            wanted = {k: v for k, v in wanted.items() if k != "errors"}
        if not same(result, wanted):
            problems.append(f"result {json.dumps(result, default=repr)}, expected {json.dumps(wanted)}")
    if "requests" in expect:
        recorded = [{k: v for k, v in r.items()} for r in transport.requests]
        wanted_requests = [{"body": None, "authorization": None, **r} for r in expect["requests"]]
        if not same(recorded, wanted_requests):
            problems.append(f"requests {recorded}, expected {wanted_requests}")
    if transport.replies:
        problems.append(f"{len(transport.replies)} replies left: fewer requests than the case expects")
    return problems


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_shared_case(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    problems = check(case, monkeypatch)
    assert not problems, "\n".join(problems)


def mutated(case: dict[str, Any]) -> dict[str, Any]:
    """The case with a wrong expectation: what ``check`` must catch."""
    case = copy.deepcopy(case)
    expect = case["expect"]
    if "error" in expect:
        expect["message_contains"] = [*expect.get("message_contains", []), "\u2603 not in any message"]
    elif case["call"] == "evaluate_sessions":
        expect["result"]["errors"]["\u2603"] = "not a session"
    else:
        expect["result"] = {"not": expect["result"]}
    return case


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_case_can_fail(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert check(mutated(case), monkeypatch), "a wrong expectation passed"


def test_the_case_file_is_well_formed() -> None:
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names are unique"
    for case in CASES:
        assert case["call"] in CALLS, case["name"]
        expect = case["expect"]
        assert ("error" in expect) != ("result" in expect), case["name"]
        if "error" in expect:
            assert expect["error"] in ERRORS, case["name"]
            assert expect.get("message_contains") or expect.get("argument"), case["name"]
        if case["call"] == "client_method":
            assert "requests" in expect, f"{case['name']}: say which requests are sent ([] for none)"
    # every call is covered, every error kind too
    assert {c["call"] for c in CASES} == CALLS
    assert {c["expect"]["error"] for c in CASES if "error" in c["expect"]} == set(ERRORS)
