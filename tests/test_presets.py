"""Every run preset of `python -m assets.main` names real variants and a run config its jobs accept."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from assets.definitions import build_definitions
from assets.main import SIZE_NAMES, load_preset
from vvae_pipeline.variants import get_variant


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    return build_definitions(home=tmp_path_factory.mktemp("home"))


@pytest.mark.parametrize("size", SIZE_NAMES)
def test_preset_variants_exist(size):
    for v in load_preset(size)["variants"]:
        get_variant(v)  # KeyError on a misspelt variant


@pytest.mark.parametrize("size", SIZE_NAMES)
def test_preset_run_config_validates(size, defs):
    for job_name, run_config in load_preset(size)["jobs"].items():
        dg.validate_run_config(defs.resolve_job_def(job_name), run_config)


def test_a_misspelt_config_key_fails(defs):
    with pytest.raises(dg.DagsterInvalidConfigError):
        dg.validate_run_config(defs.resolve_job_def("train_job"),
                               {"ops": {"lora_checkpoint": {"config": {"num_epoch": 1}}}})


def test_unknown_size_fails():
    with pytest.raises(ValueError, match="unknown size"):
        load_preset("huge")


def _split_counts(size: str) -> pl.DataFrame:
    """(split, language, examples, agents) that `size`'s demo data and split fractions give, with
    the development pseudonym key (the split hashes pseudonymous agent ids)."""
    from vvae_pipeline.ingest.demo import generate_demo
    from vvae_pipeline.params import SFTParams
    from vvae_pipeline.scrub.pseudonyms import DEV_KEY, pseudonymize
    from vvae_pipeline.sft.splits import assign_splits

    preset = load_preset(size)
    _, truth = generate_demo(seed=0, **preset["demo"])
    truth = pseudonymize(truth, DEV_KEY, {"agent_id": "agent"})
    params = SFTParams(**preset["jobs"]["train_job"]["ops"]["sft_dataset"]["config"])
    splits = assign_splits(truth["agent_id"], params.fractions, params.split_seed)
    return (truth.join(splits, on="agent_id").group_by("split", "language")
            .agg(pl.len().alias("examples"), pl.col("agent_id").n_unique().alias("agents")))


def test_reproduce_has_200_test_prompts_from_both_languages():
    counts = _split_counts("reproduce")
    test = counts.filter(pl.col("split") == "test")
    assert test["examples"].sum() >= 200, counts
    assert test["agents"].sum() >= 8, counts  # the bootstrap over test agents needs agents
    assert set(test["language"]) == {"en", "zh"}, counts
    cap = load_preset("reproduce")["jobs"]["report_job"]["ops"]["benchmark_report"]["config"]["max_test_prompts"]
    assert cap >= 200
    assert counts.filter(pl.col("split") == "train")["examples"].sum() >= 150, counts


def test_demo_test_split_holds_at_least_4_agents():
    test = _split_counts("demo").filter(pl.col("split") == "test")
    assert test["agents"].sum() >= 4
