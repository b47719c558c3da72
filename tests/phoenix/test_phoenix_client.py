"""Phoenix's Python client (`arize-phoenix-client`, pinned in scripts/lib.sh),
unchanged, against oi-sessions: every session, annotation, span, trace and
project method a Phoenix user's scripts call, and what they did seen through
our own API (which the UI reads).
"""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest
from oi_server import Server
from phoenix.client import Client


def phoenix(server: Server) -> Client:
    return Client(base_url=server.http)


def raw(server: Server, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to a Phoenix route the client has no method for."""
    return httpx.request(method, server.http + path, timeout=10, **kwargs)


def status_of(call: Any) -> tuple[int, str]:
    """The status and Phoenix's `detail` of a call that fails."""
    with pytest.raises(httpx.HTTPStatusError) as failed:
        call()
    return failed.value.response.status_code, failed.value.response.json()["detail"]


def test_the_version_gate_passes(server: Server) -> None:
    assert raw(server, "GET", "/arize_phoenix_version").text == "20.8.0"
    # every sessions method checks it first; this one needs >= 13.5.0
    assert phoenix(server).sessions.get(session_id="conv-1")["session_id"] == "conv-1"


def test_sessions_get_list_and_dataframe(server: Server) -> None:
    client = phoenix(server)
    s = client.sessions.get(session_id="conv-1")
    assert [s["session_id"], len(s["traces"]), s["token_count_total"]] == ["conv-1", 3, 45]
    assert (s["token_count_prompt"], s["token_count_completion"]) == (30, 15)
    # its opaque id and its project's id name it too
    assert client.sessions.get(session_id=s["id"]) == s
    listed = client.sessions.list(project_id=s["project_id"])
    assert sorted(x["session_id"] for x in listed) == ["conv-1", "conv-2", "shared"]
    assert client.sessions.list(project_name="support-bot", limit=2)[1]["id"] in {x["id"] for x in listed}
    df = client.sessions.get_sessions_dataframe(project_name="support-bot")
    assert list(df.columns) == ["id", "session_id", "project_id", "start_time", "end_time", "num_traces"]
    assert dict(zip(df.session_id, df.num_traces)) == {"conv-1": 3, "conv-2": 2, "shared": 1}

    # a session id in two projects: 409 naming both; its id still reaches each
    code, detail = status_of(lambda: client.sessions.get(session_id="shared"))
    assert code == 409 and "billing" in detail and "support-bot" in detail, detail
    billing = {x["session_id"]: x for x in client.sessions.list(project_name="billing")}
    assert client.sessions.get(session_id=billing["shared"]["id"])["traces"] == billing["shared"]["traces"]
    assert status_of(lambda: client.sessions.get(session_id="nope"))[0] == 404


def test_session_turns(server: Server) -> None:
    turns = phoenix(server).sessions.get_session_turns(session_id="conv-1")
    assert [(t["input"]["value"], t["output"]["value"]) for t in turns] == [
        ("My invoice is wrong", "Let me check your invoice"),
        ("It shows last month", "Fixed: here is the new one"),
        ("Thanks", "You're welcome"),
    ]
    root = turns[0]["root_span"]
    assert root["parent_id"] is None and root["span_kind"] == "CHAIN"
    assert root["attributes"]["session.id"] == "conv-1"


def test_annotations_logged_show_on_our_session(server: Server) -> None:
    client = phoenix(server)
    one = client.sessions.add_session_annotation(
        session_id="conv-1",
        annotation_name="goal_completion",
        annotator_kind="LLM",
        label="met",
        score=1.0,
        explanation="solved in three turns",
        metadata={"judge": "gpt-4o"},
        sync=True,
    )
    assert one is not None and one["id"]
    # sync=False is accepted; the verdict is stored all the same
    client.sessions.add_session_annotation(
        session_id="conv-2", annotation_name="goal_completion", label="missed"
    )
    client.sessions.log_session_annotations(
        session_annotations=[
            {"session_id": "conv-1", "name": "tone", "annotator_kind": "CODE", "result": {"score": 0.5}},
            {"session_id": "conv-9", "name": "tone", "annotator_kind": "CODE", "result": {"score": 1.0}},
        ],
        sync=True,
    )
    frame = pd.DataFrame({"label": ["polite", "rude"], "score": [1.0, 0.0]}, index=["conv-1", "conv-2"])
    logged = client.sessions.log_session_annotations_dataframe(
        dataframe=frame, annotation_name="politeness", annotator_kind="HUMAN", sync=True
    )
    assert len(logged) == 2

    # our own API (and so the UI) shows them on the session
    ours = server.get("/v1/projects/support-bot/sessions/conv-1")
    assert {a["name"]: a["count"] for a in ours["annotations"]} == {
        "goal_completion": 1,
        "politeness": 1,
        "tone": 1,
    }
    listed = server.get("/v1/projects/support-bot/sessions/conv-1/annotations")["data"]
    goal = next(a for a in listed if a["name"] == "goal_completion")
    assert (goal["label"], goal["score"], goal["annotator_kind"], goal["source"]) == (
        "met",
        1.0,
        "LLM",
        "API",
    )
    assert goal["metadata"] == {"judge": "gpt-4o"}

    # rewriting the same (session, name, identifier) replaces
    client.sessions.add_session_annotation(
        session_id="conv-1", annotation_name="goal_completion", label="partly", sync=True
    )
    summary = server.get("/v1/projects/support-bot/sessions/conv-1")["annotations"]
    assert next(a for a in summary if a["name"] == "goal_completion")["labels"] == {"partly": 1}

    # Phoenix's list of a project's annotations, in Phoenix's form
    page = raw(
        server,
        "GET",
        "/v1/projects/support-bot/session_annotations",
        params={
            "session_ids": ["conv-1", "conv-2"],
            "include_annotation_names": ["goal_completion", "politeness"],
        },
    ).json()
    rows = page["data"]
    assert len(rows) == 4 and page["next_cursor"] is None
    row = next(r for r in rows if r["session_id"] == "conv-1" and r["name"] == "goal_completion")
    assert row["result"] == {"label": "partly", "score": None, "explanation": None}
    assert {"id", "identifier", "source", "user_id", "created_at", "updated_at"} <= row.keys()
    first = raw(
        server,
        "GET",
        "/v1/projects/support-bot/session_annotations",
        params={"session_ids": "conv-1", "limit": 1},
    )
    assert first.json()["next_cursor"]

    # bad input: Phoenix-shaped answers naming the problem, nothing stored
    bad = {"session_id": "conv-1", "name": "note", "annotator_kind": "HUMAN", "result": {"label": "x"}}
    code, detail = status_of(
        lambda: client.sessions.log_session_annotations(session_annotations=[bad], sync=True)
    )
    assert code == 400 and "session_notes" in detail
    missing = {"session_id": "nope", "name": "tone", "annotator_kind": "HUMAN", "result": {"label": "x"}}
    code, detail = status_of(
        lambda: client.sessions.log_session_annotations(
            session_annotations=[bad | {"name": "ok"}, missing], sync=True
        )
    )
    assert code == 404 and "nope" in detail
    ambiguous = missing | {"session_id": "shared"}
    assert (
        status_of(lambda: client.sessions.log_session_annotations(session_annotations=[ambiguous]))[0] == 409
    )
    assert "ok" not in {
        a["name"] for a in server.get("/v1/projects/support-bot/sessions/conv-1")["annotations"]
    }

    # Phoenix's bulk delete by filter
    unbounded = raw(server, "DELETE", "/v1/projects/support-bot/session_annotations", params={"name": "tone"})
    assert unbounded.status_code == 400 and "delete_all" in unbounded.json()["detail"]
    gone = raw(
        server,
        "DELETE",
        "/v1/projects/support-bot/session_annotations",
        params={"name": "tone", "delete_all": "true"},
    )
    assert gone.status_code == 204
    names = {a["name"] for a in server.get("/v1/projects/support-bot/sessions/conv-1")["annotations"]}
    assert names == {"goal_completion", "politeness"}
    assert server.get("/v1/projects/billing/sessions/conv-9")["annotations"][0]["name"] == "tone", (
        "another project's stay"
    )


def test_notes_are_appended_and_left_out_of_summaries(server: Server) -> None:
    def note(text: str, **extra: str) -> httpx.Response:
        return raw(
            server,
            "POST",
            "/v1/session_notes",
            json={"data": {"session_id": "conv-2", "note": text, **extra}},
        )

    assert note("called the carrier").status_code == 200
    assert note("customer called back").status_code == 200
    assert note("first draft", identifier="mine").status_code == 200
    assert note("final", identifier="mine").status_code == 200
    notes = [
        a
        for a in server.get("/v1/projects/support-bot/sessions/conv-2/annotations")["data"]
        if a["name"] == "note"
    ]
    assert sorted(n["explanation"] for n in notes) == ["called the carrier", "customer called back", "final"]
    assert all(n["identifier"].startswith("px-session-note:") for n in notes if n["identifier"] != "mine")
    assert server.get("/v1/projects/support-bot/sessions/conv-2")["annotations"] == []
    assert note("   ").status_code == 400
    assert (
        raw(
            server, "POST", "/v1/session_notes", json={"data": {"session_id": "shared", "note": "x"}}
        ).status_code
        == 409
    )


def test_spans_and_traces(server: Server) -> None:
    client = phoenix(server)
    session = client.sessions.get(session_id="conv-1")
    trace_ids = [t["trace_id"] for t in session["traces"]]
    spans = client.spans.get_spans(project_identifier="support-bot", trace_ids=trace_ids)
    assert len(spans) == 6 and {s["context"]["trace_id"] for s in spans} == set(trace_ids)
    llm = client.spans.get_spans(project_identifier=session["project_id"], span_kind="LLM", limit=1000)
    assert len(llm) == 6 and all(s["span_kind"] == "LLM" for s in llm)
    assert "openinference.span.kind" not in llm[0]["attributes"]
    errored = client.spans.get_spans(project_identifier="support-bot", status_code="ERROR")
    assert [s["attributes"]["input.value"] for s in errored] == ["Where is my parcel?"]
    by_attribute = client.spans.get_spans(
        project_identifier="support-bot", attributes={"user.id": "user-2", "openinference.span.kind": "CHAIN"}
    )
    assert sorted(s["attributes"]["input.value"] for s in by_attribute) == ["Hello?", "Where is my parcel?"]
    paged = client.spans.get_spans(project_identifier="support-bot", limit=5)
    assert len(paged) == 5
    with pytest.raises(httpx.HTTPStatusError) as bad:
        client.spans.get_spans(project_identifier="support-bot", trace_ids=["not-hex"])
    assert bad.value.response.status_code == 400 and "trace_id" in bad.value.response.json()["detail"]

    traces = client.traces.get_traces(
        project_identifier="support-bot", session_id="conv-1", include_spans=True
    )
    assert sorted(t["trace_id"] for t in traces) == sorted(trace_ids)
    assert all(len(t["spans"]) == 2 and t["token_count_total"] == 15 for t in traces)
    both = client.traces.get_traces(
        project_identifier="support-bot", session_id=["conv-1", session["id"], "conv-2"]
    )
    assert len(both) == 5
    failed = client.traces.get_traces(project_identifier="support-bot", error=True)
    assert len(failed) == 1
    slowest_first = client.traces.get_traces(
        project_identifier="support-bot", sort="latency_ms", order="desc", limit=2
    )
    assert len(slowest_first) == 2
    everything = client.traces.get_traces(project_identifier="support-bot", limit=1000, min_latency_ms=0)
    assert len(everything) == 6


def test_delete_and_bulk_delete(server: Server) -> None:
    client = phoenix(server)
    by_id = {s["session_id"]: s for s in client.sessions.list(project_name="support-bot")}
    client.sessions.delete(session_id=by_id["conv-2"]["id"])
    # mixed kinds, and a name in two projects, are refused; nothing is lost
    assert (
        status_of(lambda: client.sessions.bulk_delete(session_ids=["conv-1", by_id["shared"]["id"]]))[0]
        == 400
    )
    code, detail = status_of(lambda: client.sessions.bulk_delete(session_ids=["conv-1", "shared"]))
    assert code == 409 and "billing" in detail
    assert server.get("/v1/projects/support-bot/sessions/conv-1")["num_traces"] == 3
    client.sessions.bulk_delete(session_ids=["conv-1", "conv-9", "never-was"])
    client.sessions.delete(session_id=by_id["shared"]["id"])
    assert client.sessions.list(project_name="support-bot") == []
    assert [s["session_id"] for s in client.sessions.list(project_name="billing")] == ["shared"]
    assert status_of(lambda: client.sessions.delete(session_id="conv-1"))[0] == 404


def test_projects(server: Server) -> None:
    client = phoenix(server)
    assert [p["name"] for p in client.projects.list()] == ["billing", "support-bot"]
    assert [p["name"] for p in client.projects.list(name_contains="BILL")] == ["billing"]
    support = client.projects.get(project_name="support-bot")
    assert client.projects.get(project_id=support["id"]) == support
    created = client.projects.create(name="evals", description="offline runs")
    assert (created["name"], created["description"]) == ("evals", "offline runs")
    assert client.projects.update(project_id=created["id"], description="nightly")["description"] == "nightly"
    assert status_of(lambda: client.projects.create(name="evals"))[0] == 409
    client.projects.delete(project_name="billing")
    assert [p["name"] for p in client.projects.list()] == ["evals", "support-bot"]
    assert status_of(lambda: client.sessions.get(session_id="conv-9"))[0] == 404
    # the shared session id is unambiguous now
    assert client.sessions.get(session_id="shared")["project_id"] == support["id"]
    assert raw(server, "DELETE", "/v1/projects/default").status_code == 403
    # our project list rejects what it does not know, like every route
    unknown = raw(server, "GET", "/v1/projects", params={"nmae_contains": "x"})
    assert unknown.status_code == 400 and unknown.json()["error"]["parameter"] == "nmae_contains"
