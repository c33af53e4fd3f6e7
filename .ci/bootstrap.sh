#!/usr/bin/env bash
# bootstrap.sh - prepare a Debian 12 machine (Node 20 + npm, root, network limited to
# the npm registry and Debian mirrors) for a Deno-first TypeScript project.
#
# Idempotent: every step checks first and does nothing when already done.
# Starts nothing permanently (apt is kept from starting redis-server and prometheus; no podman
# service).
#
# Usage:  bash bootstrap.sh [PROJECT_DIR]        (default: $PROJECT_DIR or the current dir)
# Env:    DENO_VERSION (default 2.9.6; used only when .tools/deno/package.json is created)
#         IMAGE (default localhost/graflow-deno:latest)
#         SKIP_APT=1 / SKIP_IMAGE=1      skip those steps (e.g. a developer without root)
# After:  export PATH="$PROJECT_DIR/.ci/bin:$PATH"   (deno is a symlink to the real binary)
set -euo pipefail

PROJECT_DIR=$(cd "${1:-${PROJECT_DIR:-$PWD}}" && pwd)
DENO_VERSION=${DENO_VERSION:-2.9.6}
IMAGE=${IMAGE:-localhost/graflow-deno:latest}
TOOLS_DIR="$PROJECT_DIR/.ci/deno"     # own package.json + package-lock.json (commit both)
BIN_DIR="$PROJECT_DIR/.ci/bin"        # deno symlink lives here (gitignored)
APT_PACKAGES=(redis-server podman runc chromium prometheus)   # chromium: the dashboard's browser tests; prometheus: the scrape test (never started as a service)
CONF_DROPIN=/etc/containers/containers.conf.d/50-graflow.conf

declare -a TIMING_NAMES=() TIMING_SECS=()
log() { printf '[bootstrap] %s\n' "$*" >&2; }
now() { date +%s.%N; }
step() { # step NAME FUNC...: run FUNC, record wall time
  local name=$1; shift
  local t0 t1; t0=$(now)
  log "== $name"
  "$@"
  t1=$(now)
  TIMING_NAMES+=("$name"); TIMING_SECS+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')")
}

