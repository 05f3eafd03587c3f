"""Benchmark planning/scoring on a hand-made SFT frame, and the report from hand-made metrics."""

import json

import polars as pl
import pytest

from tests.support.benchmark_frames import HUMAN_RATES, LUNA, make_test_rows, sft_frame
from tests.support.train_stats import make_stats
from vvae_pipeline.evaluate import benchmark, detectors, report, run
from vvae_pipeline.evaluate.prompting import shot_prompts
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.llm.generation import fit_history, prompt_messages
from vvae_pipeline.params import BenchmarkParams
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.priors.structure import persona_structure
from vvae_pipeline.train.stats import LossPoint

PARAMS = BenchmarkParams(max_test_prompts=6, bootstrap_samples=200)


@pytest.fixture(scope="module")
def frame():
    return sft_frame()


def test_reference_personas_use_observed_values_only(frame):
    refs = detectors.reference_personas(frame)
    assert {k: refs["agent_luna"][k] for k in ("catchphrase", "emoji", "hobby")} == \
        {k: LUNA[k] for k in ("catchphrase", "emoji", "hobby")}
    # sp_ft sampled "reading" for 小雨's hobby: a sampled value says nothing about the agent.
    assert refs["agent_xiaoyu"]["hobby"] is None


def test_prompt_messages_drop_the_target_reply():
    msgs = [{"role": "system", "content": "p"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "x"}]
    assert prompt_messages(msgs) == msgs[:2]
    with pytest.raises(ValueError, match="must end with the assistant reply"):
        prompt_messages(msgs[:2])


def test_fit_history_keeps_system_and_latest_turn():
    msgs = [{"role": "system", "content": "s"}] + [{"role": "user", "content": str(i)} for i in range(5)]
    kept = fit_history(msgs, len, 3)
    assert kept == [msgs[0], msgs[4], msgs[5]]


def _priors():
    return pl.DataFrame({"axis": ["personal"], "dimension": ["hobby"], "value": ["reading"], "count": [3],
                         "probability": [1.0]})


def test_plan_and_score(frame):
    z = {"x0": {"catchphrase": "no worries at all"}}  # seen in x0's context, say
    plan = benchmark.plan(make_test_rows(frame, z), frame, _priors(), {"ft": True, "sp_ft": True}, PARAMS)
    assert plan.not_trained == ["p_ft"]
    assert [j.system for j in plan.jobs] == ["ft", "sp_ft", "base", "0-shot", "2-shot", "5-shot"]
    assert plan.examples["agent_id"].to_list()[:2] in (["agent_luna", "agent_xiaoyu"], ["agent_xiaoyu", "agent_luna"])
    sp = next(j for j in plan.jobs if j.system == "sp_ft")
    # SP+FT: every test prompt has a persona (the sampled hobby at least) and ends with the user turn.
    assert all(p[0]["role"] == "system" and p[-1]["role"] == "user" for p in sp.prompts)
    assert all("reading" in p[0]["content"] for p in sp.prompts)
    x0 = plan.examples["extraction_id"].to_list().index("x0")
    assert "no worries at all" in sp.prompts[x0][0]["content"]
    ft = next(j for j in plan.jobs if j.system == "ft")
    base = next(j for j in plan.jobs if j.system == "base")
    assert all(m["role"] != "system" for p in ft.prompts + base.prompts for m in p)
    # Shots never come from the example's own session (its reply is the target).
    two = next(j for j in plan.jobs if j.system == "2-shot")
    for ex, prompt in zip(plan.examples.iter_rows(named=True), two.prompts, strict=True):
        shown = [m["content"] for m in prompt if m["role"] == "assistant"]
        assert len(shown) == 2 + 1 and ex["reply"] not in shown  # 2 shots + the agent turn of the history
        # The shots are the agent's turns from other sessions' contexts, never a human reply x.
        assert all(s.startswith("hi there (") and ex["session_id"] not in s for s in shown[:2])
    # Outputs: sp_ft repeats each human reply (distance 0), ft says nothing persona-like.
    replies = plan.examples["reply"].to_list()
    outputs = {j.system: ["ok"] * len(replies) for j in plan.jobs} | {"sp_ft": replies}
    summary, samples, human, hits, agents = benchmark.score(plan, outputs, PARAMS)
    assert {d: human[d] for d in ("cp", "ec", "hm")} == pytest.approx(HUMAN_RATES)
    rows = {r["system"]: r for r in summary.to_dicts()}
    assert rows["sp_ft"]["distance"] == 0.0 and rows["p_ft"]["status"] == "not trained"
    assert rows["ft"]["distance"] == pytest.approx(detectors.distance({"cp": 0, "ec": 0, "hm": 0}, HUMAN_RATES))
    assert rows["ft"]["distance_lo"] <= rows["ft"]["distance"] <= rows["ft"]["distance_hi"]
    assert rows["human"]["cp_wilson_lo"] < 0.5 < rows["human"]["cp_wilson_hi"]
    assert samples.filter(pl.col("system") == "sp_ft")["cp"].sum() == 3
    assert hits["sp_ft"].shape == (6, 3) and set(hits) == {"human", *outputs}
    assert agents == plan.examples["agent_id"].to_list()


