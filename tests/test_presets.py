"""Every run preset of `python -m assets.main` names real variants and a run config its jobs accept."""

from __future__ import annotations

import dagster as dg
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
