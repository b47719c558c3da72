"""A real `oi-sessions serve` for the Python tests: free ports, its SQLite file
in a temp dir, ready once it has printed its `listening` lines (its sockets are
bound then), stopped with SIGTERM.

The server answers an export only after the spans are committed, so a test
reads the API right after its exporter's `shutdown()`/`force_flush()`: no
polling. Conftests put this directory on `sys.path`; tests take the `server`
fixture.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def server_binary() -> Path:
    """`$OI_SESSIONS_BIN`, else the release build, else the debug build."""
    explicit = os.environ.get("OI_SESSIONS_BIN")
    if explicit:
        return Path(explicit)
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "oi-sessions"
        if candidate.exists():
            return candidate
    raise FileNotFoundError(
        "no oi-sessions binary: build it (scripts/build-ui.sh, then "
        "cargo build --release -p openinference-session-server) or set OI_SESSIONS_BIN"
    )


class Server:
    """`http`: the base URL (`http://127.0.0.1:<port>`); `grpc`: `127.0.0.1:<port>`."""

    def __init__(self, data_dir: Path, extra_args: list[str] | None = None) -> None:
        self.data_dir = data_dir
        self.log = data_dir / "server.log"
        with open(self.log, "w") as log:
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
                    *(extra_args or []),
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        addresses: dict[str, str] = {}
        assert self.proc.stdout is not None
        while len(addresses) < 2:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                raise RuntimeError(f"oi-sessions exited before listening: {self.log.read_text()}")
            match = re.match(r"oi-sessions listening (\w+)=(\S+)", line)
            if match:
                addresses[match.group(1)] = match.group(2)
        self.http = f"http://{addresses['http']}"
        self.grpc = addresses["grpc"]

    def get(self, path: str) -> Any:
        """GET `path` from the API, decoded."""
        with urllib.request.urlopen(self.http + path, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        """SIGTERM, then the exit status must be clean."""
        self.proc.send_signal(signal.SIGTERM)
        status = self.proc.wait(timeout=20)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        assert status == 0, self.log.read_text()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path)
    yield s
    s.stop()