def test_no_test_prompt_contains_a_value_seen_only_in_x():
    """A catchphrase planted only in x of a test example reaches no prompt of any system; only the
    labelled oracle diagnostic, which reads x by design, carries it."""
    from tests.support.fake_engine import FakeEngine
    from vvae_pipeline.evaluate.deployment_persona import infer_test_personas
    from vvae_pipeline.params import ExtractParams, SFTParams
    from vvae_pipeline.sft.build import build_sft, train_prior

    planted = "zebra crossing forever"
    frame = sft_frame()
    test = make_test_rows(frame).with_columns(
        reply=pl.when(pl.col("extraction_id") == "x0").then(pl.lit(f"{planted}, see you")).otherwise("reply"),
        catchphrase=pl.when(pl.col("extraction_id") == "x0").then(pl.lit(planted)).otherwise(None))
    train = make_test_rows(frame).with_columns(extraction_id=pl.col("extraction_id") + "t",
                                               agent_id=pl.lit("agent_train"), session_id=pl.col("session_id") + "t")
    extractions = pl.concat([test, train]).drop("status").with_columns(status=pl.lit("ok"))
    priors = build_priors(extractions)[0]
    # The first split seed that puts x0's agent in the test split (splits are a seeded hash of agents).
    seed = next(k for k in range(50) if build_sft(extractions, "smollm2-135m", "ft", SFTParams(
        split_seed=k, train_fraction=0.5, validation_fraction=0.0, test_fraction=0.5))[0].filter(
        pl.col("extraction_id") == "x0")["split"].to_list() == ["test"])
    sft = pl.concat([build_sft(extractions, "smollm2-135m", v, SFTParams(
        split_seed=seed, train_fraction=0.5, validation_fraction=0.0, test_fraction=0.5))[0]
                     for v in ("ft", "p_ft", "sp_ft")])
    assert sft.filter(pl.col("reply").str.contains(planted))["split"].unique().to_list() == ["test"]
    # The P+FT row built from (c, x) does carry it in its persona: that is the leak being prevented.
    assert sft.filter((pl.col("variant") == "p_ft") & (pl.col("catchphrase") == planted)).height == 1
    test_ids = sft.filter(pl.col("split") == "test")["extraction_id"].unique().implode()
    rows, stats = infer_test_personas(extractions.filter(pl.col("extraction_id").is_in(test_ids)), FakeEngine(),
                                      ExtractParams())
    assert planted not in rows["catchphrase"].drop_nulls().to_list()
    params = BenchmarkParams(max_test_prompts=10, shots=(0, 2), oracle_diagnostic=True, bootstrap_samples=50)
    trained = {"ft": True, "p_ft": True, "sp_ft": True}

    def leaking(prior) -> set[str]:
        plan = benchmark.plan(rows, sft, prior, trained, params)
        assert "x0" in plan.examples["extraction_id"].to_list()
        return {j.system for j in plan.jobs if planted in " ".join(m["content"] for p in j.prompts for m in p)}

    assert leaking(train_prior(sft)) == {benchmark.ORACLE}
    # The check can fail: a prior over every split would let SP+FT sample the test reply's phrase.
    assert "sp_ft" in leaking(priors)


def test_shot_prompts_zero_shot_has_persona_only(frame):
    rows = frame.filter((pl.col("variant") == "ft") & (pl.col("split") == "test")).to_dicts()
    personas = [detectors.reference_personas(frame)[r["agent_id"]] for r in rows]
    zero = shot_prompts(rows, personas, 0)
    assert "no worries at all" in zero[0][0]["content"] and len(zero[0]) == 2


