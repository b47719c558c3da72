"""Test infrastructure for the framework corpus: a fake model and an OTLP recorder.

    python harness.py record NAME FIXTURE_DIR [--no-tokens] -- CMD...
    python harness.py run NAME OTLP_URL -- CMD...

Both start a fake model on 127.0.0.1:0 that answers OpenAI's
`/v1/chat/completions` and `/v1/responses` and Anthropic's `/v1/messages`
deterministically from conversation.json (the answer is picked by the user's
last message; a tool call first when the request offers a tool and the turn
calls for one), then run CMD (one chat app) with its clients and exporters
pointed there through the environment.

`record` also starts an OTLP/HTTP receiver on 127.0.0.1:0 (`/v1/traces`,
`/v1/logs`, protobuf) and writes what the app exported, converted to OTLP JSON
by `google.protobuf.json_format` (ids turned into hex, as OTLP JSON has them),
into FIXTURE_DIR/traces.json and logs.json (JSON arrays of export requests, in
arrival order; order.json says how the two interleaved), and expected.json: the
turns a person should read, from the questions the app asked and what the fake
model answered (tokens: the usage it returned, summed per turn; null with
--no-tokens, for a framework that reports none). `run` sends the app's OTLP to
OTLP_URL instead (a real oi-sessions).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

HERE = Path(__file__).resolve().parent
CONVERSATION = json.loads((HERE / "conversation.json").read_text())
QUESTIONS = CONVERSATION["questions"]
TOOL = CONVERSATION["tool"]


# --- the fake model -------------------------------------------------------


def _text(content) -> str:
    """The text of a message's content: a string, or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") in ("text", "input_text", "output_text")
        )
    return ""


class Model:
    """Answers from conversation.json and remembers every call, per question."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[dict] = []  # {"question": i, "tool": name | None, "prompt": n, "completion": n}

    def decide(
        self, user_text: str, tool_offered: str | None, tool_answered: bool, prompt_words: int
    ) -> dict:
        """What to answer: {"question", "tool" (name to call, or None), "text", "prompt", "completion"}."""
        lowered = user_text.lower()
        for i, entry in enumerate(CONVERSATION["answers"]):
            if entry["when"] in lowered:
                break
        else:
            raise ValueError(f"no answer for user message {user_text!r}")
        call_tool = tool_offered if entry.get("tool_call") and tool_offered and not tool_answered else None
        text = "" if call_tool else entry["answer"]
        decision = {
            "question": i,
            "tool": call_tool,
            "arguments": json.dumps(entry.get("tool_call") or {}),
            "text": text,
            "prompt": 20 + prompt_words,
            "completion": 9 if call_tool else len(text.split()),
        }
        with self.lock:
            decision["n"] = len(self.calls) + 1
            self.calls.append(decision)
        return decision

    def chat_completions(self, req: dict) -> dict:
        messages = req.get("messages") or []
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        tools = [t["function"]["name"] for t in req.get("tools") or [] if t.get("type") == "function"]
        d = self.decide(
            _text(messages[last_user]["content"]) if last_user >= 0 else "",
            tools[0] if tools else None,
            any(m.get("role") == "tool" for m in messages[last_user + 1 :]),
            sum(len(_text(m.get("content")).split()) for m in messages),
        )
        message: dict = {"role": "assistant", "content": d["text"] or None, "refusal": None}
        if d["tool"]:
            message["tool_calls"] = [
                {
                    "id": f"call_{d['n']}",
                    "type": "function",
                    "function": {"name": d["tool"], "arguments": d["arguments"]},
                }
            ]
        return {
            "id": f"chatcmpl-{d['n']}",
            "object": "chat.completion",
            "created": 1790000000 + d["n"],
            "model": req.get("model", "gpt-4o-mini"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": "tool_calls" if d["tool"] else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": d["prompt"],
                "completion_tokens": d["completion"],
                "total_tokens": d["prompt"] + d["completion"],
            },
            "system_fingerprint": "fp_fake",
        }

    def responses(self, req: dict) -> dict:
        items = req.get("input")
        items = [{"role": "user", "content": items}] if isinstance(items, str) else items or []
        last_user = max((i for i, m in enumerate(items) if m.get("role") == "user"), default=-1)
        tools = [t["name"] for t in req.get("tools") or [] if t.get("type") == "function"]
        d = self.decide(
            _text(items[last_user]["content"]) if last_user >= 0 else "",
            tools[0] if tools else None,
            any(m.get("type") == "function_call_output" for m in items[last_user + 1 :]),
            sum(len(_text(m.get("content")).split()) for m in items),
        )
        if d["tool"]:
            output = [
                {
                    "type": "function_call",
                    "id": f"fc_{d['n']}",
                    "call_id": f"call_{d['n']}",
                    "name": d["tool"],
                    "arguments": d["arguments"],
                    "status": "completed",
                }
            ]
        else:
            output = [
                {
                    "type": "message",
                    "id": f"msg_{d['n']}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": d["text"], "annotations": []}],
                }
            ]
        return {
            "id": f"resp_{d['n']}",
            "object": "response",
            "created_at": 1790000000 + d["n"],
            "status": "completed",
            "model": req.get("model", "gpt-4o-mini"),
            "instructions": req.get("instructions"),
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": req.get("tools") or [],
            "temperature": 1.0,
            "top_p": 1.0,
            "error": None,
            "incomplete_details": None,
            "metadata": {},
            "usage": {
                "input_tokens": d["prompt"],
                "output_tokens": d["completion"],
                "total_tokens": d["prompt"] + d["completion"],
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def messages(self, req: dict) -> dict:
        """Anthropic's Messages API."""
        messages = req.get("messages") or []

        def is_question(m: dict) -> bool:
            return m.get("role") == "user" and bool(_text(m.get("content")).strip())

        last_user = max((i for i, m in enumerate(messages) if is_question(m)), default=-1)
        tools = [t["name"] for t in req.get("tools") or [] if "name" in t]
        answered = any(
            isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
            for m in messages[last_user + 1 :]
        )
        d = self.decide(
            _text(messages[last_user]["content"]) if last_user >= 0 else "",
            tools[0] if tools else None,
            answered,
            sum(len(_text(m.get("content")).split()) for m in messages),
        )
        if d["tool"]:
            content = [
                {
                    "type": "tool_use",
                    "id": f"toolu_{d['n']}",
                    "name": d["tool"],
                    "input": json.loads(d["arguments"]),
                }
            ]
        else:
            content = [{"type": "text", "text": d["text"]}]
        return {
            "id": f"msg_{d['n']}",
            "type": "message",
            "role": "assistant",
            "model": req.get("model", "claude-sonnet-4-5"),
            "content": content,
            "stop_reason": "tool_use" if d["tool"] else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": d["prompt"], "output_tokens": d["completion"]},
        }


