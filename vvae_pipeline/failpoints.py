"""Fault injection for the kill-and-rerun tests: ``VVAE_FAILPOINT=<name>`` makes the process SIGKILL
itself when it reaches ``failpoint(<name>)``, as a power loss or an OOM kill would at that point.

Only the moments a test cannot hit by timing a kill from outside are named (promotion takes
milliseconds between moving the registry alias and writing champion.json). Unset, it costs one
environment lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "VVAE_FAILPOINT"
POINTS = ("promotion:alias_moved",)


def failpoint(name: str) -> None:
    if name not in POINTS:
        raise ValueError(f"unknown failpoint {name!r}; known: {POINTS}")
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
