"""Fills an oi-sessions server with sessions for the browser tests, through the
real Python package and the real OTLP exporter.

    python fill.py <endpoint> <repo root>
"""

from __future__ import annotations

import subprocess
import sys

from openinference.instrumentation.session import register, using_attributes
from openinference.instrumentation.session.client import SessionsClient
from openinference.instrumentation.session.evals import error_free, evaluate_sessions
from opentelemetry.trace import Status, StatusCode

endpoint, repo = sys.argv[1], sys.argv[2]

# the example chat app, as a user would run it
subprocess.run(
    [sys.executable, f"{repo}/examples/python-chat/chat.py", "--session-id", "browser-chat"],
    check=True,
    env={"OI_SESSIONS_ENDPOINT": endpoint, "PATH": ""},
    capture_output=True,
)

provider = register(endpoint=endpoint, project_name="support-bot", set_global_tracer_provider=False)
tracer = provider.get_tracer("fill")


def turn(question: str, answer: str, *, error: bool = False) -> None:
    with tracer.start_as_current_span("chat-turn") as span:
        span.set_attribute("openinference.span.kind", "CHAIN")
        span.set_attribute("input.value", question)
        with tracer.start_as_current_span("ChatCompletion") as llm:
            llm.set_attribute("openinference.span.kind", "LLM")
            llm.set_attribute("llm.model_name", "gpt-4o-mini")
            llm.set_attribute("llm.token_count.prompt", 10 + len(question) // 4)
            llm.set_attribute("llm.token_count.completion", 5 + len(answer) // 4)
            if error:
                llm.set_status(Status(StatusCode.ERROR, "upstream timeout"))
                span.set_status(Status(StatusCode.ERROR, "upstream timeout"))
        span.set_attribute("output.value", answer)


topics = ["parcel", "refund", "password", "invoice", "address"]
for i in range(40):
    topic = topics[i % len(topics)]
    with using_attributes(
        session_id=f"s-{i:03d}",
        user_id=f"user-{i % 4}",
        tags=["vip"] if i % 10 == 0 else ["standard"],
        metadata={"plan": "pro" if i % 3 == 0 else "free"},
    ):
        for t in range(1 + i % 5):
            turn(f"Question {t} about my {topic} (session {i})", f"Answer {t} about the {topic}.")

with using_attributes(session_id="s-error", user_id="user-9"):
    turn("Why is this slow?", "Sorry, something went wrong.", error=True)

with using_attributes(session_id="s-xss", user_id="mallory"):
    turn(
        "Show me some HTML",
        'Here you go: <script>window.__xss = 1</script> <img src=x onerror="window.__xss = 2"> '
        "and a [link](javascript:window.__xss=3) and **bold text**",
    )

# a long conversation: 1,000 turns
with using_attributes(session_id="s-long", user_id="user-long"):
    for t in range(1000):
        with tracer.start_as_current_span("chat-turn") as span:
            span.set_attribute("input.value", f"long question {t:04d}")
            span.set_attribute("output.value", f"long answer {t:04d}")

provider.shutdown()  # the batch exporter has flushed and the server answered: all committed

# verdicts from a code evaluator, as an evaluation run stores them
client = SessionsClient(endpoint.rsplit("/v1/traces", 1)[0])
sessions = client.list_sessions("support-bot", limit=100)["data"]
assert len(sessions) == 44, f"{len(sessions)} sessions stored, 44 sent"
evaluate_sessions(client, "support-bot", error_free, name="error_free", session_ids=["s-error", "s-001"])
