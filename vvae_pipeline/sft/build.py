"""SFT sets of the paper's variants: FT, P+FT, SP+FT and the SP+FT axis ablations.

``build_sft`` turns persona extractions (every landed batch) and the prior into one variant's
examples for one backbone: persona per the variant (vvae_pipeline.sft.sampling), rendered as a
system message (vvae_pipeline.sft.persona_prompt), chat ``messages`` ending in the target reply x,
an agent-disjoint split (vvae_pipeline.sft.splits), and the lineage columns back to the landed file.
Every variant of one seed holds the same extraction rows in the same splits, so their scores
differ only by the persona they show.
"""

from __future__ import annotations

from dataclasses import asdict

import polars as pl

from vvae_pipeline.backbones import get_backbone
from vvae_pipeline.hashing import string_hash, uniforms
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.params import SFTParams
from vvae_pipeline.priors.build import (
    build_priors,
    normalize_persona_columns,
    usable_rows,
)
from vvae_pipeline.schemas import DROPPED, NONE, OBSERVED, ROLES, SAMPLED, SFTExample
from vvae_pipeline.sft.persona_prompt import (
    TEMPLATE_VERSION,
    with_messages,
    with_system,
)
from vvae_pipeline.sft.sampling import apply_variant
from vvae_pipeline.sft.splits import SPLIT_NAMES, assign_splits
from vvae_pipeline.variants import get_variant

SFT_COLUMNS = list(SFTExample.to_schema().columns)


def _check_roles(rows: pl.DataFrame) -> None:
    roles = rows.select(pl.col("context").list.eval(pl.element().struct.field("role")).explode().drop_nulls()
                        .unique()).to_series().to_list()
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"context turns with unknown roles {unknown}; expected {ROLES}")


def build_sft(extractions: pl.DataFrame, backbone: str, variant: str, params: SFTParams
              ) -> tuple[pl.DataFrame, dict]:
    """(examples per schemas.SFTExample, stats). Failed extractions are left out of every variant.

    Nulls are sampled from the prior of the *train split* only (the paper's training-set prior): a
    prior over every batch would carry values seen only in validation or test replies into the
    training personas, and into the test-time personas the benchmark samples (``train_prior``).
    """
    get_backbone(backbone)
    var = get_variant(variant)
    rows = usable_rows(extractions)
    dup = rows.filter(pl.col("extraction_id").is_duplicated())["extraction_id"].unique().sort()
    if dup.len():
        raise ValueError(f"extraction_id not unique: {dup.head(3).to_list()} (same batch loaded twice?)")
    _check_roles(rows)
    n_usable = rows.height
    # A blank target x gives nothing to learn (and trainers reject it): left out of every variant.
    rows = normalize_persona_columns(rows.filter(pl.col("reply").str.strip_chars() != ""))
    n_blank = n_usable - rows.height
    observed_share = {d: round(1 - rows[d].null_count() / rows.height, 4) if rows.height else 0.0
                      for d in DIMENSION_NAMES}

    splits = assign_splits(rows["agent_id"], params.fractions, params.split_seed)
    rows = rows.join(splits, on="agent_id", how="left")
    if params.max_examples_per_split is not None and rows.height:
        # The rows with the smallest seeded hash per split: the same rows for every variant.
        cap_u = uniforms(string_hash(rows["extraction_id"]), params.split_seed, "cap")
        rows = rows.with_columns(_u=pl.Series(cap_u)).filter(
            pl.col("_u").rank("ordinal").over("split") <= params.max_examples_per_split).drop("_u")

    priors = build_priors(rows.filter(pl.col("split") == "train"))[0]
    rows, sample_stats = apply_variant(rows, priors, var, params.seed, training=True)
    split_order = pl.Enum(list(SPLIT_NAMES))
    df = (
        with_messages(with_system(rows))
        .with_columns(
            example_id=pl.format("{}/{}/{}", pl.lit(backbone), pl.lit(variant), "extraction_id"),
            backbone=pl.lit(backbone), variant=pl.lit(variant),
        )
        # Bit-for-bit the same table whatever order the batches were concatenated in.
        .sort(pl.col("split").cast(split_order), "extraction_id")
        .select(SFT_COLUMNS)
    )
    per_split = {s: {"examples": 0, "agents": 0} for s in SPLIT_NAMES}
    for s, n, a in df.group_by("split").agg(pl.len(), pl.col("agent_id").n_unique()).iter_rows():
        per_split[s] = {"examples": n, "agents": a}
    stats = {
        "backbone": backbone, "variant": variant, "variant_label": var.label,
        "template": TEMPLATE_VERSION, "params": asdict(params),
        "n_input_rows": extractions.height, "n_failed_skipped": extractions.height - n_usable,
        "n_blank_reply_skipped": n_blank,
        "n_examples": df.height, "splits": per_split,
        "languages": dict(df.group_by("language").len().sort("language").iter_rows()),
        "observed_share_in_input": observed_share,
        "origins": sample_stats["origins"],
        "prior_values_train_split": priors.height,
        "with_system_message": int(df.select((pl.col("messages").list.first().struct.field("role") == "system")
                                             .sum()).item() or 0),
    }
    return df, stats