def _result(distances: dict[str, float | None], train_stats=None, db=None, note="") -> run.BenchmarkResult:
    rows = [{"system": "human", "label": "human replies (target)", "kind": "human", "status": "ok", "n": 6,
             "cp": 0.5, "ec": 0.5, "hm": 1 / 6, "distance": 0.0, "distance_lo": 0.0, "distance_hi": 0.0}]
    for s, d in distances.items():
        kind = "adapter" if s in ("ft", "p_ft", "sp_ft") else "prompting"
        ok = d is not None
        rows.append({"system": s, "label": s.upper(), "kind": kind, "status": "ok" if ok else "not trained",
                     "n": 6 if ok else 0, "cp": 0.1 if ok else None, "ec": 0.2 if ok else None,
                     "hm": 0.0 if ok else None, "distance": d, "distance_lo": d and d - 0.1,
                     "distance_hi": d and d + 0.1})
    for r in rows:
        for k in ("cp", "ec", "hm"):
            r[f"{k}_lo"], r[f"{k}_hi"] = (r[k] and r[k] - 0.05), (r[k] and r[k] + 0.05)
    summary = pl.DataFrame(rows)
    samples = pl.DataFrame({"system": ["human"], "extraction_id": ["x0"], "agent_id": ["a"], "language": ["en"],
                            "output": ["hi"], "cp": [False], "ec": [False], "hm": [False]})
    return run.BenchmarkResult("smollm2-135m", summary, samples, {"cp": 0.5, "ec": 0.5, "hm": 1 / 6}, [],
                               "HEADLINE", [], db or {}, note, [], train_stats or {}, {},
                               {"decoding": {"max_new_tokens": 40}}, {"generation": 1.0})


