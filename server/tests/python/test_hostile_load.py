"""Hostile load against the real server (release build): memory stays under the
documented bound whatever the clients send, and stalled uploads starve no one.

- 32 HTTP clients each posting, for a bounded time, 15 MB protobuf bodies of
  about 50,000 small spans; and 64 gRPC streams doing the same, half of them
  with a wrong API key. The server's peak RSS (VmHWM) stays under 1 GiB; what
  is refused is refused with 503/UNAVAILABLE (retryable) or, for the wrong
  key, UNAUTHENTICATED before anything is read.
- 16 connections that send `POST /v1/traces` headers announcing 100,000 bytes
  and then one byte: a real exporter still gets 200 while they stay open.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from oi_server import Server
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

MEMORY_BOUND_BYTES = 1 << 30
LOAD_SECONDS = 20.0


def big_request(seed: int, spans: int = 50_000) -> bytes:
    """About 15 MB: many small spans, the shape that decodes to the most memory."""
    scope = trace_pb2.ScopeSpans()
    for n in range(spans):
        span = scope.spans.add()
        span.trace_id = (seed * 1_000_003 + n // 3 + 1).to_bytes(16, "big")
        span.span_id = (n + 1).to_bytes(8, "big")
        span.name = "s"
        span.start_time_unix_nano = 1_790_000_000_000_000_000 + n
        span.end_time_unix_nano = 1_790_000_000_000_000_001 + n
        span.attributes.add(key="session.id", value=common_pb2.AnyValue(string_value=f"s{seed}-{n // 30}"))
        span.attributes.add(key="k", value=common_pb2.AnyValue(string_value="v" * 200))
    resource = resource_pb2.Resource(
        attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="load"))]
    )
    request = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[trace_pb2.ResourceSpans(resource=resource, scope_spans=[scope])]
    )
    return request.SerializeToString()


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def small_export(server: Server, trace: int) -> int:
    body = trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[
            trace_pb2.ResourceSpans(
                resource=resource_pb2.Resource(
                    attributes=[
                        common_pb2.KeyValue(
                            key="service.name", value=common_pb2.AnyValue(string_value="real")
                        )
                    ]
                ),
                scope_spans=[
                    trace_pb2.ScopeSpans(
                        spans=[
                            trace_pb2.Span(
                                trace_id=trace.to_bytes(16, "big"),
                                span_id=(1).to_bytes(8, "big"),
                                name="turn",
                                start_time_unix_nano=1_790_000_000_000_000_000,
                                end_time_unix_nano=1_790_000_001_000_000_000,
                                attributes=[
                                    common_pb2.KeyValue(
                                        key="session.id",
                                        value=common_pb2.AnyValue(string_value="real-session"),
                                    )
                                ],
                            )
                        ]
                    )
                ],
            )
        ]
    ).SerializeToString()
    request = urllib.request.Request(
        server.http + "/v1/traces", data=body, headers={"content-type": "application/x-protobuf"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_memory_stays_bounded_under_32_http_clients_and_64_grpc_streams(server: Server) -> None:
    bodies = [big_request(seed) for seed in range(4)]
    assert all(len(b) > 14_000_000 for b in bodies), [len(b) for b in bodies]
    deadline = time.monotonic() + LOAD_SECONDS
    statuses: dict[str, int] = {}
    lock = threading.Lock()

    def count(what: str) -> None:
        with lock:
            statuses[what] = statuses.get(what, 0) + 1

    def http_client(n: int) -> None:
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                server.http + "/v1/traces",
                data=bodies[n % len(bodies)],
                headers={"content-type": "application/x-protobuf"},
            )
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    count(f"http {response.status}")
            except urllib.error.HTTPError as e:
                count(f"http {e.code}")
                assert e.code == 503 and e.headers.get("retry-after"), (e.code, e.read())
            except (ConnectionError, urllib.error.URLError) as e:
                count(f"http {type(e).__name__}: {getattr(e, 'reason', e)}")

    messages = [trace_service_pb2.ExportTraceServiceRequest.FromString(b) for b in bodies]

    def grpc_client(n: int) -> None:
        channel = grpc.insecure_channel(
            server.grpc,
            options=[
                ("grpc.max_send_message_length", 64 << 20),
                ("grpc.max_receive_message_length", 64 << 20),
            ],
        )
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        # with a key on a keyless server, the key is ignored: the wrong-key case
        # is the authenticated server's (below); here every stream is admitted
        while time.monotonic() < deadline:
            try:
                stub.Export(messages[n % len(messages)], timeout=120)
                count("grpc OK")
            except grpc.RpcError as e:
                count(f"grpc {e.code().name}")
                assert e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED), e
        channel.close()

    threads = [threading.Thread(target=http_client, args=(n,)) for n in range(32)]
    threads += [threading.Thread(target=grpc_client, args=(n,)) for n in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    peak = peak_rss(server.proc.pid)
    print(f"peak RSS {peak / 2**20:.0f} MiB; answers {statuses}")
    assert statuses.get("http 200", 0) + statuses.get("grpc OK", 0) > 0, statuses
    assert peak < MEMORY_BOUND_BYTES, f"peak RSS {peak / 2**20:.0f} MiB; answers {statuses}"
    # What was acknowledged is stored: the server still answers and holds it.
    assert server.get("/v1/projects")["data"][0]["trace_count"] > 0


def test_wrong_grpc_key_is_refused_before_the_message_is_read(tmp_path: Path) -> None:
    keyed = Server(tmp_path, extra_args=["--api-key", "right-key"])
    try:
        message = trace_service_pb2.ExportTraceServiceRequest.FromString(big_request(0, spans=20_000))
        channel = grpc.insecure_channel(keyed.grpc, options=[("grpc.max_send_message_length", 64 << 20)])
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        codes = []

        def client() -> None:
            for _ in range(3):
                try:
                    stub.Export(message, metadata=[("authorization", "Bearer wrong")], timeout=60)
                    codes.append("OK")
                except grpc.RpcError as e:
                    codes.append(e.code().name)

        threads = [threading.Thread(target=client) for _ in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        channel.close()
        assert set(codes) == {"UNAUTHENTICATED"}, codes
        peak = peak_rss(keyed.proc.pid)
        # refused before reading: the messages never reach memory
        assert peak < 200 << 20, f"peak RSS {peak / 2**20:.0f} MiB"
    finally:
        keyed.stop()


def test_stalled_uploads_do_not_starve_a_real_exporter(server: Server) -> None:
    host, port = server.http.removeprefix("http://").split(":")
    stalled = []
    for _ in range(16):
        s = socket.create_connection((host, int(port)))
        s.sendall(
            b"POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\n"
            b"content-length: 100000\r\n\r\n\x0a"
        )
        stalled.append(s)
    try:
        started = time.monotonic()
        for n in range(5):
            assert small_export(server, 100 + n) == 200
        assert time.monotonic() - started < 10, "exports waited for the stalled uploads"
        assert server.get("/v1/projects/real/sessions/real-session")["num_traces"] == 5
    finally:
        for s in stalled:
            s.close()
