"""persona_priors and persona_prior_stats: the empirical prior over every landed batch, and its checks.

Both come from one pass over ``persona_extractions`` (all batches, concatenated by the IO
manager). The blocking checks (one per rule in vvae_pipeline.priors.checks, among them no name or
placeholder in a value) stop sft_dataset when a prior table is wrong; the drift check only warns, and
the garbage checks (top value share, function-word share) warn unless VVAE_PERSONA_CHECKS=block.
"""

import dagster as dg
import polars as pl

from assets.checks import FindingChecks, finding_descriptions, make_table_checks
from assets.tables import schema_metadata, table_metadata
from resources.storage import (
    StorageResource,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
)
from vvae_pipeline import schemas
from vvae_pipeline.encode.garbage import PRIOR_FINDINGS, prior_findings
from vvae_pipeline.priors.build import build_priors, entropy_bits, prior_drift
from vvae_pipeline.priors.checks import PRIOR_RULES, PRIOR_STATS_RULES
from vvae_pipeline.priors.report import (
    drift_markdown,
    plot_top_values,
    png_markdown,
    stats_markdown,
)
from vvae_pipeline.priors.structure import SIGNIFICANCE, heatmap_png, persona_structure
from vvae_pipeline.priors.structure import markdown as structure_markdown

PRIORS = "persona_priors"
PRIOR_STATS = "persona_prior_stats"
# A prior kept by the asset for the drift check: the one before this materialization.
PREVIOUS_FILE = "previous.parquet"
CURRENT_FILE = "current.parquet"
STRUCTURE_FILE = "structure.json"  # vvae_pipeline.priors.structure.persona_structure's result
# JSD (bits) above which a dimension's prior counts as drifted. 0.1 lies between moving a quarter
# of the mass between two values (0.6/0.4 -> 0.35/0.65: 0.046) and half of it (0.8/0.2 -> 0.3/0.7: 0.19).
DRIFT_WARN_JSD = 0.1


@dg.multi_asset(
    outs={
        PRIORS: dg.AssetOut(group_name="priors", description="One row per (dimension, value): count and "
                            "probability among the rows where the dimension was observed.",
                            metadata=schema_metadata(schemas.PersonaPrior)),
        PRIOR_STATS: dg.AssetOut(group_name="priors", description="Per dimension: rows, observed rows, "
                                 "null rate, distinct values.", metadata=schema_metadata(schemas.PriorStats)),
    },
    ins={"persona_extractions": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())},
)
def persona_priors(context: dg.AssetExecutionContext, storage: StorageResource,
                   persona_extractions: pl.DataFrame):
    priors, stats_df, stats = build_priors(persona_extractions)
    context.log.info(f"priors from {stats['n_rows']} usable extraction rows "
                     f"({stats['n_failed_rows']} failed left out): {stats['n_prior_values']} values")

    art = storage.artifact_dir(PRIORS)
    # Keep the prior this run replaces: the drift check compares against it.
    if (art / CURRENT_FILE).exists():
        atomic_write_bytes(art / PREVIOUS_FILE, (art / CURRENT_FILE).read_bytes())
    atomic_write_parquet(art / CURRENT_FILE, priors)
    png = plot_top_values(priors)
    atomic_write_bytes(art / "top_values.png", png)

    yield dg.Output(priors, output_name=PRIORS, metadata={
        **table_metadata(schemas.PersonaPrior, priors),
        "usable_rows": stats["n_rows"],
        "failed_rows_left_out": stats["n_failed_rows"],
        "values": stats["n_prior_values"],
        "top_values": dg.MetadataValue.md(png_markdown(png, "top prior values per dimension")),
        "chart_path": dg.MetadataValue.path(str(art / "top_values.png")),
        "entropy_bits": dg.MetadataValue.json(entropy_bits(priors)),
    })
    # The two assumptions SP+FT rests on (missing at random, separate dimensions), on the same rows;
    # benchmark_report reads structure.json into its "Persona structure" section.
    structure = persona_structure(persona_extractions)
    atomic_write_json(art / STRUCTURE_FILE, structure)
    heatmap = heatmap_png(structure["orthogonality"])
    dependent = [d for d, r in structure["missingness"]["dimensions"].items()
                 if r["agent_dependence"]["testable"] and r["agent_dependence"]["p"] < SIGNIFICANCE]
    yield dg.Output(stats_df, output_name=PRIOR_STATS, metadata={
        **table_metadata(schemas.PriorStats, stats_df),
        "null_rates": dg.MetadataValue.md(stats_markdown(stats_df)),
        **{f"null_rate/{d}": float(r) for d, r in stats["null_rate"].items()},
        "missingness_and_orthogonality": dg.MetadataValue.md(
            structure_markdown(structure["missingness"], structure["orthogonality"]) + "\n\n"
            + png_markdown(heatmap, "Cramér's V between dimensions")),
        "null_depends_on_agent": dg.MetadataValue.json(dependent),
        "structure_path": dg.MetadataValue.path(str(art / STRUCTURE_FILE)),
    })


@dg.asset_check(asset=PRIORS, name="prior_drift", blocking=False,
                description=f"Jensen-Shannon divergence of each dimension's prior vs the previous "
                            f"materialization; warns above {DRIFT_WARN_JSD} bits.")
def prior_drift_check(storage: StorageResource, persona_priors: pl.DataFrame) -> dg.AssetCheckResult:
    previous_path = storage.artifact_dir(PRIORS) / PREVIOUS_FILE
    if not previous_path.exists():
        return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, metadata={
            "message": "first materialization: nothing to compare with"})
    drift = prior_drift(pl.read_parquet(previous_path), persona_priors)
    drifted = drift.filter(pl.col("jsd") > DRIFT_WARN_JSD)["dimension"].to_list()
    message = (f"{len(drifted)} dimension(s) drifted above {DRIFT_WARN_JSD} bits: {', '.join(drifted)}"
               if drifted else f"no dimension drifted above {DRIFT_WARN_JSD} bits")
    return dg.AssetCheckResult(
        passed=not drifted, severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "message": message,
            "max_jsd": float(drift["jsd"].max()),
            "drift": dg.MetadataValue.md(drift_markdown(drift)),
            **{f"jsd/{d}": float(j) for d, j in drift.select("dimension", "jsd").iter_rows()},
        },
    )


persona_priors_checks = make_table_checks(PRIORS, PRIOR_RULES)
persona_prior_stats_checks = make_table_checks(PRIOR_STATS, PRIOR_STATS_RULES)
# The same garbage figures as on each batch, over every batch: WARN unless VVAE_PERSONA_CHECKS=block.
persona_priors_garbage_checks = FindingChecks(PRIORS, finding_descriptions(PRIOR_FINDINGS), prior_findings).definition()

PRIOR_CHECKS = [persona_priors_checks, persona_prior_stats_checks, prior_drift_check, persona_priors_garbage_checks]
