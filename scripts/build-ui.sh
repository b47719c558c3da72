#!/usr/bin/env bash
# Builds the web UI into ui/dist, which the server's build.rs embeds in the
# binary (cargo never runs npm). Installs ui/node_modules when they do not match
# ui/package-lock.json, and skips the Vite build when ui/dist is already built
# from the same sources (a stamp in ui/node_modules), so that the server, which
# re-embeds ui/dist whenever it changes, is not recompiled for nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT/ui"

ensure_ui_deps
stamp=node_modules/.oi-ui-dist
inputs=(src index.html package-lock.json vite.config.ts tsconfig.json)
[ -d public ] && inputs+=(public)
sources="$(find "${inputs[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)"
if [ -f dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sources" ]; then
  exit 0
fi
log "building the UI (vite build into ui/dist)"
npm exec --no -- vite build --logLevel warn --emptyOutDir
echo "$sources" >"$stamp"
