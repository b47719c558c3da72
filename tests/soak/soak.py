"""Soak test: a real `oi-sessions` under mixed load for a while, killed with
SIGKILL and restarted on its data every few seconds, then checked: every span
it acknowledged is there, and what it says of its sessions is consistent.

    scripts/soak.sh [seconds]        # default 120; OI_SESSIONS_BIN picks the binary

Load, all at once: writers export 3-span traces (in 1-3 requests each, the root
sometimes last) into sessions they own; readers list, page, search, read turns
and traces; an annotator writes annotations; a deleter deletes sessions the
writers are done with (half of them); every few seconds the server is killed with SIGKILL and
restarted on the same data directory. What counts as acknowledged is what was
answered 200; a request cut off by the kill is not (the exporter would send it
again, and a re-sent span is stored once, so the writers resend it).

At the end, with the server up: every acknowledged span of a session not
deleted is in its trace, its answer read back as sent (compressed, after the
first seconds, with the dictionary the server trained and stored between two
kills); no deleted session comes back; every session's
`num_traces` equals its turns; every acknowledged annotation is there.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

REPO = Path(__file__).resolve().parents[2]
BIN = os.environ.get("OI_SESSIONS_BIN", str(REPO / "target/release/oi-sessions"))
PROJECT = "soak"


class Server:
    """The server, restartable on the same data directory."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[str] | None = None
        self.base = ""
        self.start()

    def start(self) -> None:
        # the child keeps its own copy of the log's descriptor; ours closes here
        with open(self.data / "server.log", "a") as log:
            proc = subprocess.Popen(
                [
                    BIN,
                    "serve",
                    "--http-addr",
                    "127.0.0.1:0",
                    "--grpc-addr",
                    "off",
                    "--data-dir",
                    str(self.data),
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.match(r"oi-sessions listening http=(\S+)", line)
        if not match:
            raise SystemExit(f"the server did not start: {line!r}; see {self.data / 'server.log'}")
        self.proc, self.base = proc, f"http://{match.group(1)}"

    def kill_and_restart(self) -> None:
        with self.lock:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.start()

    def request(self, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"):
        """(status, body) or (0, b"") when the server was down or cut off."""
        url = self.base + path
        req = urllib.request.Request(url, data=body, method=method, headers={"content-type": ctype})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (OSError, urllib.error.URLError):
            return 0, b""

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


def span(trace: bytes, span_id: int, parent: int | None, session: str, start: int) -> trace_pb2.Span:
    s = trace_pb2.Span(
        trace_id=trace,
        span_id=span_id.to_bytes(8, "big"),
        name=f"span-{span_id}",
        start_time_unix_nano=start,
        end_time_unix_nano=start + 1_000_000,
    )
    if parent is not None:
        s.parent_span_id = parent.to_bytes(8, "big")
    s.attributes.add(key="session.id", value=common_pb2.AnyValue(string_value=session))
    s.attributes.add(key="input.value", value=common_pb2.AnyValue(string_value=f"question {start}"))
    s.attributes.add(key="output.value", value=common_pb2.AnyValue(string_value=answer(trace.hex(), span_id)))
    return s


def answer(trace: str, span_id: int) -> str:
    """A span's answer, a few hundred bytes worked out from its ids: the checker
    compares it, and the server compresses enough of them in a few seconds to
    train and store a compression dictionary before the next kill."""
    n = int(trace[:8], 16) ^ span_id
    return " ".join(
        f"Parcel {n % 10007 + i} of order {trace[i : i + 6]} left depot {n % 97 + i} on day {n % 28 + 1}."
        for i in range(8)
    )


def export(spans: list[trace_pb2.Span]) -> bytes:
    resource = resource_pb2.Resource(
        attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value=PROJECT))]
    )
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(resource=resource, scope_spans=[trace_pb2.ScopeSpans(spans=spans)])
        ]
    ).SerializeToString()


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked: dict[str, dict[str, set[str]]] = {}  # session -> trace hex -> span hex
        self.done: list[str] = []  # sessions no writer adds to any more
        self.deleted: set[str] = set()
        # session -> the labels any of which may be stored: the acknowledged
        # one, and any sent after it whose answer the kill cut off (the
        # server may have committed it before dying)
        self.annotations: dict[str, set[str]] = {}
        self.counts: dict[str, int] = {}

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1


