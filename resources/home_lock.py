"""One home, one writer: an advisory lock on ``$VVAE_HOME/.lock``.

``python -m assets.main`` holds it for its whole run, so a second main job on the same home fails at
once with the holder's pid instead of interleaving writes (both would rewrite the same tables,
adapters and champion.json). The landing sensor only looks (``lock_holder``) and skips its tick
while the lock is held. A run launched elsewhere (sensor, UI, schedule) takes it for each step
(``StorageResource.yield_for_execution``), waiting while a main job holds it; the main job refuses
to start while such a run is queued or running (assets/rerun.py). The lock is re-entrant within a
process: the main job's in-process steps use the lock their process already holds.

``fcntl.flock`` is released by the kernel when the holder dies, SIGKILL included, so a killed run
never leaves a stale lock behind; the pid written into the file is only there for the message.
It is local to one machine (flock on NFS is not reliable): a deployment with several machines uses
Dagster's run queue instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".lock"
_HELD: dict[Path, int] = {}  # lock files this process holds -> nesting depth
_HELD_GUARD = threading.Lock()


class HomeBusy(RuntimeError):
    """Another process holds the home's lock."""


def lock_path(home: Path) -> Path:
    return Path(home) / LOCK_NAME


def _holder_text(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process (no pid recorded yet)"
    return (f"pid {info.get('pid')} on {info.get('host')} ({info.get('what', '?')}, since "
            f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(info.get('since', 0)))})")


@contextlib.contextmanager
def home_lock(home: Path, what: str = "python -m assets.main", wait_s: float = 0.0,
              on_wait=None) -> Iterator[Path]:
    """Hold the home's lock for the ``with`` block; HomeBusy (naming the holder) when another process
    holds it after ``wait_s`` seconds (0: fail at once). ``on_wait(holder)`` is called once when it
    has to wait. Already held by this process: the block runs under that hold."""
    path = lock_path(home).resolve()
    with _HELD_GUARD:
        nested = path in _HELD
        if nested:
            _HELD[path] += 1
    if nested:
        try:
            yield path
        finally:
            with _HELD_GUARD:
                _HELD[path] -= 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait_s)
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None and waited is False:
                    on_wait(_holder_text(fd))
                waited = True
                if time.monotonic() >= deadline:
                    raise HomeBusy(f"{Path(home)} is in use by {_holder_text(fd)}: one writer per home. Wait "
                                   f"for it to finish, or use another VVAE_HOME ({path})") from None
                time.sleep(0.5)
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                 "since": time.time()}).encode())
        os.fsync(fd)
        with _HELD_GUARD:
            _HELD[path] = 1
        try:
            yield path
        finally:
            with _HELD_GUARD:
                _HELD.pop(path, None)
            # Emptied before unlocking: a holder's pid must not outlive its lock.
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def lock_holder(home: Path) -> str | None:
    """Who holds the home's lock (a phrase for a message), or None when it is free. Takes and drops
    the lock when free, so it never blocks."""
    path = lock_path(home)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder_text(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
