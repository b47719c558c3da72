# Shared by record.sh and e2e.sh: the pinned frameworks (Python in
# .venv-frameworks, Node in tests/frameworks/node/node_modules) and the list of
# apps. Sources scripts/lib.sh (ROOT, log, die, npm_ci_if_changed, ...).
# shellcheck shell=bash

# shellcheck source=../../scripts/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"

FRAMEWORKS_DIR="$ROOT/tests/frameworks"
FRAMEWORKS_VENV="${OI_FRAMEWORKS_VENV:-$ROOT/.venv-frameworks}"
FPY="$FRAMEWORKS_VENV/bin/python"
FIXTURES="$ROOT/server/tests/fixtures/frameworks"

# The venv with requirements.txt exactly; pip runs only when the file or the
# Python version changed since the last successful install (a stamp).
ensure_frameworks_venv() {
  ensure_system_packages venv
  if ! "$FPY" -c '' 2>/dev/null; then
    log "creating $FRAMEWORKS_VENV"
    rm -rf "$FRAMEWORKS_VENV"
    python3 -m venv "$FRAMEWORKS_VENV"
  fi
  local stamp="$FRAMEWORKS_VENV/.oi-requirements" want
  want="$({ "$FPY" -VV; cat "$FRAMEWORKS_DIR/requirements.txt"; } | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log "installing the pinned Python frameworks into $FRAMEWORKS_VENV"
  "$FPY" -m pip install -q --disable-pip-version-check -r "$FRAMEWORKS_DIR/requirements.txt"
  echo "$want" >"$stamp"
}

ensure_frameworks_node() { npm_ci_if_changed "$FRAMEWORKS_DIR/node" || true; }

# The apps: fixture name | options for harness.py | the command (run in
# tests/frameworks; PY and NODE are replaced by the venv's python and node).
# --no-tokens would mark a framework that reports no token counts (none here).
FRAMEWORK_APPS=(
  "langchain-chain||PY apps/langchain_chain.py"
  "langchain-agent||PY apps/langchain_agent.py"
  "langgraph||PY apps/langgraph_agent.py"
  "llama-index||PY apps/llama_index_chat.py"
  "openai-agents||PY apps/openai_agents.py"
  "pydantic-ai||PY apps/pydantic_ai_agent.py"
  "openai-openinference||PY apps/openai_openinference.py"
  "openai-genai-latest||env OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY PY apps/openai_genai.py"
  "openai-genai-events||env OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true PY apps/openai_genai.py"
  "anthropic-openinference||PY apps/anthropic_openinference.py"
  "vercel-ai||NODE node/vercel_ai.mjs plain"
  "vercel-ai-openinference||NODE node/vercel_ai.mjs openinference"
  "langchain-js||NODE node/langchain.mjs"
  "openai-js-openinference||NODE node/openai.mjs"
)

# Runs app NAME through harness.py in MODE (record: into its fixture dir; run:
# OTLP to the URL in $3).
run_framework_app() {
  local mode="$1" name="$2" target="${3:-}" entry found=
  for entry in "${FRAMEWORK_APPS[@]}"; do
    [ "${entry%%|*}" = "$name" ] && found="$entry" && break
  done
  [ -n "$found" ] || die "no framework app named '$name'"
  local rest="${found#*|}" opts cmd=()
  opts="${rest%%|*}"
  local word
  for word in ${rest#*|}; do
    case "$word" in
      PY) cmd+=("$FPY") ;;
      NODE) cmd+=(node) ;;
      *) cmd+=("$word") ;;
    esac
  done
  [ "$mode" = record ] && target="$FIXTURES/$name"
  # shellcheck disable=SC2086 # opts is empty or one flag
  (cd "$FRAMEWORKS_DIR" && "$FPY" harness.py "$mode" "$name" "$target" $opts -- "${cmd[@]}")
}
