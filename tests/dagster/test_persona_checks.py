"""The garbage checks through Dagster: on persona_priors and on each persona_extractions batch a
planted-garbage table gives a failed WARN check by default (downstream still runs) and an ERROR
that stops downstream assets under VVAE_PERSONA_CHECKS=block; a name in a prior is an ERROR always."""

from __future__ import annotations

import json

import dagster as dg
import polars as pl
import pytest

from assets.checks import PERSONA_CHECKS_ENV, persona_check_severity
from assets.encode import persona_extractions
from assets.partitions import BATCH_PARTITIONS_NAME
from assets.priors import PRIOR_CHECKS, persona_priors
from resources.llm import EncoderResource
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import ParquetIOManager, StorageResource
from tests.dagster.test_priors_assets import EXTRACTIONS, checks_by_name, land
from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.latent import DIMENSION_NAMES, VIBES
from vvae_pipeline.scrub.sessions import SCRUBBED_COLUMNS

# Issue #23's shape: tone "formal" on 22 of 24 examples (92%).
GARBAGE = [{"agent_id": f"a{i}", "tone": "formal" if i < 22 else "calm", "vibe": VIBES[i % len(VIBES)]}
           for i in range(24)]


@pytest.fixture()
def env(tmp_path):
    """A temp home with real resources, as test_priors_assets' ``land`` expects."""
    home = str(tmp_path / "vvae")
    storage = StorageResource(home=home)
    return {"home": home, "storage": storage, "instance": dg.DagsterInstance.ephemeral(),
            "resources": {"storage": storage, "io_manager": ParquetIOManager(home=home)}}


@dg.asset(deps=["persona_priors"])
def downstream_of_priors() -> None:
    """Stands in for sft_dataset: it runs only when the blocking prior checks let it."""


def _run_priors(env):
    return dg.materialize([EXTRACTIONS, persona_priors, *PRIOR_CHECKS, downstream_of_priors],
                          resources=env["resources"], instance=env["instance"],
                          selection=[persona_priors, downstream_of_priors], raise_on_error=False)


def _materialized(result) -> set[str]:
    return {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}


def test_setting_reads_warn_by_default_block_on_request(monkeypatch):
    monkeypatch.delenv(PERSONA_CHECKS_ENV, raising=False)
    assert persona_check_severity() == dg.AssetCheckSeverity.WARN
    monkeypatch.setenv(PERSONA_CHECKS_ENV, "block")
    assert persona_check_severity() == dg.AssetCheckSeverity.ERROR
    monkeypatch.setenv(PERSONA_CHECKS_ENV, "stop")
    with pytest.raises(ValueError, match="warn"):
        persona_check_severity()


@pytest.fixture(params=["warn", "block"])
def mode(request, monkeypatch):
    """The persona-check setting: unset (WARN, the default) or VVAE_PERSONA_CHECKS=block."""
    if request.param == "block":
        monkeypatch.setenv(PERSONA_CHECKS_ENV, "block")
    else:
        monkeypatch.delenv(PERSONA_CHECKS_ENV, raising=False)
    return request.param


def test_garbage_prior_warns_by_default_and_blocks_under_the_setting(env, mode):
    land(env, {"b1": GARBAGE})
    result = _run_priors(env)
    checks = checks_by_name(result)
    top = checks["top_value_share"]
    assert not top.passed and checks["function_word_share"].passed
    figures = top.metadata["figures"].value
    assert figures["dimensions"]["tone"]["top_value"] == "formal" and figures["dimensions"]["tone"]["answers"] == 24
    assert figures["max_top_share"] == 0.35
    # The structural checks still pass: only the garbage checks see this.
    assert checks["schema"].passed and checks["no_pii_in_values"].passed
    if mode == "warn":  # a WARN failure of a blocking check does not stop downstream assets
        assert top.severity == dg.AssetCheckSeverity.WARN
        assert result.success and "downstream_of_priors" in _materialized(result)
    else:
        assert top.severity == dg.AssetCheckSeverity.ERROR
        assert not result.success and "downstream_of_priors" not in _materialized(result)


def test_a_name_in_an_extraction_is_left_out_of_the_prior(env, monkeypatch):
    monkeypatch.delenv(PERSONA_CHECKS_ENV, raising=False)
    land(env, {"b1": [{"agent_id": "a1", "topic": "emily"}, {"agent_id": "a2", "topic": "hiking"}]})
    result = _run_priors(env)
    assert result.success and checks_by_name(result)["no_pii_in_values"].passed


