#!/usr/bin/env bash
# The packages people install, built into dist/ (emptied first):
#
#   Python  the wheel, abi3 for CPython >= 3.10, linked by zig against glibc
#           2.17 (manylinux2014, whatever this machine's glibc), checked with
#           auditwheel; and the sdist, which builds from source (needs Rust)
#   npm     openinference-session and openinference-session-<platform>, napi's
#           per-platform layout (node/scripts/pack.mjs), the addon linked by
#           zig against glibc 2.17 too (napi build -x, cargo-zigbuild)
#   crates  openinference-session and openinference-session-server (cargo
#           package, which builds each from its tarball; the server's crate
#           builds without the web UI)
#
#   scripts/dist.sh [--check] [--allow-dirty]
#
# --check        then installs each into fresh environments and runs a span
#                through SessionSpanProcessor there: the wheel and the sdist
#                into virtualenvs of CPython 3.10 and 3.13 (found as
#                python3.X on the PATH or under pyenv; OI_DIST_PYTHONS="path
#                ..." names others), the npm tarballs into a scratch app with
#                no Rust on the PATH
# --allow-dirty  packs the crates from uncommitted sources (cargo refuses by
#                default; the crates record the commit they come from)
#
# Installs what it needs: Debian packages (as root or with sudo), maturin with
# ziglang, cargo-zigbuild and auditwheel in .venv, the root's npm packages.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

check=false
cargo_dirty=()
for arg in "$@"; do
  case "$arg" in
    --check) check=true ;;
    --allow-dirty) cargo_dirty=(--allow-dirty) ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$arg' (--check, --allow-dirty)" ;;
  esac
done

DIST="$ROOT/dist"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)"
DIST_REQUIREMENTS=("maturin[zig]>=1.9,<2" "cargo-zigbuild>=0.20" "auditwheel>=6")

# The build matrix: a platform is a line in each list. zig links Linux targets
# for any architecture (`rustup target add <triple>` first); `.2.17` is the
# glibc the addon is linked against. Other systems build natively on their own
# machines (docs/operations.md).
WHEEL_TARGETS=(x86_64-unknown-linux-gnu)
NPM_TARGETS=(x86_64-unknown-linux-gnu.2.17)
# the platform tag a wheel for glibc >= 2.17 carries, and auditwheel must agree with
WHEEL_POLICY=manylinux_2_17

