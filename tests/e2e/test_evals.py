"""Session evaluations and annotations end to end: the client, code evaluators
and an LLM judge over sessions sent through the real exporter to the real
server. (This machine has no LLM: the judge's `complete` is a deterministic
function that answers from the prompt it receives, which is what these tests
check: the prompt, the parsing and what is stored.)"""

from __future__ import annotations

from typing import Any

import pytest
from oi_server import Server
from openinference.instrumentation.session import register, using_session
from openinference.instrumentation.session.client import SessionsAPIError, SessionsClient
from openinference.instrumentation.session.evals import (
    EvaluationResult,
    LLMJudge,
    SessionTranscript,
    error_free,
    evaluate_sessions,
    session_transcript,
)
from opentelemetry.trace import Status, StatusCode

CONVERSATIONS = {
    "solved": [
        ("My parcel is late", "I rebooked the delivery for tomorrow."),
        ("Thanks!", "You're welcome."),
    ],
    "unsolved": [("I can't log in", "Please try again later."), ("Still broken", "Sorry, I can't help.")],
    "errored": [("Refund please", "")],
}


@pytest.fixture
def client(server: Server) -> SessionsClient:
    provider = register(
        endpoint=f"{server.http}/v1/traces",
        project_name="evals",
        batch=False,
        set_global_tracer_provider=False,
    )
    tracer = provider.get_tracer("evals")
    for session_id, turns in CONVERSATIONS.items():
        with using_session(session_id):
            for question, answer in turns:
                with tracer.start_as_current_span("turn") as span:
                    span.set_attribute("input.value", question)
                    if answer:
                        span.set_attribute("output.value", answer)
                    else:
                        span.set_status(Status(StatusCode.ERROR, "upstream failed"))
    provider.shutdown()  # every span exported and committed
    return SessionsClient(server.http)


def test_transcripts_read_as_conversations(client: SessionsClient) -> None:
    t = session_transcript(client, "evals", "solved")
    assert [(m.role, m.content) for m in t.messages] == [
        ("user", "My parcel is late"),
        ("assistant", "I rebooked the delivery for tomorrow."),
        ("user", "Thanks!"),
        ("assistant", "You're welcome."),
    ]
    assert t.text().startswith("user: My parcel is late\nassistant: I rebooked")
    assert t.text(max_chars=20).startswith("…") and len(t.text(max_chars=20)) == 20


def test_a_code_evaluator_annotates_every_session(client: SessionsClient) -> None:
    run = evaluate_sessions(client, "evals", error_free, name="error_free")
    assert run.errors == {}
    by_session = {a["session_id"]: a for a in run.annotations}
    assert by_session["errored"]["label"] == "had_errors"
    assert by_session["errored"]["score"] == 0.0
    assert by_session["solved"]["label"] == "clean"
    assert all(a["annotator_kind"] == "CODE" for a in run.annotations)
    summary = client.get_session("evals", "errored")["annotations"]
    assert summary == [
        {"name": "error_free", "count": 1, "mean_score": 0.0, "labels": {"had_errors": 1}, "stale": False}
    ]

    # re-running replaces the verdict instead of adding one
    evaluate_sessions(client, "evals", lambda t: {"score": 0.5}, name="error_free", session_ids=["errored"])
    (only,) = client.get_session_annotations("evals", "errored")
    assert only["score"] == 0.5 and only["label"] is None


def test_an_llm_judge_sees_the_conversation_and_its_verdict_is_stored(client: SessionsClient) -> None:
    prompts: list[str] = []

    def complete(prompt: str) -> str:
        prompts.append(prompt)
        resolved = "rebooked" in prompt
        return ("RESOLVED" if resolved else "Unresolved") + "\nEXPLANATION: judged from the transcript"

    judge = LLMJudge(
        complete, criteria="Was the problem solved?", labels={"resolved": 1.0, "unresolved": 0.0}
    )
    run = evaluate_sessions(client, "evals", judge, name="resolution", session_ids=["solved", "unsolved"])
    assert run.errors == {}
    verdicts = {a["session_id"]: (a["label"], a["score"], a["annotator_kind"]) for a in run.annotations}
    assert verdicts == {"solved": ("resolved", 1.0, "LLM"), "unsolved": ("unresolved", 0.0, "LLM")}
    assert all(a["explanation"] == "judged from the transcript" for a in run.annotations)
    solved_prompt = next(p for p in prompts if "rebooked" in p)
    assert "Criteria: Was the problem solved?" in solved_prompt
    assert "user: My parcel is late\nassistant: I rebooked the delivery for tomorrow." in solved_prompt
    assert "resolved, unresolved" in solved_prompt


def test_unparsable_answers_and_failing_evaluators_are_reported(client: SessionsClient) -> None:
    judge = LLMJudge(lambda prompt: "I cannot decide.", criteria="Was it solved?")
    run = evaluate_sessions(client, "evals", judge, name="shrug", session_ids=["solved"])
    (stored,) = run.annotations
    assert stored["label"] is None and stored["metadata"] == {"unparsable": True}
    assert stored["explanation"] == "I cannot decide."

    def flaky(t: SessionTranscript) -> Any:
        if t.session_id == "unsolved":
            raise RuntimeError("judge timed out")
        return EvaluationResult(label="ok")

    run = evaluate_sessions(client, "evals", flaky, name="flaky")
    assert run.errors == {"unsolved": "RuntimeError: judge timed out"}
    assert sorted(a["session_id"] for a in run.annotations) == ["errored", "solved"]


def test_human_annotations_through_the_client(client: SessionsClient) -> None:
    first = client.annotate_session(
        "evals", "solved", "user_feedback", label="thumbs_up", score=1, user_id="ann"
    )
    again = client.annotate_session("evals", "solved", "user_feedback", label="thumbs_down", score=0)
    assert again["id"] == first["id"]
    note = client.annotate_session(
        "evals", "solved", "note", explanation="customer called back", identifier="reviewer-1"
    )
    assert [a["name"] for a in client.get_session_annotations("evals", "solved")] == ["user_feedback", "note"]
    client.delete_session_annotation("evals", "solved", note["id"])
    assert [a["label"] for a in client.get_session_annotations("evals", "solved")] == ["thumbs_down"]

    with pytest.raises(ValueError, match="needs a label, a score or an explanation"):
        client.annotate_session("evals", "solved", "empty")
    with pytest.raises(ValueError, match="annotator_kind"):
        client.annotate_session("evals", "solved", "x", label="y", annotator_kind="ROBOT")
    with pytest.raises(SessionsAPIError) as missing:
        client.annotate_session("evals", "no-such-session", "x", label="y")
    assert missing.value.status == 404
    with pytest.raises(ValueError, match="template must contain"):
        LLMJudge(lambda p: p, criteria="c", template="no placeholders")
