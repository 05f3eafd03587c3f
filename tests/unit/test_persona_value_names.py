"""No name in a persona value (issue #26): the value check uses the scrubber's cue-free name
detection (lower-case en given names, zh names after plain verbs), on persona_extractions (a
blocking ERROR check, and extract() nulls such values with reason "pii"), persona_priors and
agent_profiles (``no_pii_in_values``)."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.encode.garbage import no_pii_in_extraction_values, no_pii_in_values
from vvae_pipeline.encode.value_pii import pii_kinds

# Names the curated gazetteer (name_gazetteer.json en_first) does not hold: only the cue-free
# detection knows them.
PLANTED = [("topic", "hanging out with jolene"), ("nickname", "desmond"), ("hobby", "gaming with roxanne"),
           ("topic", "上周遇见邵静怡了"), ("catchphrase", "told mark already")]
CLEAN = {"catchphrase": ["no worries at all", "plot twist", "说白了", "hope so"],
         "nickname": ["sunshine", "captain", "宝贝", "buddy"], "topic": ["stargazing", "grace period", "钓鱼", "周末"],
         "hobby": ["hiking", "rose gardening", "画画", "reading"]}


@pytest.mark.parametrize("dimension, value", PLANTED)
def test_cue_free_names_make_a_value_unfit(dimension, value):
    assert "name" in pii_kinds(value)


def test_everyday_values_stay_fit():
    assert [v for vs in CLEAN.values() for v in vs if pii_kinds(v)] == []


@pytest.mark.parametrize("dimension, value", PLANTED)
def test_prior_and_profile_check_fails_on_a_planted_name(dimension, value):
    long = pl.DataFrame({"dimension": ["tone", dimension], "value": ["calm", value]})
    report = no_pii_in_values(long)
    assert not report.passed and report.failures[0]["cases"] == [f"{dimension}: name x1"]
    assert value not in json.dumps(report.failures, ensure_ascii=False)


def _wide(**planted) -> pl.DataFrame:
    rows = [{d: vs[i % len(vs)] for d, vs in CLEAN.items()} | {"tone": "calm"} for i in range(8)]
    rows[3].update(planted)
    return extraction_frame(rows)


def test_extraction_check_passes_clean_values_and_fails_a_planted_name():
    assert no_pii_in_extraction_values(_wide()).passed
    report = no_pii_in_extraction_values(_wide(nickname="desmond"))
    assert not report.passed and report.n_rows == 8
    assert report.failures[0]["cases"] == ["nickname: name x1"] and "desmond" not in json.dumps(report.failures)
    placeholder = no_pii_in_extraction_values(_wide(topic="[NAME_1]的生日"))
    assert placeholder.failures[0]["cases"] == ["topic: placeholder x1"]


def test_extraction_check_is_a_blocking_error_check_of_the_asset():
    from assets.encode import EXTRACTION_CHECKS

    spec = {s.name: s for s in EXTRACTION_CHECKS.specs}["no_pii_in_values"]
    assert spec.blocking
    results = {r.check_name: r for r in EXTRACTION_CHECKS.results(_wide(hobby="gaming with roxanne"))}
    assert not results["no_pii_in_values"].passed
    assert results["no_pii_in_values"].severity == dg.AssetCheckSeverity.ERROR
    assert {r.check_name: r.passed for r in EXTRACTION_CHECKS.results(_wide())}["no_pii_in_values"]
