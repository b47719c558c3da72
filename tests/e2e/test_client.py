"""The Python API client against the real server."""

from __future__ import annotations

import pytest
from oi_server import Server
from openinference.instrumentation.session import register, using_attributes
from openinference.instrumentation.session.client import SessionsAPIError, SessionsClient


def send_sessions(server: Server, sessions: dict[str, int], project: str = "client-app") -> None:
    provider = register(
        endpoint=f"{server.http}/v1/traces",
        project_name=project,
        batch=False,
        set_global_tracer_provider=False,
    )
    tracer = provider.get_tracer("client")
    for i, (session_id, turns) in enumerate(sessions.items()):
        with using_attributes(
            session_id=session_id, user_id=f"user-{i % 2}", metadata={"plan": "pro" if i else "free"}
        ):
            for turn in range(turns):
                with tracer.start_as_current_span("turn") as span:
                    span.set_attribute("input.value", f"{session_id} question {turn}")
                    span.set_attribute("output.value", f"{session_id} answer {turn}")
    provider.shutdown()


def test_list_get_turns_delete(server: Server) -> None:
    send_sessions(server, {"a": 1, "b": 2, "c": 3})
    client = SessionsClient(server.http)
    assert [p["name"] for p in client.list_projects()] == ["client-app"]

    everything = list(client.iter_sessions("client-app", page_size=1, sort="num_traces", order="asc"))
    assert [s["session_id"] for s in everything] == ["a", "b", "c"]
    page = client.list_sessions("client-app", limit=2)
    assert len(page["data"]) == 2 and page["next_cursor"]
    assert [s["session_id"] for s in client.iter_sessions("client-app", user_id="user-1")] == ["b"]
    assert {s["session_id"] for s in client.iter_sessions("client-app", metadata={"plan": "pro"})} == {
        "b",
        "c",
    }

    turns = client.get_turns("client-app", "c", page_size=2)
    assert [t["input"]["value"] for t in turns] == [f"c question {i}" for i in range(3)]
    trace = client.get_trace("client-app", turns[0]["trace_id"])
    assert len(trace["spans"]) == 1
    assert len(client.list_traces("client-app", session_id="c")) == 3

    client.delete_session("client-app", "c")
    with pytest.raises(SessionsAPIError) as missing:
        client.get_session("client-app", "c")
    assert missing.value.status == 404


def test_errors_carry_the_servers_code_and_parameter(server: Server) -> None:
    client = SessionsClient(server.http)
    send_sessions(server, {"x": 1})
    with pytest.raises(SessionsAPIError) as bad:
        client.list_sessions("client-app", sort="nonsense")
    assert bad.value.status == 400
    assert bad.value.parameter == "sort"
    with pytest.raises(SessionsAPIError) as unreachable:
        SessionsClient("http://127.0.0.1:9", timeout=2).list_projects()
    assert unreachable.value.status == 0