def writer(server: Server, state: State, n: int, stop: threading.Event) -> None:
    rng = random.Random(n)
    trace_no = 0
    while not stop.is_set():
        session = f"w{n}-s{trace_no // 5}"
        trace_no += 1
        trace = rng.randbytes(16)
        start = 1_790_000_000_000_000_000 + trace_no * 10_000_000
        spans = [
            span(trace, 1, None, session, start),
            span(trace, 2, 1, session, start + 1),
            span(trace, 3, 2, session, start + 2),
        ]
        rng.shuffle(spans)  # the root may come last
        cut = sorted(rng.sample(range(1, 3), rng.randint(0, 2)))
        for chunk in [spans[a:b] for a, b in zip([0, *cut], [*cut, 3]) if a < b]:
            while not stop.is_set():  # resend until acknowledged, as exporters do
                status, _ = server.request("POST", "/v1/traces", export(chunk), "application/x-protobuf")
                state.count(f"export {status}")
                if status == 200:
                    with state.lock:
                        traces = state.acked.setdefault(session, {})
                        traces.setdefault(trace.hex(), set()).update(s.span_id.hex() for s in chunk)
                    break
                time.sleep(0.05)
        if trace_no % 5 == 0:
            with state.lock:
                state.done.append(session)


def reader(server: Server, state: State, stop: threading.Event) -> None:
    rng = random.Random(99)
    while not stop.is_set():
        path = rng.choice(
            [
                f"/v1/projects/{PROJECT}/sessions?limit=20&sort=num_traces",
                f"/v1/projects/{PROJECT}/sessions?q=question&limit=5",
                f"/v1/projects/{PROJECT}/traces?limit=10",
            ]
        )
        status, body = server.request("GET", path)
        state.count(f"read {status}")
        if status == 200 and "sessions?" in path:
            data = json.loads(body)["data"]
            if data:
                sid = urllib.request.quote(data[0]["session_id"], safe="")
                state.count(
                    f"turns {server.request('GET', f'/v1/projects/{PROJECT}/sessions/{sid}/turns')[0]}"
                )


def annotator(server: Server, state: State, stop: threading.Event) -> None:
    rng = random.Random(7)
    while not stop.is_set():
        with state.lock:
            candidates = [s for s in state.acked if s not in state.deleted and s not in state.done[:5]]
        if not candidates:
            time.sleep(0.05)
            continue
        session = rng.choice(candidates)
        label = rng.choice(["good", "bad"])
        body = json.dumps({"name": "soak", "label": label}).encode()
        sid = urllib.request.quote(session, safe="")
        status, _ = server.request("POST", f"/v1/projects/{PROJECT}/sessions/{sid}/annotations", body)
        state.count(f"annotate {status}")
        with state.lock:
            if session in state.deleted:
                pass
            elif status == 200:
                state.annotations[session] = {label}
            elif status == 0 and session in state.annotations:
                state.annotations[session].add(label)
        time.sleep(0.02)


def deleter(server: Server, state: State, stop: threading.Event) -> None:
    while not stop.is_set():
        with state.lock:
            session = state.done.pop(0) if len(state.done) > 10 else None
            if session is not None and hash(session) % 2:  # half are kept, to be checked at the end
                session = None
            elif session is not None:
                state.deleted.add(session)  # from now on nobody expects it
                state.annotations.pop(session, None)
        if session is None:
            time.sleep(0.02)
            continue
        sid = urllib.request.quote(session, safe="")
        while not stop.is_set():
            status, _ = server.request("DELETE", f"/v1/projects/{PROJECT}/sessions/{sid}")
            state.count(f"delete {status}")
            if status in (204, 404):
                break
            time.sleep(0.05)


