#!/usr/bin/env bash
# End to end: framework apps run for real (pinned frameworks, the fake model of
# harness.py) into a real oi-sessions, then each session is read back through
# the API and checked against the app's expected.json (check_session.py).
#
#   bash tests/frameworks/e2e.sh                  # the LangGraph and Vercel AI apps
#   bash tests/frameworks/e2e.sh llama-index ...  # any apps of lib.sh's list
#
# Installs the frameworks (.venv-frameworks, npm ci in tests/frameworks/node)
# when they changed, builds the release server without UI
# (OI_SESSIONS_UI_DIST=none) unless OI_SESSIONS_BIN names a binary to use,
# and runs every app before failing, so the report covers all of them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(langgraph vercel-ai)

ensure_system_packages flock cc venv
ensure_frameworks_venv
ensure_frameworks_node
if [ -z "${OI_SESSIONS_BIN:-}" ]; then
  log "building the server (release, no UI)"
  (cd "$ROOT" && OI_SESSIONS_UI_DIST=none cargo_locked build --release --quiet -p openinference-session-server)
fi

data="$(mktemp -d)"
trap 'stop_server; rm -rf "$data"' EXIT
start_server "$data"
log "oi-sessions at $SERVER_URL"

failed=()
for name in "${names[@]}"; do
  log "$name: running the app into the server"
  run_framework_app run "$name" "$SERVER_URL" >/dev/null
  "$FPY" "$FRAMEWORKS_DIR/check_session.py" "$SERVER_URL" "$FIXTURES/$name/expected.json" || failed+=("$name")
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "frameworks e2e: ${#failed[@]} of ${#names[@]} sessions do not read as the conversation: ${failed[*]}" >&2
  exit 1
fi
echo "frameworks e2e: all ${#names[@]} sessions read as the conversation"
