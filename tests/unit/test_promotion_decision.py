"""Champion/challenger decisions on numbers computed by intervals.py from hand-made hit matrices."""

import numpy as np
import pytest

from vvae_pipeline.evaluate import intervals
from vvae_pipeline.evaluate.promotion import (
    bootstrap_settings,
    decide,
    decide_promotion,
    paired_accuracy_difference,
    side_by_side,
)
from vvae_pipeline.params import BenchmarkParams

AGENTS = [f"a{i // 3}" for i in range(30)]  # 10 agents x 3 prompts
RNG = np.random.default_rng(0)
HUMAN = (RNG.random((30, 3)) < [0.5, 0.4, 0.2]).astype(float)


def summary(challenger: np.ndarray, champion: np.ndarray | None, db: dict | None = None) -> dict:
    hits = {"sp_ft": challenger, **({"champion": champion} if champion is not None else {})}
    iv = intervals.system_intervals(hits, HUMAN, AGENTS, 500, 0)
    systems = [{"system": s, "status": "ok", "n": 30, "distance": e["distance"], "distance_lo": e["distance_ci"][0],
                "distance_hi": e["distance_ci"][1]} for s, e in iv.items()]
    comps = []
    if champion is not None:
        comps.append({"a": "sp_ft", "b": "champion",
                      **intervals.paired_difference(challenger, champion, HUMAN, AGENTS, 500, 0)})
    return {"systems": systems, "comparisons": comps, "dialogbench_correct": db or {}}


FAR = np.ones((30, 3))  # every detector fires on every reply: far from the human rates


def test_first_adapter_becomes_champion():
    d = decide(summary(FAR, None), "1", None)
    assert d.promote and "first adapter" in d.reason


def test_clearly_closer_challenger_is_promoted():
    d = decide(summary(HUMAN.copy(), FAR), "2", "1")
    assert d.promote, d.reason
    assert d.distance_difference["ci"][1] < 0
    assert d.systems["challenger"]["distance"] == pytest.approx(0.0)
    assert "not checked" in d.reason  # no DialogBench for either: said, not blocking


def test_overlapping_interval_keeps_the_champion():
    # The champion differs from the human replies in a couple of rows only: the difference is not resolved.
    champ = HUMAN.copy()
    champ[0, 0] = 1 - champ[0, 0]
    d = decide(summary(HUMAN.copy(), champ), "2", "1")
    lo, hi = d.distance_difference["ci"]
    assert not d.promote and lo <= 0 <= hi and "does not lie below 0" in d.reason


def test_dialogbench_drop_keeps_the_champion():
    db = {"sp_ft": [False] * 40, "champion": [True] * 40}
    d = decide(summary(HUMAN.copy(), FAR, db), "2", "1")
    assert not d.promote and "DialogBench accuracy drops" in d.reason
    assert d.dialogbench_difference["ci"][1] < 0
    assert d.systems["champion"]["dialogbench_accuracy"] == 1.0


def test_dialogbench_noise_does_not_block():
    db = {"sp_ft": [True, False] * 10, "champion": [False, True] * 9 + [True, True]}
    d = decide(summary(HUMAN.copy(), FAR, db), "2", "1")
    assert d.promote and d.dialogbench_difference["ci"][0] < 0 < d.dialogbench_difference["ci"][1]


def test_same_version_or_missing_champion_run_is_kept():
    assert not decide(summary(HUMAN.copy(), FAR), "2", "2").promote
    d = decide(summary(HUMAN.copy(), None), "2", "1")
    assert not d.promote and "not benchmarked" in d.reason
    assert not decide(summary(HUMAN.copy(), FAR), None, "1").promote


def test_paired_accuracy_difference_needs_the_same_items():
    with pytest.raises(ValueError):
        paired_accuracy_difference([True], [True, False], 500)
    r = paired_accuracy_difference([True, True, False, True], [True, False, False, False], 500)
    assert r["difference"] == pytest.approx(0.5) and r["ci"][0] <= 0.5 <= r["ci"][1]


def test_the_promotion_bootstraps_like_the_benchmark():
    assert bootstrap_settings({"settings": {"bootstrap_samples": 300, "seed": 4}}) == (300, 4)
    default = BenchmarkParams()
    assert bootstrap_settings({}) == (default.bootstrap_samples, default.seed)


def test_a_summary_of_other_adapters_is_not_decided_on():
    s = summary(HUMAN.copy(), FAR)
    s["settings"] = {"registry": {"sp_ft_run_id": "r2", "champion_version": "1"}}
    challenger, champion = {"version": "2", "run_id": "r2"}, {"version": "1", "run_id": "r1"}
    assert decide_promotion(s, challenger, champion).promote  # what was scored is what the registry names
    newer = decide_promotion(s, {"version": "3", "run_id": "r3"}, champion)
    assert not newer.promote and "scored sp_ft run r2, not the newest version 3" in newer.reason
    assert (newer.challenger_version, newer.champion_version) == ("3", "1")
    moved = decide_promotion(s, challenger, {"version": "0", "run_id": "r0"}, champion_repaired=True)
    assert not moved.promote and "scored champion version 1, the repaired registry names 0" in moved.reason
    # Without a repair the champion the alias names is the one benchmark_report fetched: decided.
    assert decide_promotion(s, challenger, champion, champion_repaired=True).promote


def test_side_by_side_prints_distance_intervals_as_the_report_does():
    db = {"sp_ft": [True] * 40, "champion": [True] * 39 + [False]}
    table = side_by_side(decide(summary(HUMAN.copy(), FAR, db), "2", "1"))
    assert "| challenger | 2 | 0.000 [0.000, 0.000] | 100.0% |" in table
    assert "| champion | 1 | " in table and "| 97.5% |" in table
    assert "| champion | - | - | - |" in side_by_side(decide(summary(HUMAN.copy(), None), None, None))
