"""The rules a prior table must satisfy, one pure function per rule.

Each rule takes the table and returns a ``schemas.ValidationReport`` whose failures name the
column, the rule in words and up to three offending cases, so a failed Dagster check reads as
a sentence (``no_pii_in_values`` names dimensions and counts, never the values). ``PRIOR_RULES``
and ``PRIOR_STATS_RULES`` map check names to rules; the Dagster layer (assets/checks.py) turns
each entry into a blocking asset check.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from vvae_pipeline.encode.garbage import no_pii_in_values
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES, normalize
from vvae_pipeline.schemas import PersonaPrior, PriorStats, ValidationReport, validate

# Probabilities are count / total in float64; 1e-6 leaves room for summing ~10^5 values.
SUM_TOLERANCE = 1e-6

Rule = Callable[[pl.DataFrame], ValidationReport]


def _report(df: pl.DataFrame, column: str, check: str, bad: list) -> ValidationReport:
    if not bad:
        return ValidationReport(True, df.height, [])
    return ValidationReport(False, df.height, [{"column": column, "check": f"{check} ({len(bad)} failing)",
                                                 "cases": [str(b) for b in bad[:3]]}])


def _require(df: pl.DataFrame, *cols: str) -> ValidationReport | None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        return ValidationReport(False, df.height, [{"column": ", ".join(missing), "check": "column missing",
                                                     "cases": []}])
    return None


def dimensions_in_latent_space(df: pl.DataFrame) -> ValidationReport:
    """Every dimension is one of latent.DIMENSIONS and sits on its own axis."""
    if (r := _require(df, "axis", "dimension")) is not None:
        return r
    axis_of = {d: BY_NAME[d].axis for d in DIMENSION_NAMES}
    bad = (df.select("dimension", "axis").unique(maintain_order=True)
           .filter(pl.col("axis").ne_missing(pl.col("dimension").replace_strict(axis_of, default=None))
                   | ~pl.col("dimension").is_in(DIMENSION_NAMES)))
    return _report(df, "dimension", "dimension in the latent space, on its own axis",
                   [f"{d} (axis {a})" for d, a in bad.iter_rows()])


def values_normalised(df: pl.DataFrame) -> ValidationReport:
    """Values are non-empty and already in ``latent.normalize`` form (checked per distinct value)."""
    if (r := _require(df, "dimension", "value")) is not None:
        return r
    bad = []
    for dim, value in df.select("dimension", "value").unique(maintain_order=True).iter_rows():
        if dim not in BY_NAME:
            continue  # dimensions_in_latent_space reports it
        canon = normalize(dim, value)
        if value is None or canon != value:
            bad.append(f"{dim}={value!r} (normal form {canon!r})")
    return _report(df, "value", "value non-empty and normalised", bad)


def counts_positive(df: pl.DataFrame) -> ValidationReport:
    """Every listed value was observed at least once."""
    if (r := _require(df, "dimension", "value", "count")) is not None:
        return r
    bad = df.filter(pl.col("count").fill_null(0) < 1).select("dimension", "value", "count").iter_rows()
    return _report(df, "count", "count >= 1", [f"{d}={v!r}: {c}" for d, v, c in bad])


def probabilities_in_range(df: pl.DataFrame) -> ValidationReport:
    """0 < probability <= 1."""
    if (r := _require(df, "dimension", "value", "probability")) is not None:
        return r
    p = pl.col("probability")
    bad = df.filter(p.is_null() | p.is_nan() | (p <= 0) | (p > 1)).select("dimension", "value", "probability")
    return _report(df, "probability", "probability in (0, 1]", [f"{d}={v!r}: {x}" for d, v, x in bad.iter_rows()])


def probabilities_sum_to_one(df: pl.DataFrame) -> ValidationReport:
    """Each dimension's probabilities sum to 1 within SUM_TOLERANCE."""
    if (r := _require(df, "dimension", "probability")) is not None:
        return r
    sums = df.group_by("dimension", maintain_order=True).agg(pl.col("probability").sum().alias("total"))
    bad = sums.filter(((pl.col("total") - 1.0).abs() > SUM_TOLERANCE) | pl.col("total").is_nan())
    return _report(df, "probability", f"probabilities sum to 1 per dimension (tolerance {SUM_TOLERANCE:g})",
                   [f"{d}: sum {t:.8f}" for d, t in bad.iter_rows()])


