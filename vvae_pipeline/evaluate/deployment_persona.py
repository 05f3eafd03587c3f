"""The persona a deployed model gets at test time: what a deployment has, never the target reply x.

At deployment there is no x. So the test-time persona z is inferred by the encoder from the
conversation so far: the context c is split at its last agent turn, which plays the part of the
"reply" the encoder reads, and the turns before it are the context (``deployment_items``). A test
example whose context has no agent turn gets an all-null z. Every persona variant of one example
then starts from that same z: P+FT shows it as is, SP+FT fills its nulls by seeded sampling from
the prior, the ablations drop their axis, FT shows none (``variant_prompts``), rendered with the
training template, so the only thing that differs from training is where z came from.

Second protocol, when the data has them: the profile the platform declared for the agent
(landing format ``agent_profile``, encode.profiles.declared_profiles) is the test-time z
(``source="declared"``, status "declared"; its undeclared dimensions are null, so SP+FT samples
them); agents without a declared profile keep the inferred z.

A z read from (c, x) survives only as the "oracle z" diagnostic (benchmark.plan), never the headline.
"""

from __future__ import annotations

import polars as pl

from vvae_pipeline.encode.extract import extract
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.llm.generation import Messages, prompt_messages
from vvae_pipeline.params import ExtractParams
from vvae_pipeline.sft.persona_prompt import with_messages, with_system
from vvae_pipeline.sft.sampling import apply_variant
from vvae_pipeline.variants import get_variant

NO_AGENT_TURN = "no_agent_turn"  # status of a test example whose context shows the agent nowhere
DECLARED = "declared"  # status of a test example whose z is its agent's declared profile
PERSONA_SOURCES = ("context", "declared")


def deployment_items(extractions: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Encoder items built from c alone: (items in extraction-item form, ids with no agent turn).

    Item ``reply`` = the last agent turn of c, ``context`` = the turns before it; the item keeps the
    example's ``extraction_id`` so the inferred z joins back to it. x is not read.
    """
    rows, empty = [], []
    for r in extractions.iter_rows(named=True):
        ctx = list(r["context"] or [])
        last = max((i for i, t in enumerate(ctx) if t["role"] == "agent" and (t["text"] or "").strip()), default=None)
        if last is None:
            empty.append(r["extraction_id"])
            continue
        rows.append({**r, "context": ctx[:last], "reply": ctx[last]["text"].strip(), "turn_index": last})
    cols = extractions.columns
    items = pl.DataFrame(rows, schema=extractions.schema) if rows else extractions.clear()
    return items.select(cols), empty


# What the encoder wrote: taken from the context-only extraction, never from the (c, x) one.
ENCODER_COLUMNS = (*DIMENSION_NAMES, "status", "null_reasons", "raw_output", "engine", "model", "prompt_version")


def with_inferred_persona(extractions: pl.DataFrame, inferred: pl.DataFrame) -> pl.DataFrame:
    """``extractions`` (the real c and x) with every encoder column replaced by the context-only
    extraction ``inferred`` (null z and status "no_agent_turn" where there was none); x stays, for
    scoring only."""
    z = inferred.select("extraction_id", *ENCODER_COLUMNS)
    out = extractions.drop(*ENCODER_COLUMNS, strict=False).join(z, on="extraction_id", how="left")
    out = out.with_columns(pl.col("status").fill_null(NO_AGENT_TURN), pl.col("null_reasons").fill_null("{}"),
                           pl.col("engine", "model", "prompt_version").fill_null(""))
    return out.select(extractions.columns)


def with_declared_persona(rows: pl.DataFrame, declared: dict[str, dict]) -> pl.DataFrame:
    """``rows`` with the persona columns of every agent in ``declared`` set to its declared profile."""
    if not declared:
        return rows
    has = pl.col("agent_id").is_in(list(declared))
    table = pl.DataFrame([{"agent_id": a, **{f"_d_{d}": p.get(d) for d in DIMENSION_NAMES}}
                          for a, p in declared.items()],
                         schema={"agent_id": pl.Utf8, **{f"_d_{d}": pl.Utf8 for d in DIMENSION_NAMES}})
    out = rows.join(table, on="agent_id", how="left", maintain_order="left")
    out = out.with_columns(*[pl.when(has).then(pl.col(f"_d_{d}")).otherwise(pl.col(d)).alias(d)
                             for d in DIMENSION_NAMES],
                           pl.when(has).then(pl.lit(DECLARED)).otherwise(pl.col("status")).alias("status"),
                           pl.when(has).then(pl.lit("{}")).otherwise(pl.col("null_reasons")).alias("null_reasons"))
    return out.select(rows.columns)


def infer_test_personas(test_extractions: pl.DataFrame, engine, params: ExtractParams,
                        declared: dict[str, dict] | None = None, source: str = "context") -> tuple[pl.DataFrame, dict]:
    """The test-time z of every test example: inferred by ``engine`` from its context alone, or with
    ``source="declared"`` its agent's declared profile where ``declared`` has one (the encoder then
    runs only for the other agents)."""
    if source not in PERSONA_SOURCES:
        raise ValueError(f"unknown persona source {source!r}; expected one of {PERSONA_SOURCES}")
    use = declared if source == "declared" else {}
    todo = test_extractions.filter(~pl.col("agent_id").is_in(list(use))) if use else test_extractions
    items, empty = deployment_items(todo)
    inferred, stats = extract(items, engine, params)
    rows = with_declared_persona(with_inferred_persona(test_extractions, inferred), use or {})
    return rows, {**stats, "n_test_examples": rows.height, "n_no_agent_turn": len(empty),
                  "n_declared": int((rows["status"] == DECLARED).sum()), "persona_source": source,
                  "observed_share": {d: round(1 - rows[d].null_count() / max(rows.height, 1), 4)
                                     for d in DIMENSION_NAMES}}


def variant_prompts(rows: pl.DataFrame, priors: pl.DataFrame, variant: str, seed: int) -> list[Messages]:
    """The prompt of every row under ``variant``, in ``rows`` order: [persona system] + history.

    ``rows`` carry the test-time z in the persona columns (``with_inferred_persona``) and the history
    in ``context``; the target x is left out of every prompt (the final assistant message is cut).
    """
    shown, _ = apply_variant(rows.with_row_index("_order"), priors, get_variant(variant), seed)
    msgs = with_messages(with_system(shown)).sort("_order")
    return [prompt_messages(m) for m in msgs["messages"].to_list()]


def context_exchanges(rows: pl.DataFrame) -> list[dict]:
    """(user turn, agent turn) pairs from the contexts of ``rows``: the agent's past messages a
    deployment has, usable as k-shot demonstrations. No target reply x is ever one of them."""
    seen, out = set(), []
    for r in rows.iter_rows(named=True):
        ctx = r["context"] or []
        for i in range(1, len(ctx)):
            user, agent = ctx[i - 1], ctx[i]
            key = (r["session_id"], i)
            if agent["role"] != "agent" or user["role"] != "user" or key in seen or not (agent["text"] or "").strip():
                continue
            seen.add(key)
            out.append({"messages": [{"role": "user", "content": user["text"] or ""},
                                     {"role": "assistant", "content": agent["text"]}],
                        "reply": agent["text"], "agent_id": r["agent_id"], "session_id": r["session_id"],
                        "language": r["language"], "example_id": f"{r['session_id']}#{i}"})
    return out