TMP_PATHS=()
cleanup() { [ ${#TMP_PATHS[@]} -eq 0 ] || rm -rf "${TMP_PATHS[@]}"; }
trap cleanup EXIT

need_root() { [ "$(id -u)" = 0 ] || { log "must run as root for: $1"; exit 1; }; }

# 1. Debian packages -----------------------------------------------------------------
apt_install() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "apt: ${APT_PACKAGES[*]} already installed"; return; fi
  need_root "apt-get install"
  # Keep maintainer scripts from starting redis-server and prometheus (no systemd here; sysv
  # init would). The tests start their own servers on free loopback ports.
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
    TMP_PATHS+=(/usr/sbin/policy-rc.d)   # removed even if apt fails
  fi
  log "apt: installing ${missing[*]}"
  local aptopt=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
  apt-get "${aptopt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive apt-get "${aptopt[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# 2. Podman settings (drop-in, so an existing /etc/containers/containers.conf is untouched)
containers_conf() {
  local want
  want=$'# written by bootstrap.sh\n# runc: crun 1.8 fails on this kernel\'s hybrid cgroup v1 setup\n# default_ulimits = []: setting rlimits needs CAP_SYS_RESOURCE, which the sandbox lacks\n[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"'
  if [ -f "$CONF_DROPIN" ] && [ "$(cat "$CONF_DROPIN")" = "$want" ]; then log "containers.conf drop-in up to date"; return; fi
  need_root "writing $CONF_DROPIN"
  mkdir -p "$(dirname "$CONF_DROPIN")"
  printf '%s\n' "$want" > "$CONF_DROPIN"
  log "wrote $CONF_DROPIN"
}

# 3. Deno from the npm registry, project-local and pinned --------------------------------
# We depend on the platform package (@deno/linux-x64-glibc) directly rather than on `deno`:
# it is the same binary, needs no postinstall script, and its package-lock.json works with
# `npm ci` (npm 11 writes locks for `deno` that omit the other platforms' optional packages,
# and `npm ci` then refuses them - npm/cli#4828, #8320).
deno_pkg() {
  case "$(uname -m)" in
    x86_64) echo "@deno/linux-x64-glibc" ;;
    aarch64) echo "@deno/linux-arm64-glibc" ;;
    *) log "unsupported arch $(uname -m)"; exit 1 ;;
  esac
}
deno_install() {
  local pkg; pkg=$(deno_pkg)
  mkdir -p "$TOOLS_DIR" "$BIN_DIR"
  if [ ! -f "$TOOLS_DIR/package.json" ]; then
    cat > "$TOOLS_DIR/package.json" <<EOF
{
  "name": "deno-toolchain",
  "private": true,
  "description": "Pins the Deno CLI (platform package from the npm registry); installed by bootstrap.sh",
  "dependencies": { "$pkg": "$DENO_VERSION" }
}
EOF
  fi
  local want bin
  want=$(node -p "require('$TOOLS_DIR/package.json').dependencies['$pkg']")
  bin="$TOOLS_DIR/node_modules/$pkg/deno"
  if [ -x "$bin" ] && "$bin" --version 2>/dev/null | head -1 | grep -q "^deno $want "; then
    log "deno $want already installed"
  else
    local npmopt=(--no-audit --no-fund --loglevel=error)
    if [ -f "$TOOLS_DIR/package-lock.json" ]; then
      (cd "$TOOLS_DIR" && npm ci "${npmopt[@]}") || {
        log "npm ci failed (lock out of sync?); falling back to npm install"
        (cd "$TOOLS_DIR" && npm install "${npmopt[@]}")
      }
    else
      (cd "$TOOLS_DIR" && npm install "${npmopt[@]}")
    fi
  fi
  ln -sfn "$bin" "$BIN_DIR/deno"
  "$BIN_DIR/deno" --version | head -1
}

# 4. Minimal image holding only deno + the glibc libraries it links ------------------------
image_build() {
  need_root "podman"
  local bin sum have ver
  bin=$(readlink -f "$BIN_DIR/deno")
  ver=$("$bin" --version | head -1 | cut -d' ' -f2)
  sum=$(sha256sum "$bin" | cut -c1-64)
  have=$(podman image inspect --format '{{ index .Labels "graflow.deno.sha256" }}' "$IMAGE" 2>/dev/null || true)
  if [ "$have" = "$sum" ]; then
    log "image $IMAGE already holds this deno binary"
  else
    local root; root=$(mktemp -d -t graflow-rootfs.XXXXXX)
    TMP_PATHS+=("$root")
    mkdir -p "$root"/{usr/local/bin,etc,tmp,work,lib64,dev,proc,sys}
    chmod 1777 "$root/tmp"
    cp "$bin" "$root/usr/local/bin/deno"
    local lib
    for lib in $(ldd "$bin" | grep -o '/[^ ]*\.so[^ ]*'); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    printf 'root:x:0:0:root:/tmp:/nonexistent\nnobody:x:65534:65534:nobody:/tmp:/nonexistent\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
    tar -C "$root" -cf - . | podman import --quiet \
      --change 'ENV PATH=/usr/local/bin' \
      --change 'ENV HOME=/tmp' \
      --change 'ENV DENO_DIR=/tmp/.deno' \
      --change 'ENV NO_COLOR=1' \
      --change 'WORKDIR /work' \
      --change 'CMD ["deno","--version"]' \
      --change "LABEL graflow.deno.sha256=$sum" \
      --change "LABEL graflow.deno.version=$ver" \
      - "$IMAGE" >/dev/null
    rm -rf "$root"
    log "built $IMAGE"
  fi
  # Verify: deno eval inside the container, no network, as an unprivileged user.
  local out
  out=$(podman run --rm --network none --user 65534:65534 "$IMAGE" \
        deno eval 'console.log(JSON.stringify({ ok: 1 + 1 === 2, deno: Deno.version.deno }))')
  log "container says: $out"
  case "$out" in *'"ok":true'*) ;; *) log "image verification failed"; exit 1 ;; esac
}

report_versions() {
  "$BIN_DIR/deno" --version | head -1
  if [ "${SKIP_APT:-0}" != 1 ]; then
    redis-server --version | cut -d' ' -f1-3
    podman --version
    runc --version | head -1
    chromium --version 2>/dev/null | head -1 || true
    prometheus --version 2>&1 | head -1
  fi
}

[ "${SKIP_APT:-0}" = 1 ] || step "apt: ${APT_PACKAGES[*]}" apt_install
[ "${SKIP_APT:-0}" = 1 ] || step "containers.conf drop-in" containers_conf
step "deno via npm (project-local, $(deno_pkg))" deno_install
[ "${SKIP_IMAGE:-0}" = 1 ] || step "image $IMAGE (+ verify deno eval)" image_build
report_versions

log "timings (s):"
for i in "${!TIMING_NAMES[@]}"; do printf '  %7s  %s\n' "${TIMING_SECS[$i]}" "${TIMING_NAMES[$i]}" >&2; done
log "ready: export PATH=\"$BIN_DIR:\$PATH\""
