"""The whole DAG on real text: CPED (Chinese TV dialogue) landed by its adapter, then the main job's
own command line with ``--data`` at size tiny (default variants FT, P+FT, SP+FT), real SmolLM2 on CPU.

CPED's adapter annotates every agent turn, an agent's opening turn (no context) included: those rows
are the ones that once failed FT and P+FT training with an empty chat conversation.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from tests.support.tables import read_table as _table

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# 50 sessions x at most 2 annotated agent turns = 100 examples from 6 agents, 25 of them opening turns.
# Measured: the main job took 18.4 min on 2 cores shared with another encoder run (load 4-6): batch
# 8.3 min (encoding 100 examples), priors 7 s, 1.6-2.0 min per adapter, report 4.7 min. Kept this small
# so CI (about 19 min before this test) stays under 40.
LIMIT, MAX_ANNOTATIONS = 50, 2
VARIANTS = ("ft", "p_ft", "sp_ft")


@pytest.fixture(scope="module")
def cped_run(tmp_path_factory, shared_data, models_dir, smollm2_path):
    root = tmp_path_factory.mktemp("vvae-cped")
    data = root / "data" / "cped-test.jsonl"
    data.parent.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(root / "dagster"), "VVAE_HOME": str(root / "home"),
           "VVAE_MODELS_DIR": str(models_dir), "PYTHONUNBUFFERED": "1"}
    subprocess.run([sys.executable, "-m", "vvae_pipeline.ingest.adapters", "cped", str(shared_data / "cped_zh"),
                    str(data), "--split", "test", "--limit", str(LIMIT), "--max-annotations", str(MAX_ANNOTATIONS)],
                   cwd=REPO, env=env, check=True, capture_output=True, text=True, timeout=300)
    sessions = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "assets.main", "--data", str(data.parent), "--size", "tiny"],
                          check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.time() - t0
    print(proc.stdout[-4000:])
    print(f"main job on CPED: {seconds / 60:.1f} min")
    out = root / "home" / "main_result.json"
    assert out.exists(), f"the main job wrote no result (exit {proc.returncode}): {proc.stderr[-3000:]}"
    return SimpleNamespace(home=root / "home", result=json.loads(out.read_text()), exit_code=proc.returncode,
                           stdout=proc.stdout, sessions=sessions)


def test_every_run_succeeds_on_cped(cped_run):
    res = cped_run.result
    assert cped_run.exit_code == 0, cped_run.stdout[-3000:]
    runs = [tuple(r) for r in res["runs"]]
    assert runs and all(ok for _, _, ok in runs), runs
    assert [job for job, _, _ in runs] == ["batch_job", "priors_job", *["train_job"] * len(VARIANTS), "report_job"]
    assert res["failed_checks"] == [] and res["data"] and res["variants"] == list(VARIANTS)
    # Only the landed corpus ran: no demo file, no demo truth.
    assert [p.name for p in (cped_run.home / "landing").iterdir() if not p.name.startswith(".")] == ["cped-test.jsonl"]
    assert not (cped_run.home / "demo").exists()


GARBAGE = {"persona_extractions": ("top_value_share", "function_word_share", "grounding_rate", "declared_agreement",
                                   "no_pii_in_values"),
           "persona_priors": ("top_value_share", "function_word_share", "no_pii_in_values"),
           "agent_profiles": ("no_pii_in_values",)}


def test_the_garbage_checks_ran_and_pass_on_real_text(cped_run):
    """The checks that failed on planted garbage (tests/dagster/test_persona_checks.py) pass on CPED."""
    outcome = {name: passed for name, passed, _ in cped_run.result["checks"]}
    for asset, checks in GARBAGE.items():
        for check in checks:
            assert outcome.get(f"{asset}:{check}") is True, (f"{asset}:{check}", outcome.get(f"{asset}:{check}"),
                                                             cped_run.result["warnings"])


def test_every_annotated_turn_is_extracted_opening_turns_included(cped_run):
    n_annotations = sum(len(s["annotations"]) for s in cped_run.sessions)
    opening = sum(1 for s in cped_run.sessions for a in s["annotations"] if a["turn_index"] == 0)
    assert n_annotations == LIMIT * MAX_ANNOTATIONS and opening > 0
    ext = _table(cped_run.home, "persona_extractions")
    assert ext.height == n_annotations
    assert ext.filter(pl.col("context").list.len() == 0).height == opening
    assert set(ext["language"]) == {"zh"}


def test_all_three_variants_trained_on_opening_turns_too(cped_run):
    from safetensors.torch import load_file

    from vvae_pipeline.sft.persona_prompt import OPENING_TURN

    ext = _table(cped_run.home, "persona_extractions")
    opening_ids = ext.filter(pl.col("context").list.len() == 0)["extraction_id"].implode()
    sft = _table(cped_run.home, "sft_dataset")
    for variant in VARIANTS:
        rows = sft.filter(pl.col("variant") == variant)
        firsts = rows.filter(pl.col("extraction_id").is_in(opening_ids))
        assert firsts.filter(pl.col("split") == "train").height > 0
        assert all(any(m["content"] == OPENING_TURN["zh"] for m in msgs) for msgs in firsts["messages"])
        adir = cped_run.home / "artifacts" / "lora_checkpoint" / "smollm2-135m" / variant
        weights = load_file(str(adir / "adapter" / "adapter_model.safetensors"))
        assert any(float(v.abs().sum()) > 0 for k, v in weights.items() if "lora_B" in k)
        metrics = json.loads((adir / "metrics.json").read_text())
        assert metrics["steps"] > 0 and metrics["train_loss"]
        # Every training row rendered and masked, the opening turns too.
        assert metrics["data"]["train"]["invalid"] == 0, metrics["data"]["train"]["invalid_reasons"]
        train = metrics["data"]["train"]
        assert train["examples"] + train["dropped_too_long"] == rows.filter(pl.col("split") == "train").height
    summary = json.loads(
        (cped_run.home / "artifacts" / "benchmark_report" / "smollm2-135m" / "summary.json").read_text()
    )
    assert {"human", *VARIANTS} <= {s["system"] for s in summary["systems"]}
