"""The encoder scored on real labelled corpora (ConvAI2 wild, CPED, DailyDialog) with SmolLM2, small and seeded.

Asserts that the table is computed with intervals and baselines (and that the baselines are what
they must be), not that SmolLM2-135M is good: the full table comes from
``bench/bench_encoder_quality.py``. ~1-2 min on 2 cores (16 items per corpus).
"""

from __future__ import annotations

import pytest

from vvae_pipeline.encode import real_corpora as rc
from vvae_pipeline.encode.extract import ExtractParams, extract
from vvae_pipeline.encode.quality import markdown

N_ITEMS = 16


@pytest.mark.slow
def test_real_corpus_quality_table_with_baselines(shared_data, smollm2_path):
    from vvae_pipeline.llm.engines import TransformersEngine

    engine = TransformersEngine(smollm2_path, "smollm2-135m", batch_size=16)
    results = {}
    for corpus in rc.CORPORA:
        items, labels = rc.load(corpus, shared_data, N_ITEMS, seed=0)
        assert items.height == N_ITEMS
        df, stats = extract(items, engine, ExtractParams())
        assert stats["status"]["failed"] == 0
        result = results[corpus] = rc.evaluate(corpus, df, labels)
        assert result["n_matched"] == N_ITEMS
        for rep in result["dimensions"].values():
            null = rep["baselines"]["always_null"]
            assert null["n_pred"] == 0 and null["precision"] is None and null["null_rate"] == 1.0
            assert null["recall"] == (0.0 if rep["n_true"] else None)
            maj = rep["baselines"]["majority"]
            assert maj["n_pred"] == N_ITEMS if rep["majority_value"] else maj["n_pred"] == 0
            for system in (rep, maj):
                for key in ("precision_ci", "recall_ci"):
                    if system[key] is not None:
                        lo, hi = system[key]
                        assert 0.0 <= lo <= hi <= 1.0
            assert 0 <= rep["agent_recovered"]["k"] <= rep["agent_recovered"]["n"]
        table = markdown(result, corpus)
        assert all(f"| {d} | always null |" in table for d in rc.DIMS[corpus])
    # CPED's Extraversion rule labels most characters, and the emotion of nearly every DailyDialog
    # utterance maps to a vibe: the truth is rarely null.
    assert results["cped"]["dimensions"]["personality"]["true_null_rate"] < 0.5
    assert results["dailydialog"]["dimensions"]["vibe"]["true_null_rate"] < 0.5
