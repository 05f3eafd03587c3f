"""Benchmark planning/scoring on a hand-made SFT frame, and the report from hand-made metrics."""

import json

import polars as pl
import pytest

from tests.support.benchmark_frames import HUMAN_RATES, LUNA, sft_frame
from vvae_pipeline.evaluate import benchmark, detectors, report
from vvae_pipeline.llm.generation import fit_history, prompt_messages, shot_prompts


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


def test_plan_and_score(frame):
    plan = benchmark.plan(frame, {"ft": True, "sp_ft": True}, benchmark.BenchmarkParams(max_test_prompts=6))
    assert plan.not_trained == ["p_ft"]
    assert [j.system for j in plan.jobs] == ["ft", "sp_ft", "base", "0-shot", "2-shot", "5-shot"]
    assert plan.examples["agent_id"].to_list()[:2] in (["agent_luna", "agent_xiaoyu"], ["agent_xiaoyu", "agent_luna"])
    sp = next(j for j in plan.jobs if j.system == "sp_ft")
    assert all(p[0]["role"] == "system" and p[-1]["role"] == "user" for p in sp.prompts)
    base = next(j for j in plan.jobs if j.system == "base")
    assert all(m["role"] != "system" for p in base.prompts for m in p)
    # Shots never come from the example's own session (its reply is the target).
    two = next(j for j in plan.jobs if j.system == "2-shot")
    for ex, prompt in zip(plan.examples.iter_rows(named=True), two.prompts, strict=True):
        shown = [m["content"] for m in prompt if m["role"] == "assistant"]
        assert len(shown) == 2 and ex["reply"] not in shown
    # Outputs: sp_ft repeats each human reply (distance 0), ft says nothing persona-like.
    replies = plan.examples["reply"].to_list()
    outputs = {j.system: ["ok"] * len(replies) for j in plan.jobs} | {"sp_ft": replies}
    summary, samples, human = benchmark.score(plan, outputs)
    assert {d: human[d] for d in ("cp", "ec", "hm")} == pytest.approx(HUMAN_RATES)
    rows = {r["system"]: r for r in summary.to_dicts()}
    assert rows["sp_ft"]["distance"] == 0.0 and rows["p_ft"]["status"] == "not trained"
    assert rows["ft"]["distance"] == pytest.approx(detectors.distance({"cp": 0, "ec": 0, "hm": 0}, HUMAN_RATES))
    assert samples.filter(pl.col("system") == "sp_ft")["cp"].sum() == 3


def test_shot_prompts_zero_shot_has_persona_only(frame):
    rows = frame.filter((pl.col("variant") == "ft") & (pl.col("split") == "test")).to_dicts()
    personas = [detectors.reference_personas(frame)[r["agent_id"]] for r in rows]
    zero = shot_prompts(rows, personas, 0)
    assert "no worries at all" in zero[0][0]["content"] and len(zero[0]) == 2


def _summary(distances: dict[str, float | None]) -> pl.DataFrame:
    rows = [{"system": "human", "label": "human replies (target)", "kind": "human", "status": "ok", "n": 6,
             "cp": 0.5, "ec": 0.5, "hm": 1 / 6, "distance": 0.0, "distance_paper": 0.6}]
    for s, d in distances.items():
        kind = "adapter" if s in ("ft", "p_ft", "sp_ft") else "prompting"
        rows.append({"system": s, "label": s.upper(), "kind": kind, "status": "ok" if d is not None else "not trained",
                     "n": 6 if d is not None else 0, "cp": 0.1 if d is not None else None, "ec": 0.2 if d is not None else None,
                     "hm": 0.0 if d is not None else None, "distance": d, "distance_paper": d})
    return pl.DataFrame(rows)


def test_closest_sentence_names_the_variant_and_a_better_baseline():
    text = report.closest_sentence(_summary({"ft": 0.4, "sp_ft": 0.2, "p_ft": None, "2-shot": 0.1}))
    assert text.startswith("The variant closest to the human targets is SP_FT (sp_ft): Euclidean distance 0.2000")
    assert "2-SHOT is closer still (0.1000)" in text
    tie = report.closest_sentence(_summary({"ft": 0.3, "sp_ft": 0.3}))
    assert tie.startswith("The variants closest to the human targets (tied) are FT (ft) and SP_FT (sp_ft)")


def test_write_report_from_hand_made_metrics(tmp_path):
    metrics = {v: {"backbone": "smollm2-135m", "variant": v, "steps": 8, "final_eval_loss": loss, "real_tokens": 900,
                   "seconds": 30.0, "train_loss": [{"step": s, "loss": 3 - s * 0.2} for s in range(1, 9)],
                   "eval_loss": [{"step": 4, "loss": loss + 0.3}, {"step": 8, "loss": loss}]}
               for v, loss in (("ft", 2.1), ("sp_ft", 1.8))}
    db_res = {"base": {"tasks": {"ED-en": {"n": 12, "accuracy": 0.25, "accuracy_per_rotation": 0.3, "consistent": 0.0,
                                           "chance": 0.25, "picked_position": [10, 20, 10, 8]}}}}
    inp = report.ReportInputs("smollm2-135m", _summary({"ft": 0.4, "sp_ft": 0.2, "p_ft": None}),
                              {"n": 6, "cp": 0.5, "ec": 0.5, "hm": 1 / 6}, metrics,
                              {"b1": {"per_dimension": {"emoji": {"precision": 1.0, "recall": 0.75}}}}, db_res,
                              settings={"decoding": {"max_new_tokens": 40}})
    out = report.write_report(inp, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "**The variant closest to the human targets is SP_FT (sp_ft)" in md
    assert "| human replies (target) | 50.00% | 50.00% | 16.67% | 0 |" in md
    assert "| paper targets (reference) | 8.57% | 6.41% | 2.16% | - |" in md
    assert "| SP+FT | yes | yes | - | 10.00% | 20.00% | 0.00% | 0.2000 | 1.8000 | ok |" in md
    assert "| P+FT | yes | no | - | - | - | - | - | - | not trained |" in md
    assert "| SP+FT w/o personal | yes | yes | personal |" in md and "no SFT set" in md
    assert "| emoji | 1.000 | 0.750 |" in md and '"max_new_tokens": 40' in md
    for name in ("rates", "loss", "ablation"):
        assert (tmp_path / f"{name}.png").read_bytes()[:4] == b"\x89PNG" and f"]({name}.png)" in md
    assert out["markdown_inline"].count("data:image/png;base64,") == 3
    html = (tmp_path / "report.html").read_text()
    assert html.count("<table>") >= 4 and "data:image/png;base64," in html
    assert json.loads((tmp_path / "summary.json").read_text())["closest"] == out["closest"]


def test_report_without_adapters_or_dialogbench(tmp_path):
    inp = report.ReportInputs("smollm2-135m", _summary({"ft": None, "2-shot": 0.3}), {"n": 6, "cp": 0.5, "ec": 0.5, "hm": 0.1},
                              dialogbench_note="corpora folder /nowhere not found")
    report.write_report(inp, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "No variant has a trained adapter" in md and "Skipped: corpora folder /nowhere not found" in md
    assert not (tmp_path / "loss.png").exists()