def verify(server: Server, state: State) -> list[str]:
    problems = []
    for session, traces in state.acked.items():
        sid = urllib.request.quote(session, safe="")
        status, body = server.request("GET", f"/v1/projects/{PROJECT}/sessions/{sid}/turns?limit=1000")
        if session in state.deleted:
            if status == 200 and json.loads(body)["data"]:
                problems.append(f"deleted session {session} is back")
            continue
        if status != 200:
            problems.append(f"session {session}: {status}")
            continue
        turns = json.loads(body)["data"]
        _, info = server.request("GET", f"/v1/projects/{PROJECT}/sessions/{sid}")
        if json.loads(info)["num_traces"] != len(turns):
            problems.append(
                f"session {session}: num_traces {json.loads(info)['num_traces']} but {len(turns)} turns"
            )
        for trace, spans in traces.items():
            status, body = server.request("GET", f"/v1/projects/{PROJECT}/traces/{trace}")
            if status != 200:
                problems.append(f"trace {trace} of {session}: {status}")
                continue
            stored = {s["span_id"]: s for s in json.loads(body)["spans"]}
            if missing := spans - stored.keys():
                problems.append(f"trace {trace} of {session}: acknowledged spans missing {sorted(missing)}")
            for span_id in spans & stored.keys():
                got = stored[span_id]["attributes"].get("output.value")
                if got != answer(trace, int(span_id, 16)):
                    problems.append(
                        f"span {span_id} of trace {trace}: output.value reads back as {got!r:.80}"
                    )
    for session, possible in state.annotations.items():
        sid = urllib.request.quote(session, safe="")
        status, body = server.request("GET", f"/v1/projects/{PROJECT}/sessions/{sid}/annotations")
        labels = [a["label"] for a in json.loads(body)["data"]] if status == 200 else []
        if not possible & set(labels):
            problems.append(f"annotation {sorted(possible)} of {session} missing ({status}, {labels})")
    return problems


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
    data = Path(tempfile.mkdtemp(prefix="oi-soak-"))
    server = Server(data)
    state = State()
    stop = threading.Event()
    workers = [threading.Thread(target=writer, args=(server, state, n, stop)) for n in range(4)]
    workers += [threading.Thread(target=f, args=(server, state, stop)) for f in (reader, annotator, deleter)]
    for w in workers:
        w.start()
    deadline = time.monotonic() + seconds
    kills = 0
    while time.monotonic() < deadline:
        time.sleep(min(3.0, max(0.0, deadline - time.monotonic())))
        if time.monotonic() < deadline:
            server.kill_and_restart()
            kills += 1
    stop.set()
    for w in workers:
        w.join()
    problems = verify(server, state)
    spans = sum(len(s) for t in state.acked.values() for s in t.values())
    print(
        f"soak: {seconds:.0f} s, {kills} kill -9, {spans} acknowledged spans in {len(state.acked)} sessions "
        f"({len(state.deleted)} deleted), {len(state.annotations)} annotations; answers {dict(sorted(state.counts.items()))}"
    )
    server.stop()
    db = sqlite3.connect(data / "oi-sessions.sqlite3")
    dictionaries = db.execute("SELECT count(*) FROM compression_dictionaries").fetchone()[0]
    db.close()
    print(f"soak: {dictionaries} compression dictionaries stored")
    if dictionaries == 0:
        problems.append("no compression dictionary was trained: the soak did not exercise them")
    if problems:
        print(f"soak: {len(problems)} problems, e.g.:", *problems[:20], sep="\n  ")
        print(f"soak: data kept in {data}")
        return 1
    print("soak: every acknowledged span is there; sessions and annotations consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
