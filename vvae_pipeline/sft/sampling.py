"""Seeded sampling of persona values from the empirical prior (the "S" of SP+FT).

Every draw is a pure function of (seed, extraction_id, dimension): a 64-bit hash of the three
picks a point on the dimension's integer CDF. So the same seed gives the same dataset bit for
bit, whatever the row order, batch count or machine; a draw does not move when other rows or
dimensions change; and SP+FT and its ablations share the draws of the dimensions they keep.

The hash is vvae_pipeline.hashing.string_hash (stable across polars versions).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from vvae_pipeline.hashing import string_hash, uniforms
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.schemas import DROPPED, NONE, OBSERVED, SAMPLED
from vvae_pipeline.variants import Variant


def draw(priors: pl.DataFrame, dimension: str, u: np.ndarray) -> pl.Series | None:
    """Values drawn from ``dimension``'s prior by inverse CDF at ``u``; None if it has no values.

    The CDF runs over integer counts in value order, so it does not depend on float sums or on
    how the prior table happens to be sorted.
    """
    dist = priors.filter(pl.col("dimension") == dimension).select("value", "count").sort("value")
    if dist.height == 0:
        return None
    cum = np.cumsum(dist["count"].to_numpy().astype(np.int64))
    target = np.minimum((u * cum[-1]).astype(np.int64), cum[-1] - 1)
    return dist["value"].gather(pl.Series(np.searchsorted(cum, target, side="right")))


def origin_of(variant: Variant, dimension: str, observed: bool, prior_has_values: bool) -> str:
    """Where a variant's value of one dimension comes from (the rule, for one cell)."""
    if not variant.use_persona or BY_NAME[dimension].axis == variant.drop_axis:
        return DROPPED
    if observed:
        return OBSERVED
    return SAMPLED if variant.sample_nulls and prior_has_values else NONE


def apply_variant(df: pl.DataFrame, priors: pl.DataFrame, variant: Variant, seed: int) -> tuple[pl.DataFrame, dict]:
    """The persona each row shows under ``variant``, and an ``origins`` JSON column.

    Observed values are never overwritten; nulls are filled from the prior only by sampling
    variants; a dropped axis (or the whole persona, for FT) becomes null with origin "dropped".
    """
    id_hash = string_hash(df["extraction_id"]) if variant.sample_nulls else None
    exprs, origin_cols, counts = [], [], {}
    for dim in DIMENSION_NAMES:
        col, ocol = pl.col(dim), f"_origin_{dim}"
        if origin_of(variant, dim, observed=True, prior_has_values=True) == DROPPED:
            exprs += [pl.lit(None, pl.Utf8).alias(dim), pl.lit(DROPPED).alias(ocol)]
        else:
            drawn = draw(priors, dim, uniforms(id_hash, seed, dim)) if id_hash is not None else None
            fill = pl.lit(drawn) if drawn is not None else pl.lit(None, pl.Utf8)
            exprs += [pl.coalesce(col, fill).alias(dim),
                      pl.when(col.is_not_null()).then(pl.lit(OBSERVED))
                      .otherwise(pl.lit(SAMPLED if drawn is not None else NONE)).alias(ocol)]
        origin_cols.append(ocol)
    out = df.with_columns(exprs)
    origins = pl.struct([pl.col(f"_origin_{d}").alias(d) for d in DIMENSION_NAMES]).struct.json_encode()
    tallies = out.select([pl.col(c).value_counts().implode() for c in origin_cols])
    for dim, c in zip(DIMENSION_NAMES, origin_cols):
        counts[dim] = dict(sorted((r[c], r["count"]) for r in tallies[c][0]))
    out = out.with_columns(origins=origins).drop(origin_cols)
    return out, {"origins": counts}


def parse_origins(origins: str) -> dict[str, str]:
    """The origins JSON of one row, as a dict (for readers and tests)."""
    return json.loads(origins)
