#!/usr/bin/env bash
# On the lent GPU machine: install the carried wheels over the image's PyTorch (no deps, so torch
# is never replaced), then run the training speed bench and leave the numbers in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
$PY -m pip install -q --no-deps --no-index --find-links .whl/train .whl/train/*.whl
$PY -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, torch.cuda.get_device_name())"
$PY -c "import liger_kernel; print('liger', 'ok')" || echo "liger-kernel not importable: ours runs without it"
OUT=${OUT:-/tmp}
# One run, both trainers (20 timed steps each after 3 warm-up steps); --json keeps the numbers.
$PY bench/bench_train.py --json "$OUT/bench_train.json" "$@" 2>&1 | grep -v -i warn | tee "$OUT/bench_train.log"
