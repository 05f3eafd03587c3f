"""Which persona dimensions an encoder may answer, decided by measurement on real labelled dialogue.

    table = load()                                      # vvae_pipeline/data/encoder_capabilities.json
    off = unanswered("transformers", "smollm2-135m")    # dimensions that engine leaves null
    entry = decide(results)                             # bench/bench_encoder_quality.py writes it

Rule (``decide``), per dimension and engine, over every real corpus with labels for it:
- answered when, on each such corpus, the lower end of the 95% Wilson interval of the encoder's
  precision is above the majority-class baseline's precision (the most frequent true value given
  for every example). An encoder that never answers there has no precision and does not pass;
- grounded dimensions with no real labels (catchphrase, emoji, nickname) stay answered: a value
  must literally occur in the agent's own text (``grounding``) and pass the candidate rules, so
  precision is bounded by rule, not by the model;
- any other dimension with no real labels is not answered (nothing shows the model can).
An engine with no entry answers every dimension: strong engines (vLLM, an OpenAI-compatible
endpoint serving a large model) are trusted until measured otherwise.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.uncertainty import fmt_ci

TABLE_PATH = Path(__file__).resolve().parents[1] / "data" / "encoder_capabilities.json"
GROUNDED_RULE = "grounded_rule"
BEATS_MAJORITY = "beats_majority"
NOT_BETTER = "not_better_than_majority"
UNMEASURED = "no_real_labels"


def engine_key(engine: str, model: str) -> str:
    return f"{engine}:{model}"


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    p = Path(path)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {"engines": {}}


def load(path: Path | str = TABLE_PATH) -> dict:
    return _load(str(path))


def unanswered(engine: str, model: str, table: dict | None = None) -> frozenset[str]:
    """Dimensions the engine leaves null; empty when it was never measured."""
    entry = (table or load())["engines"].get(engine_key(engine, model))
    if entry is None:
        return frozenset()
    return frozenset(d for d, e in entry["dimensions"].items() if not e["answered"])


def _verdict(reports: list[dict]) -> tuple[bool, str]:
    """(answered, reason) from the per-corpus ``quality.dimension_report`` results of one dimension."""
    for rep in reports:
        lo = (rep.get("precision_ci") or (None, None))[0]
        majority = rep["baselines"]["majority"]["precision"] or 0.0
        if lo is None or lo <= majority:
            return False, NOT_BETTER
    return True, BEATS_MAJORITY


def decide(corpora: dict[str, dict]) -> dict:
    """A capability entry from ``{corpus: real_corpora.evaluate(...) result}``: per dimension whether
    it is answered, why, and the figures behind it (precision and its interval, the majority
    baseline's precision, answer rate), per corpus."""
    dims: dict[str, dict] = {}
    for d in DIMENSION_NAMES:
        reports = {c: r["dimensions"][d] for c, r in corpora.items() if d in r["dimensions"]
                   and r["dimensions"][d]["n_true"] > 0}
        if reports:
            answered, reason = _verdict(list(reports.values()))
        elif BY_NAME[d].grounded:
            answered, reason = True, GROUNDED_RULE
        else:
            answered, reason = False, UNMEASURED
        dims[d] = {"answered": answered, "reason": reason, "corpora": {c: {
            "n": r["n"], "precision": r["precision"], "precision_ci": r["precision_ci"],
            "majority_value": r.get("majority_value"),
            "majority_precision": r["baselines"]["majority"]["precision"],
            "recall": r["recall"], "answer_rate": None if r["null_rate"] is None else round(1 - r["null_rate"], 4),
        } for c, r in reports.items()}}
    return {"dimensions": dims}


def write(entry: dict, engine: str, model: str, path: Path | str = TABLE_PATH, **about) -> dict:
    """Merge ``entry`` for engine:model into the table at ``path`` (other engines kept)."""
    from vvae_pipeline.storage_io import atomic_write_json

    p = Path(path)
    table = json.loads(p.read_text(encoding="utf-8")) if p.is_file() else {"engines": {}}
    table["about"] = (
        "Per engine:model, which persona dimensions the encoder answers; written by "
        "bench/bench_encoder_quality.py --write-capabilities (rule: vvae_pipeline/encode/capabilities.py)."
    )
    table["engines"][engine_key(engine, model)] = {**about, **entry}
    atomic_write_json(p, table)
    _load.cache_clear()
    return table


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}"


def markdown(table: dict | None = None) -> str:
    """Every measured engine's row per dimension and corpus: answered or not (and why), answer rate,
    precision with its 95% Wilson interval and counts, the majority baseline's precision, recall."""
    table = table if table is not None else load()
    if not table.get("engines"):
        return "No engine has been measured on real labelled dialogue (vvae_pipeline/data/encoder_capabilities.json)."
    rows = [("| engine | dimension | answered | corpus | n | answer rate | precision [95% CI] | majority (precision) "
             "| recall |"), "|---|---|---|---|---|---|---|---|---|"]
    for key, entry in table["engines"].items():
        for d, e in entry["dimensions"].items():
            verdict = f"{'yes' if e['answered'] else 'no'} ({e['reason']})"
            if not e["corpora"]:
                rows.append(f"| {key} | {d} | {verdict} | - | - | - | - | - | - |")
            for c, m in e["corpora"].items():
                prec = fmt_ci(m["precision"], m["precision_ci"], ".0%")
                rows.append(f"| {key} | {d} | {verdict} | {c} | {m['n']} | {_pct(m['answer_rate'])} | {prec} | "
                            f"{m['majority_value'] or '-'} ({_pct(m['majority_precision'])}) | {_pct(m['recall'])} |")
    return "\n".join(rows)
