"""How well the encoder recovers the personas the text truly shows, next to trivial baselines.

Per dimension, over the examples present in both tables:
- precision: of the non-null values the encoder produced, the share that match the truth;
- recall: of the examples with a true value, the share the encoder matched;
- F1, and null_rate / true_null_rate: how often the encoder (truth) says null;
- 95% intervals (vvae_pipeline.uncertainty): Wilson for precision and recall (counts shown), a
  seeded percentile bootstrap over examples for F1;
- baselines on the same examples: ``majority`` (the most frequent true value, everywhere) and
  ``always_null`` (precision undefined, recall 0, F1 0 by construction).

A truth cell is a set of accepted values (a real profile can name several hobbies) or null; the
demo's truth has one value. Values are compared after ``latent.normalize`` ("Sunshine" = "sunshine",
"❤️" = "❤"); ``match`` can be loosened per dimension (``hobby_match``).

``score_batch`` is what the persona_extractions asset calls when its run config names a truth table:
the truth's platform session ids are pseudonymized as the scrub stage did, then ``score``; ``summary``
is the per-dimension precision / recall / null rate it shows as metadata.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl

from vvae_pipeline.latent import DIMENSION_NAMES, normalize
from vvae_pipeline.scrub.pseudonyms import pseudonymize
from vvae_pipeline.uncertainty import bootstrap_ci, fmt_ci, wilson

KEYS = ("session_id", "turn_index")
# A scored batch's ``score_batch`` result, as JSON in the batch's artifact folder (written by the
# persona_extractions asset, read back by the benchmark report: evaluate.report.load_encoder_quality).
QUALITY_FILE = "quality.json"
Truth = frozenset | None
Match = Callable[[str, frozenset], bool]


def exact(pred: str, truth: frozenset) -> bool:
    return pred in truth


def _stems(text: str) -> set[str]:
    words = {w[:5] for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 4}
    return words | set(re.findall(r"[\u4e00-\u9fff]{2,}", text))


def hobby_match(pred: str, truth: frozenset) -> bool:
    """Same value, one inside the other ("poetry" / "writing poetry"), or a shared content-word stem
    (first 5 letters of a word of >= 4: "hiking" / "hike" no, "painting" / "paints" yes)."""
    p = pred.lower()
    return any(p == t.lower() or p in t.lower() or t.lower() in p or _stems(p) & _stems(t) for t in truth)


def _counts(pred: Sequence[str | None], true: Sequence[Truth], match: Match) -> tuple[int, int, int]:
    n_pred = sum(p is not None for p in pred)
    n_true = sum(bool(t) for t in true)
    correct = sum(p is not None and bool(t) and match(p, t) for p, t in zip(pred, true, strict=True))
    return n_pred, n_true, correct


def _f1(n_pred: int, n_true: int, correct: int) -> float | None:
    if not n_pred and not n_true:
        return None
    return 2 * correct / (n_pred + n_true)


def rate_ci(k: int, n: int) -> tuple[float, float] | None:
    """Wilson interval of k/n, rounded like every figure here; None when there is no n (undefined rate)."""
    if not n:
        return None
    lo, hi = wilson(k, n)
    return _r(lo), _r(hi)


def metrics(pred: Sequence[str | None], true: Sequence[Truth], match: Match = exact, n_boot: int = 300,
            seed: int = 0) -> dict:
    n_pred, n_true, correct = _counts(pred, true, match)
    n = len(pred)
    has_pred = np.array([p is not None for p in pred], dtype=float)
    has_true = np.array([bool(t) for t in true], dtype=float)
    hits = np.array([p is not None and bool(t) and match(p, t) for p, t in zip(pred, true, strict=True)],
                    dtype=float)

    def boot_f1(w: np.ndarray) -> np.ndarray:  # F1 of each resample; 0 where it has no value at all
        denom = w @ has_pred + w @ has_true
        return np.where(denom > 0, 2 * (w @ hits) / np.where(denom > 0, denom, 1.0), 0.0)

    f1_ci = tuple(_r(x) for x in bootstrap_ci(boot_f1, range(n), n_boot, seed)) if n else None
    f1 = _f1(n_pred, n_true, correct)
    return {
        "n": n, "n_pred": n_pred, "n_true": n_true, "n_correct": correct,
        "precision": _r(correct / n_pred if n_pred else None), "precision_ci": rate_ci(correct, n_pred),
        "recall": _r(correct / n_true if n_true else None), "recall_ci": rate_ci(correct, n_true),
        "f1": _r(f1), "f1_ci": f1_ci,
        "null_rate": _r(1 - n_pred / n if n else None), "true_null_rate": _r(1 - n_true / n if n else None),
    }


def majority_value(true: Sequence[Truth]) -> str | None:
    counts = Counter(v for t in true if t for v in t)
    return min(counts, key=lambda v: (-counts[v], v)) if counts else None


def dimension_report(pred: Sequence[str | None], true: Sequence[Truth], match: Match = exact) -> dict:
    """The encoder's metrics with the majority-class and always-null baselines on the same examples."""
    maj = majority_value(true)
    out = metrics(pred, true, match)
    out["majority_value"] = maj
    out["baselines"] = {"majority": metrics([maj] * len(true), true, match),
                        "always_null": metrics([None] * len(true), true, match)}
    return out


