"""The `server` fixture: a real `oi-sessions serve` (tests/support/oi_server.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from oi_server import server  # noqa: F401 - the fixture
