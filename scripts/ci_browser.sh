#!/usr/bin/env bash
# What the UI test (tests/ui/test_dagster_ui.py) needs, idempotently:
#   - Debian's chromium (apt-get), driven through its own binary /usr/bin/chromium;
#   - Python Playwright in .venv (pip). Its wheel carries the driver; no browser is downloaded
#     (`playwright install` is never run: the test passes executable_path=/usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[ci_browser] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium (apt-get; ~1-2 min)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >&2
fi
PY=${VVAE_PYTHON:-.venv/bin/python}
if ! "$PY" -c 'import playwright.sync_api' 2>/dev/null; then
    log "installing playwright into $PY's environment"
    "$PY" -m pip install -q 'playwright>=1.50,<2' >&2
fi
log "ready: $(/usr/bin/chromium --version 2>/dev/null), playwright $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