def probabilities_match_counts(df: pl.DataFrame) -> ValidationReport:
    """probability == count / (sum of counts of its dimension): the two columns tell one story."""
    if (r := _require(df, "dimension", "value", "count", "probability")) is not None:
        return r
    expected = pl.col("count") / pl.col("count").sum().over("dimension")
    bad = df.filter((pl.col("probability") - expected).abs() > SUM_TOLERANCE).select("dimension", "value",
                                                                                   "probability")
    return _report(df, "probability", "probability = count / dimension total",
                   [f"{d}={v!r}: {x}" for d, v, x in bad.iter_rows()])


def dimension_value_unique(df: pl.DataFrame) -> ValidationReport:
    """(dimension, value) appears once."""
    if (r := _require(df, "dimension", "value")) is not None:
        return r
    dup = df.group_by("dimension", "value", maintain_order=True).len().filter(pl.col("len") > 1)
    return _report(df, "dimension, value", "(dimension, value) unique",
                   [f"{d}={v!r} x{n}" for d, v, n in dup.iter_rows()])


def one_row_per_dimension(df: pl.DataFrame) -> ValidationReport:
    """The stats table lists every latent dimension exactly once."""
    if (r := _require(df, "dimension")) is not None:
        return r
    counts = dict(df.group_by("dimension").len().iter_rows())
    bad = [f"{d} x{counts.get(d, 0)}" for d in DIMENSION_NAMES if counts.get(d, 0) != 1]
    bad += [f"{d} (not a dimension)" for d in counts if d not in BY_NAME]
    return _report(df, "dimension", "one row per latent dimension", bad)


def null_rates_consistent(df: pl.DataFrame) -> ValidationReport:
    """n_observed <= n_rows and null_rate = 1 - n_observed / n_rows (1 when there are no rows)."""
    if (r := _require(df, "dimension", "n_rows", "n_observed", "null_rate")) is not None:
        return r
    expected = pl.when(pl.col("n_rows") > 0).then(1.0 - pl.col("n_observed") / pl.col("n_rows")).otherwise(1.0)
    bad = df.filter((pl.col("n_observed") > pl.col("n_rows"))
                    | ((pl.col("null_rate") - expected).abs() > SUM_TOLERANCE) | pl.col("null_rate").is_nan())
    return _report(df, "null_rate", "null_rate = 1 - n_observed / n_rows",
                   [f"{d}: {o}/{n} observed, null_rate {x}"
                    for d, o, n, x in bad.select("dimension", "n_observed", "n_rows", "null_rate").iter_rows()])


PRIOR_RULES: dict[str, Rule] = {
    "schema": lambda df: validate(df, PersonaPrior),
    "dimensions_in_latent_space": dimensions_in_latent_space,
    "values_normalised": values_normalised,
    "counts_positive": counts_positive,
    "probabilities_in_range": probabilities_in_range,
    "probabilities_sum_to_one": probabilities_sum_to_one,
    "probabilities_match_counts": probabilities_match_counts,
    "dimension_value_unique": dimension_value_unique,
    # A name or placeholder in the prior is sampled into other agents' training prompts.
    "no_pii_in_values": no_pii_in_values,
}
PRIOR_STATS_RULES: dict[str, Rule] = {
    "schema": lambda df: validate(df, PriorStats),
    "one_row_per_dimension": one_row_per_dimension,
    "null_rates_consistent": null_rates_consistent,
}
