#!/usr/bin/env bash
# Every test of the project, or the stages named. Installs what it needs:
# Debian packages (as root, or with sudo), .venv (Python), node_modules (Node),
# and builds the wheel, the Node package, the UI and the server as a stage needs
# them.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

STAGES=(rust python node ui e2e rust-example postgres)

usage() {
  cat <<'EOF'
usage: scripts/test.sh [stage...]      no stage: all of them, in this order

  rust      format, clippy, the core's and the server's tests (with PostgreSQL's)
  python    lints, types and tests of the Python package, from its wheel
  node      the Node package from source, its tests (packed), cross-language
  ui        the UI's types, lint and unit tests, then in Chromium against oi-sessions
  e2e       Python and Node apps, clients, Phoenix's own clients and real frameworks -> oi-sessions -> API
  rust-example  the Rust example chat (examples/rust-chat) -> oi-sessions -> API
  postgres  the server's PostgreSQL tests alone (run by rust when both are named)
EOF
}

selected=()
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    rust | python | node | ui | e2e | rust-example | postgres) selected+=("$arg") ;;
    *) usage >&2; die "unknown stage '$arg' (stages: ${STAGES[*]})" ;;
  esac
done
[ "${#selected[@]}" -eq 0 ] && selected=("${STAGES[@]}")
is_selected() { [[ " ${selected[*]} " == *" $1 "* ]]; }
# the rust stage runs the PostgreSQL tests with the others: not twice
if is_selected rust && is_selected postgres; then
  kept=()
  for stage in "${selected[@]}"; do
    if [ "$stage" != postgres ]; then kept+=("$stage"); fi
  done
  selected=("${kept[@]}")
fi

# What the selected stages need from the system, installed once up front.
needs=(flock cc venv)
is_selected ui && needs+=(chromium)
{ is_selected rust || is_selected postgres || is_selected e2e; } && needs+=(postgresql)
ensure_system_packages "${needs[@]}"

postgres_url() {
  log "postgresql for the server's PostgreSQL tests (installed and started if missing)"
  export OI_SESSIONS_TEST_DATABASE_URL="${OI_SESSIONS_TEST_DATABASE_URL:-$(bash scripts/postgres.sh)}"
}

stage_rust() {
  log "rust: format and lints"
  cargo_locked fmt --all --check
  cargo_locked clippy --quiet -p openinference-session -p openinference-session-python \
    -p openinference-session-server -p openinference-session-node --all-targets -- -D warnings
  postgres_url
  log "rust: core and server tests (the store conformance suite on SQLite and on PostgreSQL)"
  cargo_locked test --quiet -p openinference-session -p openinference-session-server
}

stage_postgres() {
  postgres_url
  log "postgres: the server and the store conformance suite on PostgreSQL"
  cargo_locked test --quiet -p openinference-session-server \
    --test server_postgres --test store_conformance_postgres --test evaluation_servers \
    --test migrate_postgres
}

stage_python() {
  build_and_install_wheel
  log "python: lints and types"
  "$PY" -m ruff check python examples tests server/tests/python ui/tests
  "$PY" -m ruff format --check python examples tests server/tests/python ui/tests
  # from an empty directory: the installed package is checked, not the sources,
  # and no stray file there can shadow a module mypy imports
  local empty
  empty="$(mktemp -d)"
  (cd "$empty" && "$PY" -m mypy --strict -p openinference.instrumentation.session)
  (cd "$empty" && "$PY" -m mypy.stubtest openinference.instrumentation.session._native)
  rm -rf "$empty"
  log "python: tests against the installed wheel"
  OI_SESSION_WHEEL="$(ls "$ROOT"/dist/openinference_instrumentation_session-*.whl)" \
    "$PY" -m pytest -q -p no:cacheprovider python/tests
}

stage_node() {
  log "node: build from source (napi + tsc), generated files unchanged, types, tests of the packed package"
  ensure_node_package
  git diff --exit-code -- node/native node/types
  log "node: the API's TypeScript types match server/openapi.json (npm run generate:api)"
  npm run --silent generate:api >/dev/null
  git diff --exit-code -- node/ts/api-types.ts node/types
  npm run --silent typecheck --workspace node
  npm test --workspace node
  build_and_install_wheel
  log "cross-language: the same inputs give byte-identical span attributes in Python, Node and Rust"
  PYTHON="$PY" node --test tests/cross_language/
}

stage_ui() {
  log "ui: types, lint, unit tests"
  ensure_ui_deps
  (cd ui && npm run --silent typecheck && npm run --silent lint && npx vitest run --reporter=dot)
  build_and_install_wheel # the browser tests fill the server through the Python package
  build_server            # builds the UI first: the browser tests need it embedded
  log "ui: in Chromium (playwright-core) against oi-sessions"
  (cd ui && OI_SESSIONS_BIN="$SERVER_BIN" OI_PYTHON="$PY" node --test tests/browser/)
}

stage_e2e() {
  build_and_install_wheel
  ensure_node_package
  build_server
  log "end to end: Python apps and exporters -> oi-sessions -> API"
  OI_SESSIONS_BIN="$SERVER_BIN" "$PY" -m pytest -q -p no:cacheprovider tests/e2e server/tests/python
  log "end to end: the Node example chat app, the Node API client and evals -> oi-sessions"
  OI_SESSIONS_BIN="$SERVER_BIN" node --test examples/node-chat/
  OI_SESSIONS_BIN="$SERVER_BIN" npm run --silent test:e2e --workspace node
  log "end to end: Phoenix's own clients (arize-phoenix-client, @arizeai/phoenix-client) -> oi-sessions on SQLite and PostgreSQL"
  postgres_url
  ensure_phoenix_client_deps
  OI_SESSIONS_BIN="$SERVER_BIN" "$PY" -m pytest -q -p no:cacheprovider tests/phoenix
  OI_SESSIONS_BIN="$SERVER_BIN" node --test tests/phoenix/
  log "end to end: real frameworks (LangGraph, the Vercel AI SDK) -> oi-sessions -> their sessions read as conversations"
  OI_SESSIONS_BIN="$SERVER_BIN" bash tests/frameworks/e2e.sh
}

stage_rust-example() {
  build_server
  log "rust example: lints, build, then the chat (tokio, opentelemetry-otlp) -> oi-sessions -> API"
  cargo_locked clippy --quiet -p rust-chat --all-targets -- -D warnings
  cargo_locked build --quiet -p rust-chat
  OI_SESSIONS_BIN="$SERVER_BIN" OI_RUST_CHAT_BIN="$ROOT/target/debug/rust-chat" node --test examples/rust-chat/
}

for stage in "${selected[@]}"; do
  started=$SECONDS
  "stage_$stage"
  log "$stage: passed in $((SECONDS - started)) s"
done
log "passed: ${selected[*]}"
