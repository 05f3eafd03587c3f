"""Champion/challenger: should the new SP+FT adapter replace the registry's champion?

Both adapters are scored in the same benchmark run, on the same test prompts with the same
decoding (evaluate.run adds the champion as the extra system ``champion``), so the comparison is
a paired one:

- distance: the challenger is closer to the human rates when the agent-bootstrap 95% interval of
  distance(challenger) - distance(champion) lies entirely below 0 (``intervals.paired_difference``,
  the ``sp_ft`` vs ``champion`` row of the summary's comparisons);
- DialogBench (general dialogue understanding must not suffer): the item-bootstrap 95% interval
  of accuracy(challenger) - accuracy(champion) on the same items must not lie entirely below 0.
  When either system has no DialogBench result the decision says so and does not block on it.

The first adapter of a backbone (no champion yet) becomes the champion. Pure functions: no
registry, no Dagster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vvae_pipeline.uncertainty import bootstrap_ci

CHALLENGER, CHAMPION = "sp_ft", "champion"


@dataclass
class Decision:
    promote: bool
    reason: str
    challenger_version: str | None
    champion_version: str | None
    systems: dict[str, dict] = field(default_factory=dict)  # challenger/champion: distance, CI, DialogBench acc
    distance_difference: dict | None = None  # challenger - champion, with ci
    dialogbench_difference: dict | None = None  # challenger - champion accuracy, with ci

    def as_dict(self) -> dict:
        return asdict(self)


def _accuracy(correct: list) -> float | None:
    return float(np.mean([bool(c) for c in correct])) if correct else None


def paired_accuracy_difference(a: list, b: list, n_boot: int = 2000, seed: int = 0) -> dict:
    """accuracy(a) - accuracy(b) on the same items (same order), with an item-bootstrap 95% interval."""
    if len(a) != len(b) or not a:
        raise ValueError(f"paired accuracy needs the same non-empty items, got {len(a)} and {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    ci = bootstrap_ci(lambda w: (w @ d) / w.sum(axis=1), range(len(d)), n_boot, seed)  # each item its own unit
    return {"difference": float(d.mean()), "ci": ci, "n_items": len(d)}


def _system(summary: dict, name: str) -> dict | None:
    row = next((s for s in summary.get("systems", []) if s.get("system") == name and s.get("status") == "ok"), None)
    if row is None:
        return None
    correct = (summary.get("dialogbench_correct") or {}).get(name)
    return {"distance": row["distance"], "distance_ci": (row["distance_lo"], row["distance_hi"]), "n": row["n"],
            "dialogbench_accuracy": _accuracy(correct) if correct else None}


def decide(summary: dict, challenger_version: str | None, champion_version: str | None,
           n_boot: int = 2000, seed: int = 0) -> Decision:
    """Promote ``challenger_version`` (the newest sp_ft registry version) over ``champion_version``
    (None: no champion yet) on the numbers of one benchmark ``summary`` (summary.json)."""
    ch = _system(summary, CHALLENGER)
    systems = {"challenger": ch} if ch else {}

    def keep(reason: str, **kw) -> Decision:
        return Decision(False, reason, challenger_version, champion_version, systems, **kw)

    if challenger_version is None or ch is None:
        return keep("no challenger: sp_ft has no registered version or no benchmark result")
    if champion_version is None:
        return Decision(True, f"first adapter of this backbone: version {challenger_version} becomes champion",
                        challenger_version, None, systems)
    if str(champion_version) == str(challenger_version):
        return keep(f"version {challenger_version} is already the champion")
    champ = _system(summary, CHAMPION)
    if champ is None:
        return keep(f"the champion (version {champion_version}) was not benchmarked in this run, so there is "
                    "no paired comparison")
    systems["champion"] = champ
    comp = next((c for c in summary.get("comparisons", []) if c["a"] == CHALLENGER and c["b"] == CHAMPION), None)
    if comp is None:
        return keep("the summary has no paired sp_ft - champion distance difference")
    dist = {"difference": comp["difference"], "ci": tuple(comp["ci"])}

    db, db_note = None, ""
    correct = summary.get("dialogbench_correct") or {}
    if correct.get(CHALLENGER) and correct.get(CHAMPION):
        db = paired_accuracy_difference(correct[CHALLENGER], correct[CHAMPION], n_boot, seed)
    else:
        db_note = "; DialogBench not run for both systems, not checked"

    lo, hi = dist["ci"]
    if not hi < 0:
        return keep(f"not closer beyond the interval: distance difference {dist['difference']:+.3f} "
                    f"(95% CI {lo:+.3f} to {hi:+.3f}) does not lie below 0{db_note}",
                    distance_difference=dist, dialogbench_difference=db)
    if db is not None and db["ci"][1] < 0:
        return keep(f"closer to human (distance difference {dist['difference']:+.3f}, 95% CI {lo:+.3f} to "
                    f"{hi:+.3f}) but DialogBench accuracy drops {db['difference']:+.1%} (95% CI "
                    f"{db['ci'][0]:+.1%} to {db['ci'][1]:+.1%}, entirely below 0)",
                    distance_difference=dist, dialogbench_difference=db)
    db_text = (f", DialogBench accuracy difference {db['difference']:+.1%} (95% CI {db['ci'][0]:+.1%} to "
               f"{db['ci'][1]:+.1%})" if db else db_note)
    return Decision(True, f"closer to human: distance difference {dist['difference']:+.3f} (95% CI {lo:+.3f} to "
                    f"{hi:+.3f}){db_text}", challenger_version, champion_version, systems, dist, db)
