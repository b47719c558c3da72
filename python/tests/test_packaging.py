"""The installed distribution: namespace-safe layout, type information, and a
clean install/uninstall beside the real openinference-instrumentation."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_the_wheel_ships_no_namespace_init_files() -> None:
    files = {str(f) for f in metadata.files("openinference-instrumentation-session") or []}
    assert "openinference/__init__.py" not in files
    assert "openinference/instrumentation/__init__.py" not in files
    assert "openinference/instrumentation/session/py.typed" in files
    assert "openinference/instrumentation/session/_native.pyi" in files
    assert any(
        f.startswith("openinference/instrumentation/session/_native") and f.endswith(".so") for f in files
    )


def test_tests_run_against_the_installed_package_not_the_source_tree() -> None:
    import openinference.instrumentation.session as pkg

    assert "site-packages" in (pkg.__file__ or ""), pkg.__file__


def _wheel() -> Path:
    explicit = os.environ.get("OI_SESSION_WHEEL")
    if explicit:
        return Path(explicit)
    wheels = sorted((REPO / "dist").glob("openinference_instrumentation_session-*.whl"))
    if not wheels:
        pytest.fail("no wheel: build one into dist/ (scripts/test.sh does) or set OI_SESSION_WHEEL")
    return wheels[-1]


def test_installs_and_uninstalls_cleanly_beside_openinference(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run(pip + ["openinference-instrumentation", str(_wheel())], check=True, timeout=600)
    check_both = (
        "import openinference.instrumentation as oi, openinference.instrumentation.session as s;"
        "import openinference.semconv;"
        "assert oi.using_session and s.using_session and s.SessionSpanProcessor"
    )
    subprocess.run([py, "-c", check_both], check=True)
    subprocess.run(
        [py, "-m", "pip", "uninstall", "-y", "-q", "openinference-instrumentation-session"], check=True
    )
    still_there = (
        "import importlib.util, openinference.instrumentation as oi;"
        "assert oi.using_session;"
        "assert importlib.util.find_spec('openinference.instrumentation.session') is None"
    )
    subprocess.run([py, "-c", still_there], check=True)
