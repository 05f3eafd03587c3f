"""Empirical per-dimension priors p(z_d) of the latent persona, and their drift.

The prior of dimension d is the share of each value among the extraction rows where d was
observed (not null). Rows whose extraction failed are left out: their nulls say nothing about
whether the text shows a persona. Everything is a polars group-by over a long (row, dimension,
value) frame; only the distinct values (thousands, not millions) pass through
``latent.normalize``.
"""

from __future__ import annotations

import polars as pl

from vvae_pipeline.encode.value_pii import unfit_values
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES, normalize
from vvae_pipeline.schemas import PersonaPrior, PriorStats, polars_schema

PRIOR_SCHEMA = polars_schema(PersonaPrior)
STATS_SCHEMA = polars_schema(PriorStats)
_DIM_ORDER = pl.Enum(list(DIMENSION_NAMES))
_AXIS_OF = {d: BY_NAME[d].axis for d in DIMENSION_NAMES}


def usable_rows(extractions: pl.DataFrame) -> pl.DataFrame:
    """Rows whose extraction did not fail (status ``ok`` or ``retried``)."""
    missing = {"extraction_id", "status", *DIMENSION_NAMES} - set(extractions.columns)
    if missing:
        raise ValueError(f"extractions lack columns {sorted(missing)}")
    return extractions.filter(pl.col("status") != "failed")


def normalize_persona_columns(df: pl.DataFrame) -> pl.DataFrame:
    """Each dimension column in canonical form (``latent.normalize``); unusable values -> null.

    The mapping is computed once per distinct value, then applied as a join-free ``replace``.
    """
    exprs = []
    for dim in DIMENSION_NAMES:
        distinct = df.get_column(dim).drop_nulls().unique().to_list()
        mapping = {v: normalize(dim, v) for v in distinct}
        if all(k == v for k, v in mapping.items()):
            continue
        exprs.append(pl.col(dim).replace_strict(mapping, default=None, return_dtype=pl.Utf8))
    return df.with_columns(exprs) if exprs else df


def build_priors(extractions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(priors per schemas.PersonaPrior, per-dimension stats per schemas.PriorStats, stats dict).
    Values holding a name, a placeholder or structured PII are left out (counted in the stats)."""
    rows = normalize_persona_columns(usable_rows(extractions).select(DIMENSION_NAMES))
    n_rows = rows.height
    long = rows.unpivot(on=list(DIMENSION_NAMES), variable_name="dimension", value_name="value").drop_nulls("value")
    unfit = unfit_values(long)  # a prior value is sampled into other agents' prompts
    n_unfit = long.join(unfit, on=["dimension", "value"], how="semi").height
    long = long.join(unfit, on=["dimension", "value"], how="anti")
    priors = (
        long.group_by("dimension", "value").agg(pl.len().cast(pl.Int64).alias("count"))
        .with_columns(probability=pl.col("count") / pl.col("count").sum().over("dimension"))
        .with_columns(axis=pl.col("dimension").replace_strict(_AXIS_OF, return_dtype=pl.Utf8))
        # Canonical order: latent-space dimension order, most frequent first, ties by value.
        .sort(pl.col("dimension").cast(_DIM_ORDER), pl.col("count"), pl.col("value"),
              descending=[False, True, False])
        .select(list(PRIOR_SCHEMA))
        .cast(PRIOR_SCHEMA)
    )
    per_dim = priors.group_by("dimension").agg(
        pl.col("count").sum().alias("n_observed"), pl.len().cast(pl.Int64).alias("n_distinct"))
    stats_df = (
        pl.DataFrame({"dimension": list(DIMENSION_NAMES), "axis": [_AXIS_OF[d] for d in DIMENSION_NAMES]})
        .join(per_dim, on="dimension", how="left", maintain_order="left")
        .with_columns(pl.col("n_observed", "n_distinct").fill_null(0), n_rows=pl.lit(n_rows, pl.Int64))
        # No usable rows: every dimension is unobserved, null rate 1.
        .with_columns(null_rate=(1.0 - pl.col("n_observed") / pl.col("n_rows")).fill_nan(1.0)
                      if n_rows else pl.lit(1.0))
        .select(list(STATS_SCHEMA))
        .cast(STATS_SCHEMA)
    )
    stats = {
        "n_input_rows": extractions.height,
        "n_failed_rows": extractions.height - n_rows,
        "n_rows": n_rows,
        "n_prior_values": priors.height,
        "n_values_left_out_pii": n_unfit,
        "null_rate": dict(zip(stats_df["dimension"], [round(x, 4) for x in stats_df["null_rate"]])),
    }
    return priors, stats_df, stats


def prior_drift(previous: pl.DataFrame, current: pl.DataFrame, top_k: int = 3) -> pl.DataFrame:
    """Jensen-Shannon divergence (base 2, in [0, 1]) of each dimension's prior, old vs new.

    One row per latent dimension: ``jsd`` and ``top_changes``, the ``top_k`` values whose
    probability moved most, as "value: p_old -> p_new". A dimension with values on one side only
    has JSD 1; empty on both sides, 0.
    """
    old = previous.select("dimension", "value", pl.col("probability").alias("p"))
    new = current.select("dimension", "value", pl.col("probability").alias("q"))
    both = old.join(new, on=["dimension", "value"], how="full", coalesce=True).with_columns(
        pl.col("p", "q").fill_null(0.0))
    m = (pl.col("p") + pl.col("q")) / 2

    def kl(col: str) -> pl.Expr:
        return pl.when(pl.col(col) > 0).then(pl.col(col) * (pl.col(col) / m).log(2)).otherwise(0.0)

    per_dim = both.group_by("dimension").agg(
        jsd=(0.5 * kl("p") + 0.5 * kl("q")).sum().clip(0.0, 1.0),
        p_total=pl.col("p").sum(), q_total=pl.col("q").sum(),
        top_changes=pl.format("{}: {} -> {}", "value", pl.col("p").round(4), pl.col("q").round(4))
        .sort_by((pl.col("q") - pl.col("p")).abs(), "value", descending=[True, False]).head(top_k),
    )
    return (
        pl.DataFrame({"dimension": list(DIMENSION_NAMES)})
        .join(per_dim, on="dimension", how="left", maintain_order="left")
        .with_columns(
            jsd=pl.when(pl.col("p_total").fill_null(0) == 0).then(
                pl.when(pl.col("q_total").fill_null(0) == 0).then(0.0).otherwise(1.0))
            .when(pl.col("q_total") == 0).then(1.0).otherwise(pl.col("jsd")),
            top_changes=pl.col("top_changes").fill_null([]),
        )
        .select("dimension", "jsd", "top_changes")
    )


def top_values(priors: pl.DataFrame, k: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The ``k`` most probable values of each dimension, in latent-space order."""
    head = priors.group_by("dimension", maintain_order=True).head(k)
    out: dict[str, list[tuple[str, float]]] = {d: [] for d in DIMENSION_NAMES}
    for d, v, p in head.select("dimension", "value", "probability").iter_rows():
        out.setdefault(d, []).append((v, p))
    return out


def entropy_bits(priors: pl.DataFrame) -> dict[str, float]:
    """Shannon entropy (bits) of each dimension's prior: how much sampling spreads values."""
    ent = priors.group_by("dimension").agg((-(pl.col("probability") * pl.col("probability").log(2))).sum())
    found = dict(ent.iter_rows())
    return {d: round(float(found.get(d, 0.0)), 4) for d in DIMENSION_NAMES}
