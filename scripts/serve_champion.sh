#!/usr/bin/env bash
# Serve the champion LoRA adapter with vLLM's OpenAI-compatible server (docs/serving.md).
#   scripts/serve_champion.sh --adapter .vvae/artifacts/lora_checkpoint/smollm2-135m/sp_ft/adapter
#   scripts/serve_champion.sh --backbone smollm2-135m     # adapter_path from promoted_adapter's champion.json
#   scripts/serve_champion.sh --adapter DIR --print       # show the vLLM command, start nothing
# Extra vLLM flags after `--`. The interpreter is $VVAE_VLLM_PYTHON, else .venv-vllm/bin/python
# (scripts/setup_vllm.sh on CPU, scripts/setup_vllm_gpu.sh on GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VVAE_VLLM_PYTHON:-.venv-vllm/bin/python}"
if [ ! -x "$PY" ]; then
  echo "no vLLM interpreter at $PY: run scripts/setup_vllm.sh (CPU) or scripts/setup_vllm_gpu.sh, or set VVAE_VLLM_PYTHON" >&2
  exit 2
fi
exec "$PY" -m vvae_pipeline.llm.serving "$@"
