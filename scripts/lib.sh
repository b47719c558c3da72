# Shared by the scripts: paths, the Python environment, serialized cargo.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OI_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"

log() { printf '\n==> %s\n' "$*" >&2; }

# One cargo build at a time on this machine: every cargo call goes through a lock.
cargo_locked() { flock_or_run cargo "$@"; }

# The project's virtualenv, with maturin and the test dependencies.
ensure_venv() {
  if [ ! -x "$PY" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  "$PY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$PY" -m pip install -q --disable-pip-version-check \
    "maturin>=1.9,<2" "pytest>=8" "pytest-asyncio>=0.23" "mypy>=1.10" "ruff>=0.5" \
    "openinference-instrumentation>=0.1.40" "opentelemetry-sdk>=1.25" \
    "opentelemetry-exporter-otlp-proto-http>=1.25" "opentelemetry-exporter-otlp-proto-grpc>=1.25"
}

# Builds the wheel into dist/ and installs it (tests use the installed package).
build_and_install_wheel() {
  log "building the Python wheel (maturin, release)"
  rm -rf "$ROOT/dist"
  (cd "$ROOT" && flock_or_run "$PY" -m maturin build --release --quiet --out "$ROOT/dist")
  "$PY" -m pip install -q --disable-pip-version-check --force-reinstall "$ROOT"/dist/openinference_instrumentation_session-*.whl
}

flock_or_run() {
  if command -v flock >/dev/null 2>&1; then
    flock /tmp/oi-cargo.lock "$@"
  else
    "$@"
  fi
}

# Starts `oi-sessions serve` on free ports with its data in $1; sets SERVER_PID
# and SERVER_URL.
start_server() {
  local data_dir="$1" out="$1/server.out"
  mkdir -p "$data_dir"
  "$ROOT/target/release/oi-sessions" serve --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
    --data-dir "$data_dir" >"$out" 2>"$data_dir/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if grep -q 'listening http=' "$out" 2>/dev/null; then
      SERVER_URL="http://$(sed -n 's/.*listening http=//p' "$out" | head -n1)"
      return 0
    fi
    sleep 0.1
  done
  echo "the server did not start; its log:" >&2
  cat "$data_dir/server.log" >&2
  return 1
}
