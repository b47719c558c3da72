"""A real `oi-sessions serve` on free ports with its SQLite file in a temp dir."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def server_binary() -> Path:
    explicit = os.environ.get("OI_SESSIONS_BIN")
    if explicit:
        return Path(explicit)
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "oi-sessions"
        if candidate.exists():
            return candidate
    pytest.fail(
        "no oi-sessions binary: build it (cargo build -p openinference-session-server) or set OI_SESSIONS_BIN"
    )


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.proc = subprocess.Popen(
            [
                str(server_binary()),
                "serve",
                "--http-addr",
                "127.0.0.1:0",
                "--grpc-addr",
                "127.0.0.1:0",
                "--data-dir",
                str(data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=open(data_dir / "server.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
        )
        addresses: dict[str, str] = {}
        assert self.proc.stdout is not None
        while len(addresses) < 2:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited: " + (data_dir / "server.log").read_text())
            match = re.match(r"oi-sessions listening (\w+)=(\S+)", line)
            if match:
                addresses[match.group(1)] = match.group(2)
        self.http = f"http://{addresses['http']}"
        self.grpc = addresses["grpc"]

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.http + path, timeout=10) as response:
            return json.loads(response.read())

    def wait_for(self, path: str, predicate: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = self.get(path)
                if predicate(body):
                    return body
            except urllib.error.HTTPError as e:
                if e.code != 404:
                    raise
                body = None
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting on {path}: last answer {body}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    yield s
    s.stop()
