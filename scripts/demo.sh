#!/usr/bin/env bash
# The main job: the sessions server on embedded SQLite, the example chat app
# sending a real multi-turn session to it over OTLP, and the session read back
# through the API. With --serve, the server keeps running afterwards (Ctrl-C
# stops it). Installs what it needs (system packages as root or with sudo,
# .venv, the UI's npm packages) and builds the wheel, the UI and the server.
set -euo pipefail
keep_serving=false
[ "${1:-}" = "--serve" ] && keep_serving=true
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_system_packages flock cc venv
build_and_install_wheel
build_server

data_dir="$(mktemp -d)"
start_server "$data_dir"
trap stop_server EXIT
log "oi-sessions serving at $SERVER_URL (data in $data_dir)"

log "running the example chat app (3 turns, one session)"
OI_SESSIONS_ENDPOINT="$SERVER_URL/v1/traces" "$PY" examples/python-chat/chat.py --session-id demo-session

# The app shut its exporter down before exiting, and the server answers an
# export only once it is committed: the session is complete now.
log "the session, read back from the API"
"$PY" - "$SERVER_URL" <<'PY'
import json, sys, urllib.request

base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())

session = get("/v1/projects/support-bot/sessions/demo-session")
print(f"session {session['session_id']} in project {session['project']}: "
      f"{session['num_traces']} turns, users {session['user_ids']}, tags {session['tags']}, "
      f"{session['token_count']['total']} tokens")
for turn in get("/v1/projects/support-bot/sessions/demo-session/turns")["data"]:
    print(f"  user:      {turn['input']['value']}")
    print(f"  assistant: {turn['output']['value']}")
assert session["num_traces"] == 3, session
print(f"web UI: {base}/projects/support-bot/sessions/demo-session" if get("/healthz")["ui"]
      else "this server was built without the web UI (scripts/build-ui.sh)")
PY
if $keep_serving; then
  log "serving at $SERVER_URL until Ctrl-C: try $SERVER_URL/v1/projects/support-bot/sessions"
  wait "$SERVER_PID"
fi