def test_name_in_a_prior_is_an_error_by_default_and_never_reaches_metadata(env, monkeypatch):
    """The check stands behind the priors' own filter: with the filter broken, the name is caught."""
    import polars as pl

    monkeypatch.delenv(PERSONA_CHECKS_ENV, raising=False)
    monkeypatch.setattr("vvae_pipeline.priors.build.unfit_values",
                        lambda long: pl.DataFrame(schema={"dimension": pl.Utf8, "value": pl.Utf8}))
    land(env, {"b1": [{"agent_id": "a1", "topic": "emily"}, {"agent_id": "a2", "topic": "hiking"}]})
    result = _run_priors(env)
    check = checks_by_name(result)["no_pii_in_values"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "topic: name x1" in check.metadata["message"].value
    assert "emily" not in json.dumps({k: str(v.value) for k, v in check.metadata.items()}).lower()
    assert not result.success and "downstream_of_priors" not in _materialized(result)


# ---------------------------------------------------------------- persona_extractions, per batch

BATCH = "b-garbage"


def _sessions() -> pl.DataFrame:
    """One scrubbed session whose agent declares the catchphrase its x contains."""
    turn = {"role": "agent", "text": "no worries at all", "ts": None}
    row = {"batch_id": BATCH, "source_file": "g.jsonl", "source_line": 1, "session_id": "s1", "agent_id": "agent_luna",
           "user_id": "u1", "language": "en", "turns": [turn],
           "annotations": [{"turn_index": 0, "rewritten_text": "no worries at all", "annotator_id": "a"}],
           "x_source": "annotation", "agent_profile": json.dumps({"catchphrase": "no worries at all"}), "pii_found": 0}
    return pl.DataFrame([row], schema=SCRUBBED_COLUMNS)


def _planted_extract(items, engine, params, declared=None):
    """The encoder's output as issue #23 saw it: tone "formal" everywhere, the declared catchphrase missed."""
    rows = [{"agent_id": "agent_luna", "session_id": "s1", "batch_id": BATCH, "reply": "no worries at all",
             "tone": "formal", "catchphrase": None} for _ in range(24)]
    df = extraction_frame(rows)
    stats = {"status": {"ok": 24, "retried": 0, "failed": 0}, "grounding_rejections": 0,
             "grounding_rejections_by_dim": {}, "off_schema_values": 0, "null_rate": {d: 0.0 for d in DIMENSION_NAMES},
             "n_cached": 0, "n_generated": 24, "items_per_s": 1.0, "not_answered_by_engine": []}
    return df, stats


def _materialize_batch(env):
    """persona_extractions of one batch (with the patched extract) and an asset downstream of it."""
    storage = env["storage"]
    storage.table_path("scrubbed_sessions", BATCH).parent.mkdir(parents=True, exist_ok=True)
    _sessions().write_parquet(storage.table_path("scrubbed_sessions", BATCH))
    env["instance"].add_dynamic_partitions(BATCH_PARTITIONS_NAME, [BATCH])

    @dg.asset(partitions_def=persona_extractions.partitions_def, deps=["persona_extractions"])
    def downstream_of_extractions() -> None:
        """Stands in for the assets fed by one batch."""

    upstream = dg.AssetSpec("scrubbed_sessions", partitions_def=persona_extractions.partitions_def)
    result = dg.materialize(
        [upstream, persona_extractions, downstream_of_extractions],
        selection=[persona_extractions, downstream_of_extractions],
        partition_key=BATCH,
        instance=env["instance"],
        resources={
            "storage": storage,
            "io_manager": ParquetIOManager(home=env["home"]),
            "pseudonyms": PseudonymKeyResource(),
            "encoder": EncoderResource(engine="openai", base_url="http://127.0.0.1:9/v1", model="none"),
        },
        raise_on_error=False,
    )
    return result


def test_extraction_batch_garbage_checks_run_in_the_asset_step(env, monkeypatch, mode):
    # The encoder is not under test here (its own tests are): the asset's check wiring is.
    monkeypatch.setattr("assets.encode.extract", _planted_extract)
    result = _materialize_batch(env)
    checks = checks_by_name(result)
    assert {"schema", "no_pii_in_values", "top_value_share", "function_word_share", "grounding_rate",
            "declared_agreement"} == set(checks)
    assert checks["schema"].passed and checks["grounding_rate"].passed and checks["function_word_share"].passed
    assert checks["no_pii_in_values"].passed
    top, declared = checks["top_value_share"], checks["declared_agreement"]
    assert not top.passed and not declared.passed
    assert top.metadata["figures"].value["dimensions"]["tone"]["top_share"] == 1.0
    assert declared.metadata["figures"].value["dimensions"]["catchphrase"] == {
        "examples": 24,
        "agreed": 0,
        "recall": 0.0,
    }
    expected = dg.AssetCheckSeverity.ERROR if mode == "block" else dg.AssetCheckSeverity.WARN
    assert top.severity == expected and declared.severity == expected
    assert ("downstream_of_extractions" in _materialized(result)) is (mode == "warn")


def _named_extract(items, engine, params, declared=None):
    """Clean values but one: a third party's name, lower case and without a cue (issue #26)."""
    df, stats = _planted_extract(items, engine, params, declared)
    return df.with_columns(
        tone=pl.lit("calm"), topic=pl.Series(["gaming with roxanne"] + [None] * 23, dtype=pl.Utf8)
    ), stats


def test_a_name_in_an_extraction_value_is_an_error_in_either_mode(env, monkeypatch, mode):
    monkeypatch.setattr("assets.encode.extract", _named_extract)
    result = _materialize_batch(env)
    check = checks_by_name(result)["no_pii_in_values"]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "roxanne" not in json.dumps({k: str(v.value) for k, v in check.metadata.items()}).lower()
    assert "downstream_of_extractions" not in _materialized(result)
