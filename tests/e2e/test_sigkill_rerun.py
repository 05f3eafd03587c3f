"""kill -9 as a user would, at every stage, on one home: the real `python -m assets.main --size tiny
--variants sp_ft` is SIGKILLed (its whole process group, so the Pipes training subprocess too) while
it encodes, while it trains, while it writes the report, and between moving the registry alias and
writing champion.json (``VVAE_FAILPOINT``, vvae_pipeline/failpoints.py: milliseconds no outside timer
can hit). Each leg resumes the previous one's leftovers; the last run exits 0 and nothing is lost or
duplicated, and serving and the registry name the same champion. A second main job started while
one runs is refused at once (exit 3) and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.support.tables import read_table as _table

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "assets.main", "--size", "tiny", "--variants", "sp_ft"]
N_EXAMPLES = 48  # tiny preset: 24 agents x 1 session x 2 annotated replies
EXTRACT_PROGRESS = re.compile(r"extract: (\d+)/\d+ items generated")


def _leg(env: dict, kill_when, delay_s: float = 0.0, extra_env: dict | None = None, timeout_s: float = 1800):
    """Run the main job until ``kill_when(lines)`` holds, wait ``delay_s``, SIGKILL its process group.
    kill_when=None: let it end by itself. Returns (returncode, lines, killed)."""
    proc = subprocess.Popen(CMD, cwd=REPO, env={**env, **(extra_env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    t0, killed = time.monotonic(), False
    while proc.poll() is None and time.monotonic() - t0 < timeout_s:
        if kill_when is not None and kill_when(lines):
            time.sleep(delay_s)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                killed = True
            break
        time.sleep(0.5)
    if proc.poll() is None and kill_when is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=120)
    reader.join(timeout=30)
    return proc.returncode, lines, killed


def _seen(text: str):
    return lambda lines: any(text in ln for ln in lines)


def _tail(lines) -> str:
    return "".join(lines[-40:])


def test_sigkill_at_every_stage_then_rerun_completes(tmp_path, models_dir, monkeypatch):
    home = tmp_path / "home"
    env = {**os.environ, "VVAE_HOME": str(home), "DAGSTER_HOME": str(tmp_path / "dagster"),
           "VVAE_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    env.pop("VVAE_FAILPOINT", None)
    times = {}

    # 1. Encoding: killed once the first batch of extractions is cached.
    t = time.monotonic()
    rc, lines, killed = _leg(env, lambda ls: any(EXTRACT_PROGRESS.search(ln) for ln in ls))
    times["encode"] = time.monotonic() - t
    assert killed and rc == -signal.SIGKILL, _tail(lines)
    assert not (home / "main_result.json").exists()

    # A second main job while one runs: refused at once, nothing written.
    t = time.monotonic()
    proc = subprocess.Popen(CMD, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        # Its first "[vvae" line comes after it took the lock (the killed leg left its pid in the file).
        while not any("[vvae" in ln for ln in lines):
            lines.append(proc.stdout.readline())
            assert proc.poll() is None, _tail(lines)
        second = subprocess.run(CMD, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert second.returncode == 3, second.stdout[-2000:] + second.stderr[-2000:]
        assert f"in use by pid {proc.pid}" in second.stderr
        # 2. ... and the first one, resumed from the cache, is killed while it trains.
        while not any("running train_job" in ln for ln in lines):
            lines.append(proc.stdout.readline())
            assert proc.poll() is None, "the main job ended before training started:\n" + _tail(lines)
        time.sleep(8)  # inside the training step (the model load alone takes longer)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=120)
    times["train"] = time.monotonic() - t
    assert proc.returncode == -signal.SIGKILL

    # 3. The report: killed 20 s into report_job (test personas or generation).
    t = time.monotonic()
    rc, lines, killed = _leg(env, _seen("running report_job"), delay_s=20)
    times["report"] = time.monotonic() - t
    assert killed and rc == -signal.SIGKILL, _tail(lines)
    assert any("reused batch" in ln for ln in lines), _tail(lines)  # the batch finished in leg 2
    assert any("marked 1 run(s) of an earlier, killed main job failed" in ln for ln in lines), _tail(lines)
    # Training was killed before its first checkpoint (tiny: 2 steps), so it trained again, once.
    assert sum("lora_checkpoint [smollm2-135m|sp_ft]: trained" in ln for ln in lines) == 1, _tail(lines)

    # 4. Promotion: the process dies right after the registry alias moved, before champion.json.
    t = time.monotonic()
    rc, lines, _ = _leg(env, None, extra_env={"VVAE_FAILPOINT": "promotion:alias_moved"})
    times["promotion"] = time.monotonic() - t
    assert rc == -signal.SIGKILL, _tail(lines)
    out = home / "artifacts" / "promoted_adapter" / "smollm2-135m"
    assert (out / "promotion_intent.json").exists()
    assert not (out / "champion.json").exists()

    # 5. The rerun: exits 0, says what it reused, finishes the promotion.
    t = time.monotonic()
    rerun = subprocess.run(CMD, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    times["rerun"] = time.monotonic() - t
    print("seconds per leg:", {k: round(v) for k, v in times.items()})
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    res = json.loads((home / "main_result.json").read_text())
    assert [job for job, _, ok in res["runs"] if ok] == ["priors_job", "train_job", "report_job"]
    assert len(res["reused_batches"]) == 1

    raw, scrubbed, ext = (
        _table(home, "raw_sessions"),
        _table(home, "scrubbed_sessions"),
        _table(home, "persona_extractions"),
    )
    assert raw.height == scrubbed.height == 24  # one session per agent, each once
    assert ext.height == N_EXAMPLES and ext["extraction_id"].n_unique() == N_EXAMPLES
    sft = _table(home, "sft_dataset")
    assert sft["example_id"].n_unique() == sft.height
    assert sft.select("variant", "extraction_id").n_unique() == sft.height
    adapter = home / "artifacts" / "lora_checkpoint" / "smollm2-135m" / "sp_ft" / "adapter"
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (home / "artifacts" / "benchmark_report" / "smollm2-135m" / "report.md").is_file()

    # Serving and the registry agree; the interrupted promotion was finished, not lost.
    assert not (out / "promotion_intent.json").exists()
    served = json.loads((out / "champion.json").read_text())["version"]
    import logging

    from resources.tracking import MLflowResource

    tracker = MLflowResource().tracker(home, logging.getLogger())
    assert tracker.champion("smollm2-135m")["version"] == served
    assert "finished an interrupted promotion" in rerun.stdout + rerun.stderr

    # No run of the killed legs is left "in flight" on the instance.
    import dagster as dg

    from assets.rerun import IN_FLIGHT

    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        assert not instance.get_run_records(dg.RunsFilter(statuses=IN_FLIGHT))
