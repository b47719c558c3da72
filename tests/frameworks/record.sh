#!/usr/bin/env bash
# Records the framework corpus: runs each 3-turn chat app (tests/frameworks/apps,
# tests/frameworks/node) offline against the fake model of harness.py and saves
# what it exported over OTLP into server/tests/fixtures/frameworks/<name>/.
#
#   bash tests/frameworks/record.sh            # every app
#   bash tests/frameworks/record.sh langgraph vercel-ai   # only these
#
# Installs the pinned frameworks first (.venv-frameworks, npm ci in
# tests/frameworks/node), skipped when current.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_frameworks_venv
ensure_frameworks_node

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  for entry in "${FRAMEWORK_APPS[@]}"; do names+=("${entry%%|*}"); done
fi
for name in "${names[@]}"; do
  log "recording $name"
  run_framework_app record "$name" >/dev/null
done
