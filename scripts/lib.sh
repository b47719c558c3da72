# Shared by the scripts: paths, system packages, the Python environment, npm
# installs, serialized cargo, and starting the server.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${OI_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
SERVER_BIN="${OI_SESSIONS_BIN:-$ROOT/target/release/oi-sessions}"

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# What the Python tests and the demo need in the virtualenv, besides the wheel.
PY_REQUIREMENTS=(
  "maturin>=1.9,<2" "pytest>=8" "pytest-asyncio>=0.23" "mypy>=1.10" "ruff>=0.5"
  "openinference-instrumentation>=0.1.40" "opentelemetry-sdk>=1.25"
  "opentelemetry-exporter-otlp-proto-http>=1.25" "opentelemetry-exporter-otlp-proto-grpc>=1.25"
  # Phoenix's own Python client, run against the server as a Phoenix user would (tests/phoenix/)
  "arize-phoenix-client==3.5.0" "pandas==2.3.3"
)

# Installs the Debian packages behind the named needs when they are missing:
#   flock (util-linux), cc (build-essential), venv (python3-venv),
#   chromium (the UI's browser tests), postgresql (the PostgreSQL tests).
# As root with apt-get, else with sudo; else says what to install.
ensure_system_packages() {
  local need=() what
  for what in "$@"; do
    case "$what" in
      flock) command -v flock >/dev/null 2>&1 || need+=(util-linux) ;;
      cc) command -v cc >/dev/null 2>&1 || need+=(build-essential) ;;
      venv) python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv) ;;
      # Debian's Chromium, never a downloaded browser
      chromium) [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium) ;;
      postgresql)
        { command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(ls /usr/lib/postgresql 2>/dev/null)" ]; } ||
          need+=(postgresql) ;;
      *) die "ensure_system_packages: unknown need '$what'" ;;
    esac
  done
  [ "${#need[@]}" -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      die "missing system packages: ${need[*]}; install them as root: apt-get install -y ${need[*]}"
    fi
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "missing system packages: ${need[*]} (Debian names); install them with your package manager"
  log "installing system packages: ${need[*]}"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
}

# One cargo build at a time on this machine: every cargo call goes through a lock.
cargo_locked() { flock_or_run cargo "$@"; }

flock_or_run() {
  if command -v flock >/dev/null 2>&1; then
    # -o: the lock's descriptor is not inherited, so a server a test leaves
    # running cannot hold the lock after cargo exits
    flock -o /tmp/oi-cargo.lock "$@"
  else
    "$@"
  fi
}

# The project's virtualenv with PY_REQUIREMENTS. pip runs only when the list
# or the Python version differs from the last successful install (a stamp in
# the venv).
ensure_venv() {
  if ! "$PY" -c '' 2>/dev/null; then
    log "creating $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.oi-requirements" want
  want="$({ "$PY" -VV; printf '%s\n' "${PY_REQUIREMENTS[@]}"; } | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log "installing the Python test dependencies into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  "$PY" -m pip install -q --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
  echo "$want" >"$stamp"
}

# Builds the wheel into dist/ and installs it (tests use the installed
# package); once per script run, cargo decides what to recompile.
build_and_install_wheel() {
  [ -n "${OI_WHEEL_INSTALLED:-}" ] && return 0
  ensure_venv
  log "building the Python wheel (maturin, release)"
  rm -rf "$ROOT/dist"
  (cd "$ROOT" && flock_or_run "$PY" -m maturin build --release --quiet --out "$ROOT/dist")
  local wheel
  wheel="$(ls "$ROOT"/dist/openinference_instrumentation_session-*.whl)"
  # the package itself afresh; its dependencies only when missing
  "$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  "$PY" -m pip install -q --disable-pip-version-check "$wheel"
  OI_WHEEL_INSTALLED=1
}

# `npm ci` in $1 unless its node_modules already matches its package-lock.json
# and this Node.js (a stamp in node_modules). Returns 1 when it skipped.
npm_ci_if_changed() {
  local dir="$1" stamp="$1/node_modules/.oi-npm-ci" want
  want="$({ node --version; cat "$dir/package-lock.json"; } | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 1
  log "npm ci in ${dir#"$ROOT"}/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

# The UI's npm packages (ui/node_modules).
ensure_ui_deps() { npm_ci_if_changed "$ROOT/ui" || true; }

# Phoenix's TypeScript client and what its test sends with (tests/phoenix/node_modules).
ensure_phoenix_client_deps() { npm_ci_if_changed "$ROOT/tests/phoenix" || true; }

# The root workspace's packages and the Node package built from source (napi
# addon + TypeScript): `npm ci` builds it through `prepare`; when the packages
# are current, it is rebuilt alone (cargo and tsc skip what is unchanged).
# Once per script run.
ensure_node_package() {
  [ -n "${OI_NODE_BUILT:-}" ] && return 0
  if ! npm_ci_if_changed "$ROOT"; then
    log "building the Node package (napi + tsc)"
    (cd "$ROOT" && npm run --silent build --workspace node)
  fi
  OI_NODE_BUILT=1
}

# The release server with the UI embedded: the UI built first (scripts/build-ui.sh).
build_server() {
  bash "$ROOT/scripts/build-ui.sh"
  log "building the server (release)"
  (cd "$ROOT" && cargo_locked build --release --quiet -p openinference-session-server)
}

# Starts `oi-sessions serve` on free ports with its data in $1; sets
# SERVER_PID and SERVER_URL once the server has printed its `listening` lines
# (its sockets are bound then). Reads them from a FIFO: no polling.
start_server() {
  local data_dir="$1" line
  mkdir -p "$data_dir"
  local fifo="$data_dir/server.stdout"
  rm -f "$fifo"
  mkfifo "$fifo"
  "$SERVER_BIN" serve --http-addr 127.0.0.1:0 --grpc-addr 127.0.0.1:0 \
    --data-dir "$data_dir" >"$fifo" 2>"$data_dir/server.log" &
  SERVER_PID=$!
  exec {SERVER_OUT}<"$fifo"
  SERVER_URL=
  while IFS= read -r -t 30 line <&"$SERVER_OUT"; do
    case "$line" in
      "oi-sessions listening http="*) SERVER_URL="http://${line#*=}" ;;
      "oi-sessions listening grpc="*) break ;;
    esac
  done
  if [ -z "$SERVER_URL" ]; then
    echo "the server did not start; its log:" >&2
    cat "$data_dir/server.log" >&2
    return 1
  fi
}

# Stops the server start_server started, waiting for it to exit.
stop_server() {
  [ -n "${SERVER_PID:-}" ] || return 0
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
