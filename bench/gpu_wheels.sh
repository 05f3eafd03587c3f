#!/usr/bin/env bash
# Wheels the lent GPU machine lacks for bench/bench_train.py (it has no package registry, but has
# PyTorch, Triton, numpy, pandas, pyarrow, psutil, xxhash, httpx, ...). Run here, then carry .whl:
#   bash bench/gpu_wheels.sh                       # ~22 MB into .whl/train (ignored by git)
#   run(carry=[".whl"], command="bash bench/gpu_bench_train.sh")
# Versions are this repo's .venv pins, so the GPU run uses the same trl/transformers code paths.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl/train
.venv/bin/pip download --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any -d .whl/train \
  transformers==5.23.0 trl==1.16.0 peft==0.21.2 accelerate==1.15.0 datasets==5.2.0 tokenizers==0.23.3 \
  huggingface_hub==2.4.0 safetensors==0.8.0 liger-kernel==0.8.5 dill==0.4.1 multiprocess==0.70.19 \
  httpx2==2.16.2 httpcore2==2.16.2 truststore==0.10.5
du -sh .whl/train