def _truth_cell(dim: str, value) -> Truth:
    if value is None:
        return None
    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    cell = frozenset(n for v in values if (n := normalize(dim, v)))
    return cell or None


def score(extractions: pl.DataFrame, truth: pl.DataFrame, dims: Sequence[str] = DIMENSION_NAMES,
          keys: Sequence[str] = KEYS, matchers: dict[str, Match] | None = None) -> dict:
    """{"n_matched", "n_extractions", "macro_f1", "dimensions": {dim: metrics + baselines}} over the
    examples in both tables; truth cells may be a value or a list of accepted values."""
    missing = [c for c in (*keys, *dims) if c not in truth.columns]
    if missing:
        raise ValueError(f"truth table lacks columns {missing}")
    joined = extractions.select(*keys, *dims).join(truth.select(*keys, *dims), on=list(keys), how="inner",
                                                   suffix="_true")
    out: dict[str, dict] = {}
    for d in dims:
        pred = [normalize(d, v) for v in joined[d].to_list()]
        true = [_truth_cell(d, v) for v in joined[f"{d}_true"].to_list()]
        out[d] = dimension_report(pred, true, (matchers or {}).get(d, exact))
    f1s = [m["f1"] for m in out.values() if m["f1"] is not None]
    return {"n_matched": joined.height, "n_extractions": extractions.height,
            "macro_f1": _r(sum(f1s) / len(f1s)) if f1s else None, "dimensions": out}


def score_batch(extractions: pl.DataFrame, truth: pl.DataFrame, id_key: str, **labels) -> dict:
    """``score`` of one batch against a truth table that names sessions by their platform ids (the demo's
    <home>/demo/truth.parquet): those become pseudonyms under ``id_key``, as the scrub stage made them.
    ``labels`` (e.g. batch, engine, model) are added to the result."""
    quality = score(extractions, pseudonymize(truth, id_key, {"session_id": "session"}))
    quality.update(labels)
    return quality


def summary(quality: dict) -> dict[str, dict]:
    """{dimension: {precision, recall, null_rate}} of a ``score`` result."""
    return {d: {k: m[k] for k in ("precision", "recall", "null_rate")} for d, m in quality["dimensions"].items()}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(result: dict, title: str = "") -> str:
    """The table as markdown: P, R, F1 with intervals and counts per system, and the null rates."""
    lines = [f"**{title}** ({result['n_matched']} examples)" if title else "",
             "| dimension | system | P [95% CI] (k/n) | R [95% CI] (k/n) | F1 [95% CI] | null pred / true |",
             "|---|---|---|---|---|---|"]
    for d, m in result["dimensions"].items():
        for system, s in (("encoder", m), ("majority" + (f" ({m['majority_value']})" if m["majority_value"] else ""),
                                           m["baselines"]["majority"]), ("always null", m["baselines"]["always_null"])):
            p, r, f1 = (fmt_ci(s[k], s[f"{k}_ci"], ".2f") for k in ("precision", "recall", "f1"))
            lines.append(f"| {d} | {system} | {p} ({s['n_correct']}/{s['n_pred']}) | "
                         f"{r} ({s['n_correct']}/{s['n_true']}) | {f1} | "
                         f"{_fmt(s['null_rate'])} / {_fmt(s['true_null_rate'])} |")
    return "\n".join(x for x in lines if x)
