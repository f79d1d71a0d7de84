#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: Python 3.13 venv with the locked dev requirements,
# and redis-server from the system's packages when it is missing. Called by `make setup`.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.requirements.sha256"

log() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

version_ok() {  # $1 = interpreter; true when it runs and is >= 3.13 (what the lock is resolved for)
  "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 13) else 1)' >/dev/null 2>&1
}

find_python() {
  # 1. python3.13 on PATH (a pyenv shim that is not selected fails to run, so run it).
  if command -v python3.13 >/dev/null 2>&1 && python3.13 -c '' >/dev/null 2>&1; then
    command -v python3.13; return
  fi
  # 2. pyenv: a 3.13 it has installed, even when it is not the selected version.
  if command -v pyenv >/dev/null 2>&1 || [ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]; then
    local root="${PYENV_ROOT:-$HOME/.pyenv}" candidate
    for candidate in $(ls -d "$root"/versions/3.13* 2>/dev/null | sort -V -r); do
      if [ -x "$candidate/bin/python3.13" ] && "$candidate/bin/python3.13" -c '' >/dev/null 2>&1; then
        echo "$candidate/bin/python3.13"; return
      fi
    done
  fi
  # 3. Fall back to a newer python3 (>= 3.13: the lock's floor), saying so: Lambda runs 3.13.
  local best="" v
  for v in 3.14 3; do
    if command -v "python$v" >/dev/null 2>&1 && version_ok "python$v"; then best=$(command -v "python$v"); break; fi
  done
  if [ -n "$best" ]; then
    log "Python 3.13 not found (PATH or pyenv); falling back to $best ($("$best" -V 2>&1))."
    log "Lambda runs python3.13: install it (e.g. 'pyenv install 3.13') for a faithful local run; 'sam build' needs it on PATH."
    echo "$best"; return
  fi
  log "No Python >= 3.13 found (the locked packages are resolved for 3.13, the Lambda runtime). Install Python 3.13 (https://www.python.org/downloads/ or 'pyenv install 3.13') and re-run."
  exit 1
}

install_redis() {
  if command -v redis-server >/dev/null 2>&1; then return; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "redis-server is missing; installing it from the system's packages."
  if command -v apt-get >/dev/null 2>&1; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
    # Debian's package starts a system service on 6379; the project starts its own servers.
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
  elif command -v dnf >/dev/null 2>&1; then $sudo dnf install -y -q redis || $sudo dnf install -y -q valkey
  elif command -v yum >/dev/null 2>&1; then $sudo yum install -y -q redis
  elif command -v apk >/dev/null 2>&1; then $sudo apk add --quiet redis
  elif command -v brew >/dev/null 2>&1; then brew install redis
  elif command -v pacman >/dev/null 2>&1; then $sudo pacman -S --noconfirm redis
  else
    log "Cannot install redis-server: no known package manager. Install Redis 7+ and re-run."; exit 1
  fi
  command -v redis-server >/dev/null 2>&1 || { log "redis-server still not on PATH after install."; exit 1; }
}

# A headless browser for the dashboard's test and `make screenshot` (Debian: chromium).
install_chromium() {
  if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then return; fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "chromium is missing; installing it from the system's packages (the dashboard's browser test)."
  if command -v apt-get >/dev/null 2>&1; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  elif command -v dnf >/dev/null 2>&1; then $sudo dnf install -y -q chromium
  elif command -v apk >/dev/null 2>&1; then $sudo apk add --quiet chromium
  elif command -v brew >/dev/null 2>&1; then brew install --cask chromium
  elif command -v pacman >/dev/null 2>&1; then $sudo pacman -S --noconfirm chromium
  else
    log "Cannot install chromium: no known package manager. Install Chromium and re-run."; return 1
  fi
}

# Fonts for the badge's browser test: CJK and colour emoji (Debian's Noto), so Chromium draws
# those labels with real glyphs, as readers' machines do, rather than empty boxes.
install_fonts() {
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=ja 2>/dev/null)" ] && return
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  log "installing CJK and emoji fonts from the system's packages (the badges' browser test)."
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null \
    || { $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
         && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null; }
}

want=$(cat requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c '' >/dev/null 2>&1; then
  PY=$(find_python)
  log "creating $VENV with $PY"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  started=$SECONDS
  log "installing the locked packages of requirements-dev.txt into $VENV (about a minute the first time)"
  # Every package pinned and checked against its hash (make lock writes the file): the same
  # bytes on every machine, or the install stops.
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
  echo "$want" > "$STAMP"
  log "packages installed in $((SECONDS - started)) s"
fi
install_redis
# Only the targets that drive a browser ask for one (the dashboard's browser test in `make
# test`, `make screenshot`): `make dev` never installs a browser on a developer's machine.
if [ "${1:-}" = "--browser" ]; then
  install_chromium || log "chromium could not be installed: the browser test will be skipped, saying why."
  install_fonts || log "CJK fonts could not be installed: the badges' browser test measures Latin labels only."
fi
log "ready: $("$VENV/bin/python" -V), $(redis-server --version | cut -d' ' -f1-3)"