def test_write_report_from_hand_made_numbers(tmp_path):
    train_stats = {v: make_stats([3 - s * 0.2 for s in range(1, 9)], variant=v, final_eval_loss=loss,
                                 real_tokens=900, seconds=30.0,
                                 eval_loss=[LossPoint(4, loss + 0.3), LossPoint(8, loss)])
                   for v, loss in (("ft", 2.1), ("sp_ft", 1.8))}
    db_res = {"base": {"tasks": {"ED-en": {"n": 12, "accuracy": 0.25, "accuracy_per_rotation": 0.3, "consistent": 0.0,
                                           "chance": 0.25, "picked_position": [10, 20, 10, 8]}}}}
    res = _result({"ft": 0.4, "sp_ft": 0.2, "p_ft": None}, train_stats, db_res)
    ext = pl.DataFrame({**{d: [None] * 24 for d in DIMENSION_NAMES}, "agent_id": ["a", "b", "c"] * 8,
                        "language": ["en"] * 24, "extraction_id": [str(i) for i in range(24)], "status": ["ok"] * 24},
                       schema_overrides={d: pl.Utf8 for d in DIMENSION_NAMES})
    ext = ext.with_columns(tone=pl.Series(["calm", "cold", None, None] * 6), vibe=pl.Series(["warm", "tense"] * 12))
    res.persona_structure = persona_structure(ext, n_perm=50)
    out = report.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "**HEADLINE**" in md
    assert "| tone | talking_style | 50% [" in md and "tone x vibe" in md  # the persona structure section
    assert "| human replies (target) (`human`) | 50.0% [45.0%, 55.0%] | 50.0% [45.0%, 55.0%] |" in md
    assert "| paper targets (reference) | 8.6% | 6.4% | 2.2% | - | - |" in md
    assert "| SP+FT | yes | prior | - | - | 10.0% [5.0%, 15.0%] |" in md
    assert "| P+FT | yes | no | - | - | - | - | - | - | - | not trained |" in md
    assert "| SP+FT w/o personal | yes | prior | personal | - |" in md and "no SFT set" in md
    assert "| SP+FT, 25% of nulls sampled | yes | prior, 25% | - | - |" in md
    assert "| P+FT, nulls = agent's own mode | yes | agent mode | - | - |" in md
    assert "| SP+FT on 30% corrupted values | yes | prior | - | 30% |" in md
    assert '"max_new_tokens": 40' in md and "25.0% [" in md  # DialogBench accuracy with its Wilson interval
    for name in ("rates", "loss", "ablation"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and f"]({name}.png)" in md
    assert out.markdown_inline.count("data:image/png;base64,") == 3
    html = (tmp_path / "report.html").read_text()
    assert html.count("<table>") >= 4 and "data:image/png;base64," in html
    assert json.loads((tmp_path / "summary.json").read_text()) == out.summary  # what it returns is what it wrote
    assert out.summary["headline"] == out.headline == "HEADLINE"
    assert set(out.paths) == {"rates_png", "loss_png", "ablation_png", "report_md", "report_html", "summary_json",
                              "samples"}
    files = report.ReportFiles(tmp_path)  # what the promotion and bench/learning_curve.py read
    assert out.paths["summary_json"] == str(files.summary) and files.read_summary() == out.summary
    assert out.paths["loss_png"] == str(files.figure("loss")) and files.markdown.is_file() and files.samples.is_file()
    nums = report.headline_numbers(res)
    assert nums["sp_ft/distance"] == 0.2 and nums["sp_ft/distance_hi"] == pytest.approx(0.3)


def test_report_without_adapters_or_dialogbench(tmp_path):
    res = _result({"ft": None, "2-shot": 0.3}, note="no corpora folder (none configured)")
    report.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "## Persona structure" in md and "Not available (persona_priors wrote no structure.json)" in md
    assert "Skipped: no corpora folder" in md and "First report of this backbone" in md
    assert not (tmp_path / "loss.png").exists()


def test_headline_says_not_resolved_when_the_data_cannot_rank():
    import numpy as np

    agents = [f"a{i // 3}" for i in range(30)]
    human = np.array([[1.0 if i % 3 == 0 else 0.0, 0, 0] for i in range(30)])
    same = human.copy()
    far = np.ones((30, 3))
    summary = pl.DataFrame([
        {"system": "ft", "label": "FT", "kind": "adapter", "status": "ok", "distance": 0.0, "distance_lo": 0.0,
         "distance_hi": 0.1},
        {"system": "sp_ft", "label": "SP+FT", "kind": "adapter", "status": "ok", "distance": 0.0,
         "distance_lo": 0.0, "distance_hi": 0.1},
        {"system": "p_ft", "label": "P+FT", "kind": "adapter", "status": "ok", "distance": 1.6, "distance_lo": 1.5,
         "distance_hi": 1.7}])
    p = BenchmarkParams(bootstrap_samples=300)
    text = run.headline(summary, {"human": human, "ft": same, "sp_ft": same, "p_ft": far}, agents, p)
    assert text.startswith("Not resolved:") and text.split("against ")[1].startswith("sp_ft (paired")
    clear = run.headline(summary.filter(pl.col("system") != "sp_ft"), {"human": human, "ft": same, "p_ft": far},
                         agents, p)
    assert clear.endswith("closer than every other trained variant (paired 95% intervals exclude 0).")


def test_encoder_quality_is_read_per_batch_and_tabled(tmp_path):
    from vvae_pipeline.evaluate.report import _quality_block, load_encoder_quality

    dim = {"f1": 0.25, "f1_ci": [0.1, 0.4], "null_rate": 0.5, "true_null_rate": 0.8,
           "baselines": {"majority": {"f1": 0.05, "f1_ci": [0.0, 0.1]},
                         "always_null": {"f1": 0.0, "f1_ci": [0.0, 0.0]}}}
    (tmp_path / "b-1").mkdir()
    (tmp_path / "b-1" / "quality.json").write_text(json.dumps(
        {"macro_f1": 0.31, "n_matched": 40, "engine": "transformers", "model": "m", "dimensions": {"hobby": dim}}))
    (tmp_path / "b-2").mkdir()  # a batch without a truth file has no quality.json
    (tmp_path / "b-3").mkdir()
    (tmp_path / "b-3" / "quality.json").write_text("{not json")
    quality = load_encoder_quality(tmp_path)
    assert list(quality) == ["b-1"]
    block = _quality_block(quality)
    assert "macro F1 0.31 over 40" in block
    assert "| hobby | 0.25 [0.10, 0.40] | 0.05 [0.00, 0.10] | 0.00 [0.00, 0.00] | 50% / 80% |" in block
    assert "No encoder quality" in _quality_block(load_encoder_quality(tmp_path / "missing"))


def test_week_over_week_prints_both_intervals_alike():
    """The previous interval was printed as a raw tuple, `0.530 (0.0, 1.1319231422671772)`."""
    res = _result({"sp_ft": 0.2, "ft": 0.4})
    previous = {"systems": [  # as read back from last week's summary.json
        {"system": "sp_ft", "status": "ok", "distance": 0.53, "distance_lo": 0.0, "distance_hi": 1.1319231422671772},
        {"system": "ft", "status": "ok", "distance": 0.9}]}  # a summary from before intervals were written
    res.week_over_week = run.week_over_week(res.summary, previous)
    md = report.markdown(res, {})
    assert "| sp_ft | 0.530 [0.000, 1.132] | 0.200 [0.100, 0.300] | not resolved (intervals overlap) |" in md
    assert "| ft | 0.900 | 0.400 [0.300, 0.500] | not resolved (intervals overlap) |" in md
    assert "(0.0, 1.13" not in md and "None" not in md
