"""One home, one writer: a second `python -m assets.main` on a home whose lock another process holds
fails at once with the holder's pid; a SIGKILLed holder leaves no stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resources.home_lock import HomeBusy, home_lock, lock_holder

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from resources.home_lock import home_lock
with home_lock(sys.argv[1], what="test holder"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield proc
    proc.kill()
    proc.wait()


def test_second_main_job_fails_fast_naming_the_holder(tmp_path, holder):
    env = {**os.environ, "VVAE_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")}
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "assets.main", "--size", "tiny"], check=False, cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    assert proc.returncode == 3, proc.stderr[-2000:]
    assert f"in use by pid {holder.pid}" in proc.stderr and "test holder" in proc.stderr
    assert not (tmp_path / "landing").exists()  # it wrote nothing into the home
    assert took < 60  # interpreter start and imports only, no Dagster run


def test_in_process_lock_waits_then_fails_and_a_killed_holder_frees_it(tmp_path, holder):
    assert f"pid {holder.pid}" in lock_holder(tmp_path)
    t0 = time.monotonic()
    with pytest.raises(HomeBusy, match=f"pid {holder.pid}"), home_lock(tmp_path, wait_s=1.0):
        pass
    assert time.monotonic() - t0 >= 1.0
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert lock_holder(tmp_path) is None  # the kernel drops a dead process's flock
    with home_lock(tmp_path):
        assert f"pid {os.getpid()}" in lock_holder(tmp_path)  # flock is per open file: we see ourselves
    assert (tmp_path / ".lock").read_text() == ""  # no pid left behind after release
