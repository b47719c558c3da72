"""A real `oi-sessions serve` for the Python tests: free ports, its SQLite file
in a temp dir (or a fresh schema of the PostgreSQL test database:
`postgres_schema()`), ready once it has printed its `listening` lines (its
sockets are bound then), stopped with SIGTERM.

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
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema of the PostgreSQL test database
    (`$OI_SESSIONS_TEST_DATABASE_URL`, printed by `scripts/postgres.sh`),
    dropped afterwards; yields a URL whose connections work in it. Created with
    `psql`, which comes with PostgreSQL."""
    base = os.environ.get("OI_SESSIONS_TEST_DATABASE_URL", "").strip()
    if not base:
        raise RuntimeError(
            "OI_SESSIONS_TEST_DATABASE_URL is not set: run "
            '`export OI_SESSIONS_TEST_DATABASE_URL="$(bash scripts/postgres.sh)"` first'
        )
    schema = f"oi_py_{uuid.uuid4().hex[:12]}"

    def psql(sql: str) -> None:
        subprocess.run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", base, "-c", sql],
            check=True,
            capture_output=True,
        )

    psql(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in base else "?"
        yield f"{base}{sep}options=" + urllib.parse.quote(f"-c search_path={schema}", safe="")
    finally:
        psql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Server:
    """`http`: the base URL (`http://127.0.0.1:<port>`); `grpc`: `127.0.0.1:<port>`.
    Stores in `data_dir` (SQLite), or in PostgreSQL at `database_url`."""

    def __init__(
        self, data_dir: Path, database_url: str | None = None, extra_args: list[str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.log = data_dir / "server.log"
        storage = ["--database-url", database_url] if database_url else []
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
                    *storage,
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