def chat_completion_chunks(response: dict, include_usage: bool) -> list[dict]:
    """A chat completion as the chunks of a stream: the role, the text in two
    pieces or the tool call's name then its arguments, the finish reason, then
    the usage when the request asked for it."""
    message, choice = response["choices"][0]["message"], response["choices"][0]
    deltas: list[dict] = [{"role": "assistant", "content": ""}]
    if message.get("tool_calls"):
        call = message["tool_calls"][0]
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        deltas.append(
            {"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]}
        )
    else:
        words = message["content"].split(" ")
        half = len(words) // 2
        deltas += [{"content": " ".join(words[:half]) + " "}, {"content": " ".join(words[half:])}]
    head = {k: response[k] for k in ("id", "created", "model", "system_fingerprint")}
    chunks = [
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}],
        }
        for d in deltas
    ]
    chunks.append(
        {
            **head,
            "object": "chat.completion.chunk",
            "choices": [
                {"index": 0, "delta": {}, "logprobs": None, "finish_reason": choice["finish_reason"]}
            ],
        }
    )
    if include_usage:
        chunks.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": response["usage"]})
    return chunks


# --- the OTLP recorder ----------------------------------------------------

ID_KEYS = {"traceId", "spanId", "parentSpanId"}


def _hex_ids(obj):
    """json_format writes bytes as base64; OTLP JSON has trace and span ids in hex."""
    if isinstance(obj, dict):
        return {
            k: base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else _hex_ids(v)
            for k, v in obj.items()
        }
    if isinstance(obj, list):
        return [_hex_ids(v) for v in obj]
    return obj


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.exports: list[tuple[str, dict]] = []  # ("traces" | "logs", OTLP JSON), in arrival order

    def record(self, signal: str, body: bytes) -> bytes:
        request, response = (
            (ExportTraceServiceRequest(), ExportTraceServiceResponse())
            if signal == "traces"
            else (ExportLogsServiceRequest(), ExportLogsServiceResponse())
        )
        request.ParseFromString(body)
        with self.lock:
            self.exports.append((signal, _hex_ids(json_format.MessageToDict(request))))
        return response.SerializeToString()

    def write(self, out: Path) -> None:
        out.mkdir(parents=True, exist_ok=True)
        for signal in ("traces", "logs"):
            requests = [r for s, r in self.exports if s == signal]
            path = out / f"{signal}.json"
            if requests:
                path.write_text(json.dumps(requests, indent=1, ensure_ascii=False) + "\n")
            elif path.exists():
                path.unlink()
        order = out / "order.json"
        if any(s == "logs" for s, _ in self.exports):
            order.write_text(json.dumps([s for s, _ in self.exports]) + "\n")
        elif order.exists():
            order.unlink()


