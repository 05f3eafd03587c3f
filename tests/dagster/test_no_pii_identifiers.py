"""The blocking no_pii check on issue #26's identifier classes, as Dagster runs it: a batch with a
plate or a platform handle planted passes with the full scrubber; with the scrubber's recognizers
of that class removed, the independent detector (residual.py) fails the check and no scrubbed
table is written. Planted values are from tests/support/pii_probe_v3_structured.py."""

from __future__ import annotations

import pytest

from resources.storage import StorageResource
from tests.dagster.test_ingest_assets import _checks, _land, _materialize
from vvae_pipeline.ingest.demo import generate_demo
from vvae_pipeline.ingest.landing import batch_key

PLANTS = {
    # entity removed -> (where, text, value)
    "VEHICLE": ("x", "新能源的，牌照是鲁F·D29461，蓝白渐变那种", "D29461"),
    "HANDLE": ("agent", "xiaohongshu id: lin.bakes", "lin.bakes"),
}


def _batch(tmp_path, where: str, text: str) -> str:
    sessions, _ = generate_demo(n_agents=2, sessions_per_agent=2, seed=5)
    if where == "x":
        sessions[0]["annotations"][0]["rewritten_text"] = text
    else:
        sessions[1]["turns"][1]["text"] = text
    return batch_key(_land(tmp_path, sessions))


@pytest.mark.parametrize("entity", sorted(PLANTS))
def test_no_pii_fails_when_the_scrubber_misses_an_identifier_class(tmp_path, monkeypatch, entity):
    from vvae_pipeline.scrub import engine

    where, text, _value = PLANTS[entity]
    key = _batch(tmp_path, where, text)
    real = engine.recognizers_for
    monkeypatch.setattr(engine, "recognizers_for", lambda lang, exclude=(): real(lang, (*exclude, entity)))
    result = _materialize(tmp_path, key, raise_on_error=False)
    assert not result.success and _checks(result)[("scrubbed_sessions", "no_pii")] is False
    evaluation = next(e for e in result.get_asset_check_evaluations() if e.check_name == "no_pii")
    assert evaluation.metadata[f"residual_{entity.lower()}"].value >= 1
    assert not StorageResource(home=str(tmp_path)).table_path("scrubbed_sessions", key).exists()


def test_no_pii_passes_the_same_batches_with_the_full_scrubber(tmp_path):
    for k, (where, text, _value) in enumerate(PLANTS.values()):
        home = tmp_path / str(k)
        key = _batch(home, where, text)
        result = _materialize(home, key)
        assert result.success and _checks(result)[("scrubbed_sessions", "no_pii")] is True
