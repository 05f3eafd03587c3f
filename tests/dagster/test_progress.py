"""The library's progress lines (Python logging under ``vvae_pipeline``) reach the Dagster run log
while an asset runs inside ``assets.progress.library_logs``, and only then."""

from __future__ import annotations

import logging

import dagster as dg

from assets.progress import LIBRARY_LOGGER, library_logs
from vvae_pipeline.evaluate import dialogbench as db
from vvae_pipeline.llm.generation import progress_due

ITEMS = [{"id": f"ed-{i}", "task": "ED", "language": "en", "query": "q", "history": [{"speaker": "A", "text": "t"}],
          "choices": ["red", "green", "blue", "gold"], "label": "A"} for i in range(3)]


def _letter_a(prompts, n):  # a stand-in scorer (unit test only): always letter A
    return [[0.0] + [-5.0] * (n - 1) for _ in prompts]


def _messages(forward: bool) -> list[str]:
    @dg.asset
    def scored(context):
        if forward:
            with library_logs(context.log):
                db.evaluate(ITEMS, _letter_a)
        else:
            db.evaluate(ITEMS, _letter_a)

    with dg.DagsterInstance.ephemeral() as instance:
        res = dg.materialize([scored], instance=instance)
        assert res.success
        return [e.user_message for e in instance.all_logs(res.run_id)]


def test_a_library_progress_line_shows_in_the_run_log():
    msgs = _messages(forward=True)
    assert any("vvae_pipeline.evaluate.dialogbench: dialogbench: 3/3 items scored" in m for m in msgs), msgs


def test_without_the_block_it_does_not_and_the_logger_is_restored():
    assert not any("items scored" in m for m in _messages(forward=False))
    assert logging.getLogger(LIBRARY_LOGGER).level == logging.NOTSET
    assert not logging.getLogger(LIBRARY_LOGGER).handlers


def test_progress_lines_every_five_percent_and_at_the_end():
    due = [k for k in range(1, 101) if progress_due(k, k - 1, 100)]
    assert due == list(range(5, 101, 5))
    assert [k for k in range(1, 4) if progress_due(k, k - 1, 3)] == [1, 2, 3]
    assert progress_due(48, 32, 48) and not progress_due(2, 1, 48)
