"""How well the encoder recovers the personas the text truly shows.

Per dimension, over the (session_id, turn_index) examples present in both tables:
- precision: of the non-null values the encoder produced, the share equal to the true value;
- recall: of the true non-null values, the share the encoder produced exactly;
- null_rate / true_null_rate: how often the encoder (truth) says null.
Values are compared after ``latent.normalize`` so "Sunshine" and "sunshine", "❤️" and "❤" agree.
"""

from __future__ import annotations

import polars as pl

from vvae_pipeline.latent import DIMENSION_NAMES, normalize

KEYS = ("session_id", "turn_index")


def score(extractions: pl.DataFrame, truth: pl.DataFrame) -> dict:
    """{"n_matched": int, "dimensions": {dim: {precision, recall, null_rate, true_null_rate, ...}}, "macro_f1"}"""
    missing = [c for c in (*KEYS, *DIMENSION_NAMES) if c not in truth.columns]
    if missing:
        raise ValueError(f"truth table lacks columns {missing}")
    joined = extractions.select(*KEYS, *DIMENSION_NAMES).join(
        truth.select(*KEYS, *DIMENSION_NAMES), on=list(KEYS), how="inner", suffix="_true"
    )
    dims: dict[str, dict] = {}
    f1s = []
    for d in DIMENSION_NAMES:
        pred = [normalize(d, v) for v in joined[d].to_list()]
        true = [normalize(d, v) for v in joined[f"{d}_true"].to_list()]
        n_pred = sum(p is not None for p in pred)
        n_true = sum(t is not None for t in true)
        correct = sum(p is not None and p == t for p, t in zip(pred, true))
        precision = correct / n_pred if n_pred else None
        recall = correct / n_true if n_true else None
        f1 = (2 * precision * recall / (precision + recall) if precision and recall else 0.0
              if precision is not None and recall is not None else None)
        if f1 is not None:
            f1s.append(f1)
        n = len(pred) or 1
        dims[d] = {"precision": _r(precision), "recall": _r(recall), "f1": _r(f1), "n_pred": n_pred,
                   "n_true": n_true, "n_correct": correct, "null_rate": _r(1 - n_pred / n),
                   "true_null_rate": _r(1 - n_true / n)}
    return {"n_matched": joined.height, "n_extractions": extractions.height,
            "macro_f1": _r(sum(f1s) / len(f1s)) if f1s else None, "dimensions": dims}


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def as_table(result: dict) -> pl.DataFrame:
    return pl.DataFrame([{"dimension": d, **m} for d, m in result["dimensions"].items()])
