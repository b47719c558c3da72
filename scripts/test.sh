#!/usr/bin/env bash
# Every test of the project: lints and types, the Rust core and server, the
# Python package (installed from its wheel), and end-to-end runs through the
# real server. Installs what it needs into .venv (Python) and node_modules (Node).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv

log "rust: format and lints"
cargo_locked fmt --all --check
cargo_locked clippy --quiet -p openinference-session -p openinference-session-python \
  -p openinference-session-server -p openinference-session-node --all-targets -- -D warnings

log "postgresql for the server's PostgreSQL tests (installed and started if missing)"
export OI_SESSIONS_TEST_DATABASE_URL="${OI_SESSIONS_TEST_DATABASE_URL:-$(bash scripts/postgres.sh)}"

log "rust: core and server tests (the store conformance suite on SQLite and on PostgreSQL)"
cargo_locked test --quiet -p openinference-session -p openinference-session-server

build_and_install_wheel

log "python: lints and types"
"$PY" -m ruff check python examples tests
"$PY" -m ruff format --check python examples tests
(cd /tmp && "$PY" -m mypy --strict -p openinference.instrumentation.session)
(cd /tmp && "$PY" -m mypy.stubtest openinference.instrumentation.session._native)

log "python: tests against the installed wheel"
OI_SESSION_WHEEL="$(ls "$ROOT"/dist/openinference_instrumentation_session-*.whl)" \
  "$PY" -m pytest -q -p no:cacheprovider python/tests

log "node: build from source (napi + tsc), generated files unchanged, types, tests of the packed package"
npm ci --no-audit --no-fund --loglevel=error   # the root workspace; node's prepare builds the addon (cargo, locked)
git diff --exit-code -- node/native node/types
npm run --silent typecheck --workspace node
npm test --workspace node

log "cross-language: the same inputs give byte-identical span attributes in Python, Node and Rust"
PYTHON="$PY" node --test tests/cross_language/

log "ui: types, lint, unit tests"
(cd ui && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } \
  && npm run --silent typecheck && npm run --silent lint && npx vitest run --reporter=dot)

log "end to end: Python apps and exporters -> oi-sessions -> API"
cargo_locked build --release --quiet -p openinference-session-server
OI_SESSIONS_BIN="$ROOT/target/release/oi-sessions" "$PY" -m pytest -q -p no:cacheprovider \
  tests/e2e server/tests/python

log "end to end: the Node example chat app, the Node API client and evals -> oi-sessions"
OI_SESSIONS_BIN="$ROOT/target/release/oi-sessions" node --test examples/node-chat/
OI_SESSIONS_BIN="$ROOT/target/release/oi-sessions" npm run --silent test:e2e --workspace node

log "end to end: the UI in Chromium (playwright-core) against oi-sessions"
(cd ui && OI_SESSIONS_BIN="$ROOT/target/release/oi-sessions" OI_PYTHON="$PY" node --test tests/browser/)

log "all tests passed"
