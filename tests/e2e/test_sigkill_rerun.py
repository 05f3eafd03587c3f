"""kill -9 as a user would: SIGKILL the real `python -m assets.main --size tiny --variants ft` (its
whole process group, so the Pipes training subprocess too) while it trains, then run it again: the
rerun exits 0 and nothing is lost or duplicated. One kill point (training) to keep CI's time down;
the batch encode, report and promotion points are covered by the in-process tests
(tests/assets/test_promotion_recovery.py) and were tried by hand (issue #24)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.tables import read_table as _table

# Measured 13.2 min (first leg killed after 412 s, rerun 376 s) on 2 cores shared with another e2e run;
# most of it is the first leg's encode and the rerun's report, which one kill-and-rerun cannot avoid.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "assets.main", "--size", "tiny", "--variants", "ft"]
N_EXAMPLES = 48  # tiny preset: 24 agents x 1 session x 2 annotated replies


def test_sigkill_during_training_then_rerun_completes(tmp_path, models_dir):
    env = {**os.environ, "VVAE_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dagster"),
           "VVAE_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(CMD, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    killed = False
    while proc.poll() is None and time.monotonic() - t0 < 1500:
        if any("running train_job" in ln for ln in lines):
            time.sleep(8)  # inside the training step (model load alone takes longer than this)
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
            break
        time.sleep(0.5)
    proc.wait(timeout=60)
    first_s = time.monotonic() - t0
    assert killed, "the main job ended before training started:\n" + "".join(lines[-40:])
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "home" / "main_result.json").exists()

    t1 = time.monotonic()
    rerun = subprocess.run(CMD, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    print(f"killed after {first_s:.0f} s; rerun {time.monotonic() - t1:.0f} s")
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    res = json.loads((tmp_path / "home" / "main_result.json").read_text())
    assert [job for job, _, ok in res["runs"] if ok] == ["batch_job", "priors_job", "train_job", "report_job"]

    home = tmp_path / "home"
    raw, scrubbed, ext = _table(home, "raw_sessions"), _table(home, "scrubbed_sessions"), _table(home, "persona_extractions")
    assert raw.height == scrubbed.height == 24  # one session per agent, each once
    assert ext.height == N_EXAMPLES and ext["extraction_id"].n_unique() == N_EXAMPLES
    sft = _table(home, "sft_dataset")
    assert sft["example_id"].n_unique() == sft.height  # one row per example, none twice
    assert sft.select("variant", "extraction_id").n_unique() == sft.height
    adapter = home / "artifacts" / "lora_checkpoint" / "smollm2-135m" / "ft" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (home / "artifacts" / "benchmark_report" / "smollm2-135m" / "report.md").is_file()