def dataset_card(stats: dict) -> str:
    """Markdown card of one SFT set: counts, null rates and where each dimension's values come from."""
    p = stats["params"]
    n = max(stats["n_examples"], 1)
    lines = [
        f"# SFT set {stats['backbone']} / {stats['variant_label']} (`{stats['variant']}`)",
        "",
        f"{stats['n_examples']} examples from {stats['n_input_rows']} extraction rows "
        f"({stats['n_failed_skipped']} failed extractions and {stats['n_blank_reply_skipped']} blank replies "
        f"left out). Persona template `{stats['template']}`, "
        f"sampling seed {p['seed']}, split seed {p['split_seed']}, split fractions train {p['train_fraction']} "
        f"/ validation "
        f"{p['validation_fraction']} / test {p['test_fraction']} by agent"
        + (f", at most {p['max_examples_per_split']} examples per split." if p["max_examples_per_split"] else "."),
        f"{stats['with_system_message']} examples carry a persona system message. Languages: "
        + ", ".join(f"{k} {v}" for k, v in stats["languages"].items())
        + ".",
        "",
        "| split | examples | agents |",
        "|---|---:|---:|",
        *[f"| {s} | {v['examples']} | {v['agents']} |" for s, v in stats["splits"].items()],
        "",
        "Per dimension: null rate among the usable extraction rows, then the share of examples whose",
        "value is observed, sampled from the prior, absent (none) or removed by the variant (dropped).",
        "",
        "| axis | dimension | null rate in input | observed | sampled | none | dropped |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for d in DIMENSION_NAMES:
        o = stats["origins"].get(d, {})
        shares = " | ".join(f"{o.get(k, 0) / n:.1%}" for k in (OBSERVED, SAMPLED, NONE, DROPPED))
        null_rate = 1 - stats["observed_share_in_input"][d]
        lines.append(f"| {BY_NAME[d].axis} | {d} | {null_rate:.1%} | {shares} |")
    return "\n".join(lines) + "\n"


def train_prior(sft: pl.DataFrame) -> pl.DataFrame:
    """The prior ``build_sft`` sampled from, rebuilt from an SFT table: every train-split example's
    observed values (per ``origins``, over all variants), counted once per example."""
    import json

    train = sft.filter(pl.col("split") == "train").select("extraction_id", "origins", *DIMENSION_NAMES)
    seen: dict[str, dict[str, str]] = {}
    for r in train.iter_rows(named=True):
        origins = json.loads(r["origins"])
        row = seen.setdefault(r["extraction_id"], {})
        for d in DIMENSION_NAMES:
            if origins.get(d) == OBSERVED and r[d] is not None:
                row[d] = r[d]
    frame = pl.DataFrame(
        [{"extraction_id": e, "status": "ok", **{d: v.get(d) for d in DIMENSION_NAMES}} for e, v in seen.items()],
        schema={"extraction_id": pl.Utf8, "status": pl.Utf8, **dict.fromkeys(DIMENSION_NAMES, pl.Utf8)},
    )
    return build_priors(frame)[0]