# --- HTTP -------------------------------------------------------------------


def serve(model: Model, recorder: Recorder | None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.body()
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            path = self.path.split("?")[0]
            try:
                if path in ("/v1/traces", "/v1/logs") and recorder is not None:
                    return self.answer(200, recorder.record(path[4:], body), "application/x-protobuf")
                req = json.loads(body)
                route = {
                    "/v1/chat/completions": model.chat_completions,
                    "/chat/completions": model.chat_completions,
                    "/v1/responses": model.responses,
                    "/responses": model.responses,
                    "/v1/messages": model.messages,
                }.get(path)
                if route is None:
                    return self.answer(404, b'{"error": {"message": "not faked"}}')
                if req.get("stream") and route != model.chat_completions:
                    raise ValueError("streaming is faked for chat completions only")
                response = route(req)
                if not req.get("stream"):
                    return self.answer(200, json.dumps(response).encode())
                include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
                if not include_usage:
                    model.calls[-1]["usage_sent"] = False
                chunks = chat_completion_chunks(response, include_usage)
                self.answer(
                    200,
                    "".join(f"data: {json.dumps(c)}\n\n" for c in chunks).encode() + b"data: [DONE]\n\n",
                    "text/event-stream",
                )
            except (ValueError, KeyError, IndexError, TypeError) as e:  # the app sees a 400, the log says why
                print(f"harness: {path}: {e}", file=sys.stderr)
                self.answer(
                    400, json.dumps({"error": {"message": str(e), "type": "invalid_request_error"}}).encode()
                )

        def body(self) -> bytes:
            if "chunked" not in (self.headers.get("transfer-encoding") or ""):
                return self.rfile.read(int(self.headers.get("content-length") or 0))
            body = b""  # Node's http client sends a body of unknown length in chunks
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body

        def answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def expected(model: Model, name: str, tokens: bool) -> dict:
    turns = []
    for i, question in enumerate(QUESTIONS):
        calls = [c for c in model.calls if c["question"] == i]
        if not calls:
            raise SystemExit(f"harness: the app never asked {question!r}")
        # usage the fake model never sent (a stream without include_usage) cannot be reported
        sent = [c for c in calls if c.get("usage_sent", True)]
        prompt = sum(c["prompt"] for c in sent)
        completion = sum(c["completion"] for c in sent)
        turns.append(
            {
                "input": question,
                "output": calls[-1]["text"],
                "tools": [c["tool"] for c in calls if c["tool"]],
                "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion}
                if tokens and sent
                else None,
            }
        )
    return {
        "project": project(name),
        "session_id": session_id(name),
        "user_id": CONVERSATION["user_id"],
        "turns": turns,
    }


def project(name: str) -> str:
    return f"parcel-{name}"


def session_id(name: str) -> str:
    return f"{name}-conv-1"


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 3 or argv[0] not in ("record", "run"):
        print(__doc__, file=sys.stderr)
        return 2
    sep = argv.index("--")
    args, cmd = argv[:sep], argv[sep + 1 :]
    mode, name, target = args[0], args[1], args[2]
    model = Model()
    recorder = Recorder() if mode == "record" else None
    server = serve(model, recorder)
    base = f"http://127.0.0.1:{server.server_port}"
    otlp = base if mode == "record" else target.rstrip("/")
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OPENAI_BASE_URL": f"{base}/v1",
        "OPENAI_API_KEY": "sk-fake",
        "ANTHROPIC_BASE_URL": base,
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "OI_PROJECT": project(name),
        "OI_SESSION_ID": session_id(name),
        "OI_USER_ID": CONVERSATION["user_id"],
    }
    code = subprocess.call(cmd, env=env)
    server.shutdown()
    if code != 0:
        print(f"harness: {name}: the app exited with {code}", file=sys.stderr)
        return code
    if recorder is not None:
        out = Path(target)
        recorder.write(out)
        (out / "expected.json").write_text(
            json.dumps(expected(model, name, "--no-tokens" not in args), indent=2, ensure_ascii=False) + "\n"
        )
        counts = {s: sum(1 for x, _ in recorder.exports if x == s) for s in ("traces", "logs")}
        print(
            f"harness: {name}: {counts['traces']} trace and {counts['logs']} log exports, {len(model.calls)} model calls"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
