#!/usr/bin/env bash
# Soak: the release server under mixed load (writers, readers, an annotator, a
# deleter) for a while, killed with SIGKILL and restarted every few seconds,
# then every acknowledged span checked (tests/soak/soak.py says what).
#
#   scripts/soak.sh [seconds]     # default 120
#
# Not part of scripts/test.sh (it runs for minutes); run it before a release.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_system_packages flock cc venv
ensure_venv
if [ -z "${OI_SESSIONS_BIN:-}" ]; then
  log "building the server (release, without the UI)"
  (cd "$ROOT" && OI_SESSIONS_UI_DIST=none cargo_locked build --release --quiet -p openinference-session-server)
fi
OI_SESSIONS_BIN="$SERVER_BIN" "$PY" "$ROOT/tests/soak/soak.py" "${1:-120}"
