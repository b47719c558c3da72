#!/usr/bin/env bash
# The main job: the sessions server on embedded SQLite, the example chat app
# sending a real multi-turn session to it over OTLP, and the session read back
# through the API. With --serve, the server keeps running afterwards (Ctrl-C
# stops it).
set -euo pipefail
keep_serving=false
[ "${1:-}" = "--serve" ] && keep_serving=true
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_venv
build_and_install_wheel
log "building the server (release)"
cargo_locked build --release --quiet -p openinference-session-server

data_dir="$(mktemp -d)"
start_server "$data_dir"
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true' EXIT
log "oi-sessions serving at $SERVER_URL (data in $data_dir)"

log "running the example chat app (3 turns, one session)"
OI_SESSIONS_ENDPOINT="$SERVER_URL/v1/traces" "$PY" examples/python-chat/chat.py --session-id demo-session

log "the session, read back from the API"
"$PY" - "$SERVER_URL" <<'PY'
import json, sys, time, urllib.request

base = sys.argv[1]
def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.loads(r.read())

for _ in range(50):  # the exporter has flushed; allow the server a moment
    sessions = get("/v1/projects/support-bot/sessions")["data"]
    if sessions and sessions[0]["num_traces"] == 3:
        break
    time.sleep(0.1)
session = get("/v1/projects/support-bot/sessions/demo-session")
print(f"session {session['session_id']} in project {session['project']}: "
      f"{session['num_traces']} turns, users {session['user_ids']}, tags {session['tags']}, "
      f"{session['token_count']['total']} tokens")
for turn in get("/v1/projects/support-bot/sessions/demo-session/turns")["data"]:
    print(f"  user:      {turn['input']['value']}")
    print(f"  assistant: {turn['output']['value']}")
assert session["num_traces"] == 3, session
PY
if $keep_serving; then
  log "serving at $SERVER_URL until Ctrl-C: try $SERVER_URL/v1/projects/support-bot/sessions"
  wait "$SERVER_PID"
fi
