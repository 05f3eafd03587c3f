"""Seeded sampling of persona values from the empirical prior (the "S" of SP+FT).

Every draw is a pure function of (seed, extraction_id, dimension): a 64-bit hash of the three
picks a point on the dimension's integer CDF. So the same seed gives the same dataset bit for
bit, whatever the row order, batch count or machine; a draw does not move when other rows or
dimensions change; and SP+FT and its ablations share the draws of the dimensions they keep.

The hash is vvae_pipeline.hashing.string_hash (stable across polars versions).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from vvae_pipeline.hashing import string_hash, uniforms
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.schemas import CORRUPTED, DROPPED, IMPUTED, NONE, OBSERVED, SAMPLED
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
    """Where a variant's value of one dimension comes from (the rule, for one cell, before the
    sampling rate, the agent-mode imputation and corruption decide per row)."""
    if not variant.use_persona or BY_NAME[dimension].axis == variant.drop_axis:
        return DROPPED
    if observed:
        return OBSERVED
    return SAMPLED if variant.sample_nulls and prior_has_values else NONE


def agent_modes(df: pl.DataFrame, dimension: str) -> pl.DataFrame:
    """Per agent, its most frequent observed value of ``dimension`` (ties: the smallest value, so the
    choice does not depend on row order); agents that never showed one are absent."""
    return (df.filter(pl.col(dimension).is_not_null()).group_by("agent_id", dimension).len()
            .sort("agent_id", "len", dimension, descending=[False, True, False])
            .group_by("agent_id", maintain_order=True).first()
            .select("agent_id", pl.col(dimension).alias("_mode")))


def apply_variant(df: pl.DataFrame, priors: pl.DataFrame, variant: Variant, seed: int,
                  training: bool = False) -> tuple[pl.DataFrame, dict]:
    """The persona each row shows under ``variant``, and an ``origins`` JSON column.

    ``training``: ``df`` is the SFT set (sft.build), not test-time rows (evaluate.deployment_persona). Observed
    values are kept, except that in training a corruption variant replaces a seeded ``variant.corrupt``
    share of them by a prior draw (origin "corrupted"). Nulls are filled only by filling variants: from
    the prior (origin "sampled") for a seeded ``variant.sample_rate`` share of them, or, in training,
    from the agent's own most frequent value over its SFT rows ("imputed"). At test time the agent-mode
    variant fills nothing: the other test rows of an agent hold its later turns, which a deployment
    answering this one has not seen (test agents have no training history to take a mode from). A dropped
    axis (or the whole persona, for FT) becomes null with origin "dropped". Every random choice is a
    pure function of (seed, extraction_id, dimension, purpose), as the module docstring says.
    """
    corrupting = training and variant.corrupt > 0
    needs_hash = (variant.sample_nulls and variant.fill_from == "prior") or corrupting
    id_hash = string_hash(df["extraction_id"]) if needs_hash else None
    exprs, origin_cols, counts = [], [], {}
    for dim in DIMENSION_NAMES:
        col, ocol = pl.col(dim), f"_origin_{dim}"
        origin_cols.append(ocol)
        if origin_of(variant, dim, observed=True, prior_has_values=True) == DROPPED:
            exprs += [pl.lit(None, pl.Utf8).alias(dim), pl.lit(DROPPED).alias(ocol)]
            continue
        value, origin = col, pl.when(col.is_not_null()).then(pl.lit(OBSERVED)).otherwise(pl.lit(NONE))
        if corrupting:
            hit = pl.Series(uniforms(id_hash, seed, f"{dim}/corrupt") < variant.corrupt)
            wrong = draw(priors, dim, uniforms(id_hash, seed, f"{dim}/corrupt_value"))
            if wrong is not None:
                bad = col.is_not_null() & pl.lit(hit)
                value = pl.when(bad).then(pl.lit(wrong)).otherwise(value)
                origin = pl.when(bad).then(pl.lit(CORRUPTED)).otherwise(origin)
        if variant.sample_nulls and variant.fill_from == "prior":
            drawn = draw(priors, dim, uniforms(id_hash, seed, dim))
            if drawn is not None:
                take = col.is_null()
                if variant.sample_rate < 1.0:  # the rate's own uniform: the draws stay SP+FT's
                    take = take & pl.lit(pl.Series(uniforms(id_hash, seed, f"{dim}/rate") < variant.sample_rate))
                value = pl.when(take).then(pl.lit(drawn)).otherwise(value)
                origin = pl.when(take).then(pl.lit(SAMPLED)).otherwise(origin)
        elif variant.sample_nulls and variant.fill_from == "agent_mode" and training:
            mode = df.select("agent_id").join(agent_modes(df, dim), on="agent_id", how="left")["_mode"]
            take = col.is_null() & pl.lit(mode).is_not_null()
            value = pl.when(take).then(pl.lit(mode)).otherwise(value)
            origin = pl.when(take).then(pl.lit(IMPUTED)).otherwise(origin)
        exprs += [value.alias(dim), origin.alias(ocol)]
    out = df.with_columns(exprs)
    origins = pl.struct([pl.col(f"_origin_{d}").alias(d) for d in DIMENSION_NAMES]).struct.json_encode()
    tallies = out.select([pl.col(c).value_counts().implode() for c in origin_cols])
    for dim, c in zip(DIMENSION_NAMES, origin_cols):
        counts[dim] = dict(sorted((r[c], r["count"]) for r in tallies[c][0]))
    out = out.with_columns(origins=origins).drop(origin_cols)
    return out, {"origins": counts}
