"""Agent profiles: per agent and dimension, the value its extractions state most often; and the
profiles a platform *declared* for its agents in the landing format (``agent_profile``).

    profiles = agent_profiles(persona_extractions)   # schemas.AgentProfile rows
    declared = declared_profiles(scrubbed_sessions)  # schemas.DeclaredProfile rows

The test-time persona of an agent (what the SFT and report stages condition on when no single
example is at hand): for every dimension with at least one grounded (non-null) value across the
agent's usable extractions, the most frequent value with its count, how many extractions stated
any value (``n_observed``) and how many usable extractions the agent has (``n_extractions``).
Failed extractions are left out, as in the priors, and so are values that hold a name, a
placeholder or structured PII. Ties go to the alphabetically first value, so the
table is deterministic.
"""

from __future__ import annotations

import polars as pl

from vvae_pipeline.encode.value_pii import unfit_values
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES

COLUMNS = {"agent_id": pl.Utf8, "language": pl.Utf8, "axis": pl.Utf8, "dimension": pl.Utf8, "value": pl.Utf8,
           "count": pl.Int64, "n_observed": pl.Int64, "n_extractions": pl.Int64, "share": pl.Float64}


def agent_profiles(extractions: pl.DataFrame) -> pl.DataFrame:
    usable = extractions.filter(pl.col("status") != "failed") if "status" in extractions.columns else extractions
    if usable.height == 0:
        return pl.DataFrame(schema=COLUMNS)
    lang = usable.group_by("agent_id").agg(pl.col("language").mode().sort().first(), pl.len().alias("n_extractions"))
    long = usable.select("agent_id", *DIMENSION_NAMES).unpivot(index="agent_id", variable_name="dimension",
                                                               value_name="value").drop_nulls("value")
    long = long.join(unfit_values(long), on=["dimension", "value"], how="anti")
    counts = long.group_by("agent_id", "dimension", "value").agg(pl.len().alias("count"))
    observed = counts.group_by("agent_id", "dimension").agg(pl.col("count").sum().alias("n_observed"))
    top = (counts.sort(["agent_id", "dimension", "count", "value"], descending=[False, False, True, False])
           .group_by("agent_id", "dimension", maintain_order=True).first())
    order = {d: i for i, d in enumerate(DIMENSION_NAMES)}
    out = (top.join(observed, on=["agent_id", "dimension"]).join(lang, on="agent_id")
           .with_columns(pl.col("dimension").replace_strict({d: BY_NAME[d].axis for d in DIMENSION_NAMES},
                                                            return_dtype=pl.Utf8).alias("axis"),
                         pl.col("dimension").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
           .with_columns((pl.col("count") / pl.col("n_extractions")).alias("share"))
           .sort("agent_id", "_o"))
    return out.select([pl.col(c).cast(t) for c, t in COLUMNS.items()])


def profile_dict(profiles: pl.DataFrame, agent_id: str) -> dict[str, str | None]:
    """One agent's profile as {dimension: value or None} (the shape the persona prompts take)."""
    rows = profiles.filter(pl.col("agent_id") == agent_id)
    found = dict(zip(rows["dimension"].to_list(), rows["value"].to_list()))
    return {d: found.get(d) for d in DIMENSION_NAMES}


DECLARED_COLUMNS = {"agent_id": pl.Utf8, "dimension": pl.Utf8, "value": pl.Utf8, "n_declaring": pl.Int64,
                    "n_sessions": pl.Int64}


def declared_profiles(sessions: pl.DataFrame) -> pl.DataFrame:
    """Per agent and dimension, the value its sessions' declared ``agent_profile`` gives most often
    (``n_declaring`` sessions gave it, of ``n_sessions`` with a profile); ties to the first in sort
    order. Agents that declared nothing have no rows."""
    import json

    if "agent_profile" not in sessions.columns:  # batches scrubbed before the landing format had it
        return pl.DataFrame(schema=DECLARED_COLUMNS)
    rows = []
    with_profile = sessions.filter(pl.col("agent_profile").is_not_null()).select("agent_id", "agent_profile")
    for agent, raw in with_profile.iter_rows():
        for dim, value in json.loads(raw).items():
            if dim in BY_NAME and value is not None:
                rows.append({"agent_id": agent, "dimension": dim, "value": value})
    if not rows:
        return pl.DataFrame(schema=DECLARED_COLUMNS)
    n_sessions = with_profile.group_by("agent_id").agg(pl.len().alias("n_sessions"))
    order = {d: i for i, d in enumerate(DIMENSION_NAMES)}
    counts = pl.DataFrame(rows).group_by("agent_id", "dimension", "value").agg(pl.len().alias("n_declaring"))
    top = (counts.sort(["agent_id", "dimension", "n_declaring", "value"], descending=[False, False, True, False])
           .group_by("agent_id", "dimension", maintain_order=True).first())
    out = (top.join(n_sessions, on="agent_id")
           .with_columns(pl.col("dimension").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
           .sort("agent_id", "_o"))
    return out.select([pl.col(c).cast(t) for c, t in DECLARED_COLUMNS.items()])


def declared_dicts(declared: pl.DataFrame | None) -> dict[str, dict[str, str | None]]:
    """{agent_id: {dimension: declared value or None}} for every agent with a declared profile."""
    if declared is None or declared.is_empty():
        return {}
    out: dict[str, dict[str, str | None]] = {}
    for agent, dim, value in declared.select("agent_id", "dimension", "value").iter_rows():
        out.setdefault(agent, dict.fromkeys(DIMENSION_NAMES))[dim] = value
    return out
