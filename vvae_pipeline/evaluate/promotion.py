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

The first adapter of a backbone (no champion yet) becomes the champion. Before any of that,
``decide_promotion`` refuses to decide on a summary that scored other adapters than the registry
now names (a newer sp_ft version, or a champion the registry repair moved). Pure functions: no
registry, no Dagster; the bootstrap's resamples and seed are the benchmark's own (its settings).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from vvae_pipeline.evaluate.systems import CHAMPION, SP_FT
from vvae_pipeline.params import BenchmarkParams
from vvae_pipeline.uncertainty import bootstrap_ci, fmt_ci

CHALLENGER = SP_FT


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


def paired_accuracy_difference(a: list, b: list, n_boot: int, seed: int = 0) -> dict:
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


def bootstrap_settings(summary: dict) -> tuple[int, int]:
    """(resamples, seed) of the benchmark that wrote ``summary`` (its settings), BenchmarkParams'
    defaults where a summary does not say."""
    settings, default = summary.get("settings") or {}, BenchmarkParams()
    return (int(settings.get("bootstrap_samples", default.bootstrap_samples)),
            int(settings.get("seed", default.seed)))


def decide_promotion(summary: dict, challenger: dict | None, champion: dict | None,
                     champion_repaired: bool = False) -> Decision:
    """promoted_adapter's rule. ``challenger``: the newest sp_ft registry version ({version, run_id}),
    ``champion``: the version the alias names (None: none yet), ``champion_repaired``: this run's
    reconcile moved champion.json or the alias. Kept, with the reason, when ``summary`` scored another
    sp_ft run or another champion than these; else ``decide``."""
    c_version, k_version = challenger and challenger["version"], champion and champion["version"]
    registry = (summary.get("settings") or {}).get("registry") or {}
    scored = registry.get("sp_ft_run_id")
    if challenger and scored and challenger["run_id"] != scored:
        return Decision(False, f"the benchmark scored sp_ft run {scored}, not the newest version {c_version} "
                               f"(run {challenger['run_id']}): re-run benchmark_report", c_version, k_version)
    if champion_repaired and "champion_version" in registry and registry["champion_version"] != k_version:
        # The repair moved the champion after the benchmark scored the old one: its numbers are not this champion's.
        return Decision(False, f"the benchmark scored champion version {registry['champion_version']}, the "
                               f"repaired registry names {k_version}: re-run benchmark_report", c_version, k_version)
    return decide(summary, c_version, k_version)


def decide(summary: dict, challenger_version: str | None, champion_version: str | None) -> Decision:
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
        db = paired_accuracy_difference(correct[CHALLENGER], correct[CHAMPION], *bootstrap_settings(summary))
    else:
        db_note = "; DialogBench not run for both systems, not checked"

    dist_text = "distance difference " + fmt_ci(dist["difference"], dist["ci"], "+.3f", prose=True)
    if not dist["ci"][1] < 0:
        return keep(f"not closer beyond the interval: {dist_text} does not lie below 0{db_note}",
                    distance_difference=dist, dialogbench_difference=db)
    db_text = db and "difference " + fmt_ci(db["difference"], db["ci"], "+.1%", prose=True)
    if db is not None and db["ci"][1] < 0:
        return keep(f"closer to human ({dist_text}) but DialogBench accuracy drops: {db_text}, entirely below 0",
                    distance_difference=dist, dialogbench_difference=db)
    return Decision(True, f"closer to human: {dist_text}" + (f", DialogBench accuracy {db_text}" if db else db_note),
                    challenger_version, champion_version, systems, dist, db)


def side_by_side(d: Decision) -> str:
    """The challenger and the champion as a Markdown table: version, distance to the human rates
    with its interval, DialogBench accuracy."""
    rows = []
    for name, version in (("challenger", d.challenger_version), ("champion", d.champion_version)):
        s = d.systems.get(name) or {}
        acc = s.get("dialogbench_accuracy")
        rows.append(f"| {name} | {version or '-'} | {fmt_ci(s.get('distance'), s.get('distance_ci'))} | "
                    + ("-" if acc is None else f"{acc:.1%}") + " |")
    return "\n".join(["| system | version | distance to human [95% CI] | DialogBench accuracy |", "|---|---|---|---|",
                      *rows])
