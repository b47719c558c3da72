"""A multi-turn support chat, traced with sessions.

Every user turn is one trace: an app-level CHAIN span (the turn) around an LLM
span (and, when the assistant looks something up, a TOOL span). The whole
conversation shares one session id, so a sessions server shows it as one
back-and-forth.

    python examples/python-chat/chat.py                # exports OTLP/HTTP to $OI_SESSIONS_ENDPOINT
    python examples/python-chat/chat.py --console      # prints the spans instead

The assistant is a small deterministic stand-in for an LLM (this example must
run without network access or API keys); the tracing is what a real app does.
"""

from __future__ import annotations

import argparse
import json
import os
import uuid

from openinference.instrumentation.session import (
    SessionSpanProcessor,
    register,
    using_attributes,
    using_session,
)
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

MODEL = "gpt-4o-mini"
SYSTEM_PROMPT = "You are the billing assistant of Example Corp. Be brief."
CONVERSATION = [
    "My invoice shows the wrong VAT number",
    "Can you resend it to billing@example.com?",
    "Thanks, that worked",
]


def tokens(text: str) -> int:
    """A rough token count (about four characters per token)."""
    return max(1, len(text) // 4)


def assistant_reply(question: str) -> tuple[str, str | None]:
    """The stand-in LLM: a reply, and the tool it consulted, if any."""
    q = question.lower()
    if "vat" in q:
        return "I corrected the VAT number on invoice INV-1042 to EU372000041.", "lookup_invoice"
    if "resend" in q or "@" in q:
        return "Done: invoice INV-1042 was sent to billing@example.com.", "send_invoice"
    return "Glad it worked. Anything else I can help with?", None


def run_turn(tracer: trace.Tracer, history: list[dict[str, str]], question: str) -> str:
    with tracer.start_as_current_span("chat-turn") as turn:
        turn.set_attribute("openinference.span.kind", "CHAIN")
        turn.set_attribute("input.value", question)
        history.append({"role": "user", "content": question})
        reply, tool = assistant_reply(question)
        if tool is not None:
            with tracer.start_as_current_span(tool) as tool_span:
                tool_span.set_attribute("openinference.span.kind", "TOOL")
                tool_span.set_attribute("tool.name", tool)
                tool_span.set_attribute("input.value", json.dumps({"invoice": "INV-1042"}))
                tool_span.set_attribute("output.value", json.dumps({"status": "ok"}))
        with tracer.start_as_current_span("ChatCompletion") as llm:
            llm.set_attribute("openinference.span.kind", "LLM")
            llm.set_attribute("llm.model_name", MODEL)
            messages = [{"role": "system", "content": SYSTEM_PROMPT}, *history]
            for i, message in enumerate(messages):
                llm.set_attribute(f"llm.input_messages.{i}.message.role", message["role"])
                llm.set_attribute(f"llm.input_messages.{i}.message.content", message["content"])
            llm.set_attribute("llm.output_messages.0.message.role", "assistant")
            llm.set_attribute("llm.output_messages.0.message.content", reply)
            llm.set_attribute("input.value", json.dumps({"model": MODEL, "messages": messages}))
            llm.set_attribute("input.mime_type", "application/json")
            llm.set_attribute("output.value", reply)
            prompt = sum(tokens(m["content"]) for m in messages)
            completion = tokens(reply)
            llm.set_attribute("llm.token_count.prompt", prompt)
            llm.set_attribute("llm.token_count.completion", completion)
            llm.set_attribute("llm.token_count.total", prompt + completion)
        history.append({"role": "assistant", "content": reply})
        turn.set_attribute("output.value", reply)
        return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--console", action="store_true", help="print spans instead of exporting them")
    parser.add_argument("--session-id", default=None, help="default: a new id per run")
    parser.add_argument("--project", default=os.environ.get("OI_SESSIONS_PROJECT", "support-bot"))
    args = parser.parse_args()

    if args.console:
        provider = TracerProvider(resource=Resource.create({"service.name": args.project}))
        provider.add_span_processor(SessionSpanProcessor())
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    else:
        provider = register(project_name=args.project, set_global_tracer_provider=False)
    tracer = provider.get_tracer("python-chat")

    session_id = args.session_id or f"chat-{uuid.uuid4().hex[:12]}"
    history: list[dict[str, str]] = []
    with (
        using_session(session_id),
        using_attributes(user_id="user-42", metadata={"plan": "pro", "channel": "web"}, tags=["billing"]),
    ):
        for question in CONVERSATION:
            reply = run_turn(tracer, history, question)
            print(f"user:      {question}\nassistant: {reply}")
    provider.shutdown()  # flushes the exporter
    print(f"session {session_id}: {len(CONVERSATION)} turns sent")


if __name__ == "__main__":
    main()
