"""The main job's exit decision and what it lands: only failed runs and failed blocking ERROR checks
fail it; one data set per home (a demo size never silently reuses another size's data)."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
)

from assets.main import (
    CheckOutcome,
    HomeConflict,
    check_outcome,
    data_files,
    demo_file_name,
    exit_decision,
    land_data,
    land_demo,
    load_preset,
    main,
    preset_persona_source,
)

OK_RUNS = [("batch_job", "b-1", True), ("priors_job", "", True), ("report_job", "smollm2-135m", True)]
KEPT = CheckOutcome("promoted_adapter:challenger_promoted", False, "WARN", False,
                    "not promoted: sp_ft is not closer beyond the interval")
DRIFT = CheckOutcome("persona_priors:prior_drift", False, "WARN", False, "2 dimension(s) drifted above 0.1 bits")
SCHEMA = CheckOutcome("persona_priors:probabilities_sum_to_one", False, "ERROR", True)


def test_all_runs_ok_and_checks_passed_is_ok():
    d = exit_decision(OK_RUNS, [CheckOutcome("persona_priors:prior_drift", True, "WARN", False)])
    assert d.ok and d.errors == [] and d.warnings == []


def test_kept_champion_and_prior_drift_are_warnings_with_their_meaning():
    # A second `make demo` on one home: the champion is kept and the prior compares with the last run.
    d = exit_decision(OK_RUNS, [KEPT, DRIFT])
    assert d.ok and d.errors == []
    assert len(d.warnings) == 2
    assert "champion kept: the new SP+FT adapter is not closer" in d.warnings[0] and KEPT.note in d.warnings[0]
    assert "prior moved" in d.warnings[1] and DRIFT.note in d.warnings[1]


def test_failed_run_or_failed_blocking_error_check_fails():
    d = exit_decision([*OK_RUNS[:2], ("train_job", "smollm2-135m|ft", False)], [KEPT])
    assert not d.ok and d.errors == ["run train_job [smollm2-135m|ft] failed"]
    d = exit_decision(OK_RUNS, [SCHEMA, KEPT])
    assert not d.ok and d.errors == ["check persona_priors:probabilities_sum_to_one failed"]


def test_non_blocking_error_and_blocking_warn_checks_only_warn():
    d = exit_decision(OK_RUNS, [CheckOutcome("a:x", False, "ERROR", False), CheckOutcome("a:y", False, "WARN", True)])
    assert d.ok and len(d.warnings) == 2
    assert [w.split(" ")[:2] for w in d.warnings] == [["a:x", "(ERROR):"], ["a:y", "(WARN):"]]
    assert all("without stopping the run" in w for w in d.warnings)


def test_garbage_checks_warn_with_their_meaning():
    d = exit_decision(OK_RUNS, [CheckOutcome("persona_extractions:top_value_share", False, "WARN", True)])
    assert d.ok and "one value dominates a closed dimension" in d.warnings[0]


def test_nothing_ran_is_not_ok():
    assert not exit_decision([], []).ok


def test_check_outcome_reads_severity_blocking_and_only_known_notes():
    ev = AssetCheckEvaluation(asset_key=dg.AssetKey("promoted_adapter"), check_name="challenger_promoted",
                              passed=False, severity=dg.AssetCheckSeverity.WARN, blocking=False,
                              description="not promoted: no champion beyond noise", metadata={})
    assert check_outcome(ev) == CheckOutcome("promoted_adapter:challenger_promoted", False, "WARN", False,
                                             "not promoted: no champion beyond noise")
    drift = AssetCheckEvaluation(asset_key=dg.AssetKey("persona_priors"), check_name="prior_drift", passed=False,
                                 severity=dg.AssetCheckSeverity.WARN, blocking=False,
                                 metadata={"message": dg.MetadataValue.text("1 dimension(s) drifted")})
    assert check_outcome(drift).note == "1 dimension(s) drifted"
    # An unknown check's description may show cases (record text): never copied to the output.
    other = AssetCheckEvaluation(asset_key=dg.AssetKey("scrubbed_sessions"), check_name="no_pii", passed=False,
                                 severity=dg.AssetCheckSeverity.ERROR, blocking=True, description="found a@b.com")
    assert check_outcome(other) == CheckOutcome("scrubbed_sessions:no_pii", False, "ERROR", True, "")


def _demo(size):
    return load_preset(size)["demo"]


def test_demo_file_is_named_per_size_and_reused_for_the_same_size(tmp_path):
    landing, truth = tmp_path / "landing", tmp_path / "demo" / "truth.parquet"
    landing.mkdir()
    path, new = land_demo(landing, truth, "tiny", 0, _demo("tiny"))
    assert path.name == demo_file_name("tiny", 0) == "demo-tiny-0.jsonl" and new and truth.exists()
    assert land_demo(landing, truth, "tiny", 0, _demo("tiny")) == (path, False)


def test_another_size_on_the_same_home_is_refused_not_reused(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    land_demo(landing, tmp_path / "t.parquet", "demo", 0, _demo("demo"))
    with pytest.raises(HomeConflict, match="demo data of another size or seed.*VVAE_HOME=.vvae-reproduce"):
        land_demo(landing, tmp_path / "t2.parquet", "reproduce", 0, _demo("reproduce"))
    assert sorted(p.name for p in landing.iterdir()) == ["demo-demo-0.jsonl"]


def test_a_demo_file_from_an_earlier_generator_is_refused_by_name(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    path, _ = land_demo(landing, tmp_path / "t.parquet", "tiny", 0, _demo("tiny"))
    path.write_text(path.read_text().replace('"agent_profile"', '"agent_profile_old"', 1))
    with pytest.raises(HomeConflict, match="earlier version.*VVAE_HOME=.vvae-tiny-new"):
        land_demo(landing, tmp_path / "t.parquet", "tiny", 0, _demo("tiny"))


def test_a_home_from_before_per_size_names_is_reused_when_its_content_matches(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    path, _ = land_demo(landing, tmp_path / "t.parquet", "demo", 0, _demo("demo"))
    legacy = path.rename(landing / "demo-0.jsonl")
    assert land_demo(landing, tmp_path / "t.parquet", "demo", 0, _demo("demo")) == (legacy, False)
    with pytest.raises(HomeConflict):
        land_demo(landing, tmp_path / "t.parquet", "tiny", 0, _demo("tiny"))


def test_data_lands_every_file_of_a_folder_and_refuses_demo_homes(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.jsonl", "b.parquet", ".partial.jsonl", "notes.txt"):
        (src / name).write_bytes(b'{"x": 1}\n')
    files = data_files(src)
    assert [p.name for p in files] == ["a.jsonl", "b.parquet"]
    landing = tmp_path / "landing"
    landing.mkdir()
    assert [(p.name, new) for p, new in land_data(landing, files)] == [("a.jsonl", True), ("b.parquet", True)]
    assert [new for _, new in land_data(landing, files)] == [False, False]
    (src / "a.jsonl").write_bytes(b'{"x": 2}\n')
    with pytest.raises(HomeConflict, match="other content"):
        land_data(landing, files)
    (landing / "demo-tiny-0.jsonl").write_bytes(b"{}\n")
    with pytest.raises(HomeConflict, match="holds demo data"):
        land_data(landing, files[1:])
    with pytest.raises(FileNotFoundError):
        data_files(src / "notes.txt")


def test_persona_source_defaults_to_the_presets():
    assert preset_persona_source(load_preset("tiny")) == "declared"  # the paper's protocol where data has it
    cfg = {"jobs": {"report_job": {"ops": {"benchmark_report": {"config": {"headline_protocol": "context"}}}}}}
    assert preset_persona_source(cfg) == "context"


def test_main_refuses_a_second_size_with_a_clear_message(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    land_demo(home / "landing", home / "demo" / "t.parquet", "demo", 0, _demo("demo"))
    monkeypatch.setenv("VVAE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    assert main(["--size", "reproduce"]) == 2
    assert "Use another home" in capsys.readouterr().err
    assert not (home / "main_result.json").exists()  # nothing ran


def test_outcomes_from_a_real_run_keep_severity_and_blocking():
    """The events a job emits carry what the decision reads: a failed non-blocking WARN check (as
    promoted_adapter's when the champion is kept) leaves the run successful and the job ok."""

    @dg.asset(check_specs=[dg.AssetCheckSpec("challenger_promoted", asset="promoted_adapter", blocking=False),
                           dg.AssetCheckSpec("rows_present", asset="promoted_adapter", blocking=True)])
    def promoted_adapter():
        return dg.MaterializeResult(check_results=[
            dg.AssetCheckResult(check_name="challenger_promoted", passed=False, severity=dg.AssetCheckSeverity.WARN,
                                description="not promoted: not closer beyond the interval"),
            dg.AssetCheckResult(check_name="rows_present", passed=True)])

    with dg.DagsterInstance.ephemeral() as instance:
        res = dg.materialize([promoted_adapter], instance=instance, raise_on_error=False)
    checks = [check_outcome(ev.event_specific_data) for ev in res.all_events
              if ev.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert sorted(checks, key=lambda c: c.name) == ([
        CheckOutcome("promoted_adapter:challenger_promoted", False, "WARN", False,
                     "not promoted: not closer beyond the interval"),
        CheckOutcome("promoted_adapter:rows_present", True, "ERROR", True)])
    d = exit_decision([("report_job", "smollm2-135m", res.success)], checks)
    assert res.success and d.ok and "champion kept" in d.warnings[0]


def test_a_skipped_dialogbench_is_a_note_in_the_main_jobs_output(tmp_path):
    from assets.main import report_notes

    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"dialogbench": {}, "dialogbench_note": "no corpora folder (none configured; x)"}))
    [note] = report_notes(tmp_path)
    assert note.startswith("DialogBench skipped: no corpora folder") and "VVAE_CORPORA_DIR" in note
    summary.write_text(json.dumps({"dialogbench": {"sp_ft": {"ED": {"accuracy": 0.5}}}, "dialogbench_note": ""}))
    assert report_notes(tmp_path) == []
    assert report_notes(tmp_path / "absent") == [] and report_notes(None) == []