# maturin with its zig extra (the ziglang package) and auditwheel, beside the
# test requirements in .venv; pip runs only when the list changes.
ensure_dist_tools() {
  ensure_venv
  local stamp="$VENV/.oi-dist-requirements" want
  want="$(printf '%s\n' "${DIST_REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  log "installing the packaging tools into $VENV: ${DIST_REQUIREMENTS[*]}"
  "$PY" -m pip install -q --disable-pip-version-check "${DIST_REQUIREMENTS[@]}"
  echo "$want" >"$stamp"
}

timed() {
  local what="$1" started=$SECONDS
  shift
  "$@"
  log "$what: done in $((SECONDS - started)) s"
}

python_packages() {
  local target wheel report
  for target in "${WHEEL_TARGETS[@]}"; do
    log "python: the wheel for $target (maturin --zig --compatibility manylinux2014)"
    # maturin finds zig through the ziglang module of the Python on the PATH
    (PATH="$VENV/bin:$PATH" flock_or_run maturin build --release --quiet --zig \
      --target "$target" --compatibility manylinux2014 --out "$DIST")
  done
  log "python: the sdist"
  (PATH="$VENV/bin:$PATH" maturin sdist --out "$DIST" >/dev/null)
  for wheel in "$DIST"/openinference_instrumentation_session-*.whl; do
    report="$("$VENV/bin/auditwheel" show "$wheel")"
    printf '%s\n' "$report" >&2
    [[ "$(tr -s ' \n' ' ' <<<"$report")" == *"consistent with the following platform tag: \"${WHEEL_POLICY}_"* ]] ||
      die "auditwheel does not find ${wheel##*/} consistent with $WHEEL_POLICY"
    [[ "$wheel" == *"-cp310-abi3-"*".${WHEEL_POLICY}_"*".whl" ]] || die "unexpected wheel tag: ${wheel##*/}"
  done
}

npm_packages() {
  local target artifacts
  npm_ci_if_changed "$ROOT" || true
  artifacts="$(mktemp -d)"
  for target in "${NPM_TARGETS[@]}"; do
    log "npm: the addon for $target (napi build -x: cargo-zigbuild)"
    (cd node && PATH="$VENV/bin:$PATH" flock_or_run npx --no-install napi build --platform --release \
      --target "$target" -x --output-dir "$artifacts" --no-js >/dev/null)
  done
  log "npm: the main package and the platform packages (napi layout)"
  node node/scripts/pack.mjs --artifacts "$artifacts" --out "$DIST" >/dev/null
  rm -rf "$artifacts"
}

crates() {
  log "crates: cargo package (each built from its tarball)"
  cargo_locked package --quiet -p openinference-session -p openinference-session-server "${cargo_dirty[@]}"
  cp "$ROOT/target/package/openinference-session-$VERSION.crate" \
    "$ROOT/target/package/openinference-session-server-$VERSION.crate" "$DIST/"
}

# CPython $1 (3.10): python3.10 when it runs, else pyenv's.
find_python() {
  local v="$1" py
  if python"$v" -c '' 2>/dev/null; then
    command -v python"$v"
    return
  fi
  for py in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python"$v"; do
    if [ -x "$py" ]; then
      echo "$py"
      return
    fi
  done
  return 1
}

# A fresh virtualenv of interpreter $1 in $2 with $3 installed (pip run
# through the rest of the arguments, a lock for instance), then the smoke check.
install_and_smoke() {
  local python="$1" venv="$2" what="$3"
  shift 3
  "$python" -m venv "$venv"
  "$@" "$venv/bin/python" -m pip install -q --disable-pip-version-check "$what"
  (cd "$venv" && "$venv/bin/python" "$ROOT/tests/packages/smoke.py")
}

check_python() {
  local pythons=() v py tmp wheel sdist
  if [ -n "${OI_DIST_PYTHONS:-}" ]; then
    read -ra pythons <<<"$OI_DIST_PYTHONS"
  else
    for v in 3.10 3.13; do
      if py="$(find_python "$v")"; then pythons+=("$py"); else log "CPython $v not found: not checked"; fi
    done
  fi
  [ "${#pythons[@]}" -gt 0 ] || die "no CPython to check the wheel with"
  wheel="$(ls "$DIST"/openinference_instrumentation_session-*.whl)"
  sdist="$(ls "$DIST"/openinference_instrumentation_session-*.tar.gz)"
  tmp="$(mktemp -d)"
  log "python: pip on a manylinux2014 (glibc 2.17) machine would take the wheel"
  "$PY" -m pip install --disable-pip-version-check --dry-run --no-deps --ignore-installed \
    --only-binary=:all: --platform manylinux2014_x86_64 --implementation cp --python-version 3.10 \
    --target "$tmp/glibc-2.17" "$wheel" | grep '^Would install' >&2
  for py in "${pythons[@]}"; do
    log "python: the wheel into a fresh venv of $("$py" -V) ($py)"
    install_and_smoke "$py" "$tmp/wheel-venv" "$wheel"
    log "python: the sdist, built from source, into a fresh venv of $("$py" -V)"
    # one cargo at a time; the builds of both Pythons share a target directory
    CARGO_TARGET_DIR="$tmp/sdist-target" install_and_smoke "$py" "$tmp/sdist-venv" "$sdist" flock_or_run
    rm -rf "$tmp/wheel-venv" "$tmp/sdist-venv"
  done
  rm -rf "$tmp"
}

check_npm() {
  local app path dir node_dir
  app="$(mktemp -d)"
  # no directory holding cargo or rustc, but Node's own
  node_dir="$(dirname "$(command -v node)")"
  path=
  IFS=: read -ra dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    if [ "$dir" = "$node_dir" ] || { [ ! -e "$dir/cargo" ] && [ ! -e "$dir/rustc" ]; }; then
      path="${path:+$path:}$dir"
    fi
  done
  ! PATH="$path" command -v cargo >/dev/null || log "npm: cargo is in Node's directory; checked with it on the PATH"
  log "npm: both tarballs into a scratch app without Rust on the PATH ($app)"
  echo '{ "name": "scratch-app", "private": true }' >"$app/package.json"
  local otel
  otel="$(node -e 'const d = require("./node/package.json").devDependencies;
    console.log(["@opentelemetry/api", "@opentelemetry/context-async-hooks", "@opentelemetry/sdk-trace-base"].map((n) => `${n}@${d[n]}`).join(" "))')"
  # shellcheck disable=SC2086 # the package list splits on spaces
  (cd "$app" && PATH="$path" npm install --no-audit --no-fund --loglevel=error \
    "$DIST"/openinference-session-*"$VERSION".tgz $otel)
  cp tests/packages/smoke.cjs "$app/"
  (cd "$app" && PATH="$path" node smoke.cjs)
  rm -rf "$app"
}

ensure_system_packages flock cc venv
ensure_dist_tools
rm -rf "$DIST"
mkdir -p "$DIST"
timed python python_packages
timed npm npm_packages
timed crates crates
log "dist/:"
(cd "$DIST" && ls -l | tail -n +2 >&2)
if $check; then
  timed "check python" check_python
  timed "check npm" check_npm
fi
log "packages in dist/"
