"""The library's progress lines in the Dagster run log.

``vvae_pipeline`` never imports Dagster; its long loops (extraction, generation, DialogBench) log
progress with Python ``logging`` under the ``vvae_pipeline`` logger. ``library_logs(context.log)``
forwards those records to the step's ``context.log`` while an asset runs, so the UI and the main
job's console show how far a 20-minute step is. The library logs counts, never record text (PII);
this module only relays what it is given.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

LIBRARY_LOGGER = "vvae_pipeline"


class _ToContextLog(logging.Handler):
    """Relays records logged on the thread that entered the block (a concurrent step's records stay
    in their own step's log)."""

    def __init__(self, log, level: int):
        super().__init__(level)
        self.log = log
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        try:
            self.log.log(record.levelno, f"{record.name}: {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a logging failure must never fail the step (logging.Handler convention)
            self.handleError(record)


@contextmanager
def library_logs(log, level: int = logging.INFO, logger: str = LIBRARY_LOGGER) -> Iterator[None]:
    """Forward ``logger``'s records at ``level`` and above to ``log`` (a step's ``context.log``)."""
    lib = logging.getLogger(logger)
    handler = _ToContextLog(log, level)
    old_level, old_propagate = lib.level, lib.propagate
    # The library logger is NOTSET (inherits WARNING from root) unless configured: INFO progress
    # would never reach a handler, so lower it for the block only; the records lowered into view go
    # to the run log alone (propagated, the main job's console printed each line twice).
    if lib.getEffectiveLevel() > level:
        lib.setLevel(level)
        lib.propagate = False
    lib.addHandler(handler)
    try:
        yield
    finally:
        lib.removeHandler(handler)
        lib.setLevel(old_level)
        lib.propagate = old_propagate
