"""The V-VAE persona encoder: (chat context c, human reply x) -> structured latent persona z.

    items = build_items(scrubbed_sessions)            # one item per annotation
    extractions, stats = extract(items, engine, params)

One item per annotated turn: c = the turns before ``turn_index``, x = the annotator's rewritten
reply. The agent's own text (its turns in c, plus x) is what candidate spans come from and what
grounded values are checked against. Outputs are cached by everything that could change them
(``cache.cache_key``): rendered prompt, schema, budget, engine, model fingerprint, decoding.

Null is an answer: every field allows null, the prompt makes it the default, and closed fields
that state a fact (relationship, personality) are only asked with the values whose cue words occur
(``candidates.closed_candidates``, when ``ExtractParams.closed_evidence``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass

import polars as pl

from vvae_pipeline import latent
from vvae_pipeline.encode import capabilities
from vvae_pipeline.encode.cache import ExtractCache, cache_key
from vvae_pipeline.encode.candidates import (
    MAX_CANDIDATES,
    AgentEvidence,
    agent_evidence,
    find_candidates,
    match_key,
    topic_terms,
)
from vvae_pipeline.encode.grounding import (
    FAILED,
    NOT_CAPABLE,
    NOT_GROUNDED,
    OFF_SCHEMA,
    PII,
    parse_output,
)
from vvae_pipeline.encode.value_pii import pii_kinds
from vvae_pipeline.llm.engines import Engine, Result
from vvae_pipeline.params import ExtractParams
from vvae_pipeline.schemas import PersonaExtraction, polars_schema

log = logging.getLogger(__name__)

# Bump when the prompt, the candidate finder or the schema changes: it is part of the cache key.
PROMPT_VERSION = "persona-v3"

LINEAGE = ("batch_id", "source_file", "source_line")
ITEM_COLUMNS = ("extraction_id", "session_id", "agent_id", "user_id", "language", "turn_index", "context",
                "reply", "x_source", *LINEAGE)


def extraction_id(session_id: str, turn_index: int) -> str:
    return hashlib.sha256(f"{session_id}\x1f{turn_index}".encode()).hexdigest()[:20]


def build_items(sessions: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """One row per annotation of a ``schemas.ScrubbedSession`` frame, with c and x."""
    rows, skipped = [], {"empty_reply": 0, "turn_index_out_of_range": 0, "duplicate_annotation": 0}
    seen: set[str] = set()
    for s in sessions.iter_rows(named=True):
        turns = s["turns"] or []
        for ann in s["annotations"] or []:
            ti, reply = ann["turn_index"], (ann["rewritten_text"] or "").strip()
            if not reply:
                skipped["empty_reply"] += 1
                continue
            if ti is None or ti < 0 or ti > len(turns):
                skipped["turn_index_out_of_range"] += 1
                continue
            eid = extraction_id(s["session_id"], ti)
            if eid in seen:
                skipped["duplicate_annotation"] += 1
                continue
            seen.add(eid)
            rows.append({
                "extraction_id": eid, "session_id": s["session_id"], "agent_id": s["agent_id"],
                "user_id": s["user_id"], "language": s["language"], "turn_index": ti,
                "context": [{"role": t["role"], "text": t["text"] or ""} for t in turns[:ti]],
                "reply": reply, "x_source": s["x_source"],
                **{k: s[k] for k in LINEAGE},
            })
    extraction = polars_schema(PersonaExtraction)  # items carry the extraction table's own dtypes
    return pl.DataFrame(rows, schema={c: extraction[c] for c in ITEM_COLUMNS}), skipped


def agent_texts(context: list[dict], reply: str) -> list[str]:
    return [t["text"] for t in context if t["role"] == "agent"] + [reply]


_TEXT = {
    "en": {
        "system": "You read a chat and describe the agent's persona as JSON. null is the default for every "
                  "field: give a value only when the agent's text clearly shows it. Never guess.",
        "chat": "Chat (latest turns):", "reply": "Agent's reply:", "fields": "Fields (options):",
        "roles": {"user": "user", "agent": "agent"},
    },
    "zh": {
        "system": "阅读对话，用 JSON 描述 agent 的人设。每个字段默认填 null；"
                  "只有 agent 的话明确体现时才填选项中的值，不要猜。",
        "chat": "对话（最近几轮）：", "reply": "agent 的回复：", "fields": "字段（选项）：",
        "roles": {"user": "用户", "agent": "agent"},
    },
}


def build_prompt(context: list[dict], reply: str, language: str, schema: dict, params: ExtractParams) -> list[dict]:
    """Compact chat messages: shown turns, the reply, and each field with its allowed values."""
    t = _TEXT["zh" if language == "zh" else "en"]
    shown = context[-params.max_context_turns:] if params.max_context_turns else []
    lines = [t["chat"]]
    lines += [f"{t['roles'].get(m['role'], m['role'])}: {m['text'][: params.max_turn_chars]}" for m in shown]
    lines += ["", t["reply"], reply[: params.max_turn_chars * 2], "", t["fields"]]
    for dim in latent.DIMENSIONS:
        prop = schema["properties"].get(dim.name)
        if prop is None:  # no candidate span: the field is null without asking the model
            continue
        # null first: it is the default answer.
        if dim.closed and not params.show_closed_options:
            opts = f"null | {dim.description}"
        elif "enum" in prop:
            opts = " | ".join(["null", *(v for v in prop["enum"] if v is not None)])
        else:
            opts = f"null | text <= {dim.max_len} chars"
        # No descriptions: 9 x ~12 tokens that a 135M encoder does not use; the names say enough.
        lines.append(f"- {dim.name}: {opts}")
    return [{"role": "system", "content": t["system"]}, {"role": "user", "content": "\n".join(lines)}]


def batch_evidence(rows: list[dict]) -> dict:
    """Per agent: (its evidence, the pooled evidence of the other agents of its language) across the
    items; and per language the topic terms' session frequencies, for tf-idf."""
    texts: dict[str, list[str]] = {}
    text_sessions: dict[str, list[str]] = {}
    lang: dict[str, str] = {}
    sessions: dict[str, tuple[str, str]] = {}
    for r in rows:
        mine = agent_texts(r["context"], r["reply"])
        texts.setdefault(r["agent_id"], []).extend(mine)
        text_sessions.setdefault(r["agent_id"], []).extend([r["session_id"]] * len(mine))
        lang[r["agent_id"]] = r["language"]
        # The longest item of a session holds all of it that the batch shows.
        text = " ".join([m["text"] for m in r["context"]] + [r["reply"]])
        if len(text) >= len(sessions.get(r["session_id"], ("", ""))[1]):
            sessions[r["session_id"]] = (r["language"], text)
    ev = {a: agent_evidence(t, lang[a], text_sessions[a]) for a, t in texts.items()}
    out: dict = {"agents": {}, "topic_df": {}, "n_sessions": Counter()}
    for a in ev:
        others = [e for b, e in ev.items() if b != a and lang[b] == lang[a]]
        out["agents"][a] = (ev[a], sum(others, AgentEvidence()))
    for language, text in sessions.values():
        out["topic_df"].setdefault(language, Counter()).update(set(topic_terms(text, language)))
        out["n_sessions"][language] += 1
    return out


def item_candidates(context: list[dict], reply: str, language: str, evidence: dict | None = None,
                    agent_id: str | None = None, declared: dict[str, str | None] | None = None) -> dict[str, list[str]]:
    """Candidate values of one example; ``declared``: the agent's declared profile, whose open values
    that x shows come first (the platform said so and the reply shows it)."""
    ev = evidence or {"agents": {}, "topic_df": {}, "n_sessions": Counter()}
    agent, others = ev["agents"].get(agent_id, (None, None))
    found = find_candidates(agent_texts(context, reply), [m["text"] for m in context] + [reply], language,
                            agent, others, ev["topic_df"].get(language), ev["n_sessions"][language], reply=reply)
    shown = match_key(reply)
    for dim, value in (declared or {}).items():
        if value and dim in found and not latent.BY_NAME[dim].closed and match_key(value) in shown:
            found[dim] = [value, *found[dim]]
    # Candidates are offered in normalised form so that a chosen value survives normalize() as is.
    return {k: list(dict.fromkeys(n for v in vs if (n := latent.normalize(k, v))))[:MAX_CANDIDATES]
            for k, vs in found.items()}


def restricted(candidates: dict[str, list[str]], params: ExtractParams) -> dict[str, list[str]]:
    """The candidate lists that bind: open fields when ``constrain_open``, closed fields when
    ``closed_evidence`` (the abstention rule)."""
    return {k: v for k, v in candidates.items()
            if (params.closed_evidence if latent.BY_NAME[k].closed else params.constrain_open)}


def decode_schema(candidates: dict[str, list[str]], constrain_open: bool, off: frozenset[str] = frozenset()) -> dict:
    """The schema the engine decodes from the binding candidate lists: a field whose list is empty is
    left out (it can only be null), which saves ~5 decode steps each - emoji, hobby and nickname
    have no span in 70-90% of demo items. ``constrain_open=False`` leaves open fields free strings."""
    binding = {k: v for k, v in candidates.items() if constrain_open or latent.BY_NAME[k].closed}
    schema = latent.json_schema(binding)
    for name in latent.DIMENSION_NAMES:
        if name in off or (name in binding and not binding[name]):
            del schema["properties"][name]
            schema["required"].remove(name)
    return schema


@dataclass
class Plan:
    """What the engine is asked, per item (``plan_prompts``): binding candidates, decode schema, prompt, cache key."""

    rows: list[dict]
    candidates: list[dict[str, list[str]]]
    schemas: list[dict]
    prompts: list[list[dict]]
    keys: list[str]
    off: frozenset[str]  # dimensions null without asking (capabilities.unanswered)


def plan_prompts(rows: list[dict], engine: Engine, params: ExtractParams,
         declared: dict[str, dict[str, str | None]] | None = None) -> Plan:
    """Phase 1, no engine call: per item the candidate spans (batch evidence), schema, prompt and cache key."""
    evidence = batch_evidence(rows)
    # Dimensions this engine was measured not to answer better than the majority class on real
    # labelled dialogue (capabilities.py): null without asking.
    off = capabilities.unanswered(engine.name, engine.model) if params.use_capabilities else frozenset()
    declared = declared or {}
    cands = [{**restricted(item_candidates(r["context"], r["reply"], r["language"], evidence, r["agent_id"],
                                           declared.get(r["agent_id"])), params),
              **{d: [] for d in off}} for r in rows]
    schemas = [decode_schema(c, params.constrain_open, off) for c in cands]
    prompts = [build_prompt(r["context"], r["reply"], r["language"], s, params)
               for r, s in zip(rows, schemas, strict=True)]
    identity, decoding = (engine.identity(), engine.decoding()) if rows else ("", {})
    keys = [cache_key(PROMPT_VERSION, p, s, params.max_new_tokens, engine.name, identity, decoding)
            for p, s in zip(prompts, schemas, strict=True)]
    return Plan(rows, cands, schemas, prompts, keys, off)


def generate_cached(p: Plan, engine: Engine, params: ExtractParams) -> tuple[dict[str, Result], int, int]:
    """Phase 2: ({cache key: result} for every item, distinct keys read from the cache, engine calls).
    One engine call per distinct key not in the cache, ``params.batch_size`` at a time, each batch
    committed to the cache as it completes."""
    cache = ExtractCache(params.cache_dir) if params.cache_dir else None
    try:
        done: dict[str, Result] = cache.get_many(p.keys) if cache is not None else {}
        n_cached = sum(k in done for k in dict.fromkeys(p.keys))
        todo, queued = [], set()
        for i, k in enumerate(p.keys):  # one engine call per distinct key
            if k not in done and k not in queued:
                queued.add(k)
                todo.append(i)
        for start in range(0, len(todo), params.batch_size):
            chunk = todo[start : start + params.batch_size]
            out = engine.generate_json([p.prompts[i] for i in chunk], [p.schemas[i] for i in chunk],
                                       params.max_new_tokens)
            fresh = {p.keys[i]: r for i, r in zip(chunk, out, strict=True)}
            done.update(fresh)
            if cache is not None:
                cache.put_many(fresh)
            log.info("extract: %d/%d items generated", min(start + params.batch_size, len(todo)), len(todo))
    finally:
        if cache is not None:
            cache.close()
    return done, n_cached, len(todo)


def parse_results(p: Plan, done: dict[str, Result], engine: Engine) -> tuple[list[dict], dict[str, int], int]:
    """Phase 3: (one extraction row per item, grounding rejections per dimension, off-schema values).
    Values not grounded in the agent's text, off the schema or holding PII are nulled with a reason."""
    out_rows, rejections = [], {d: 0 for d in latent.DIMENSION_NAMES}
    off_schema = 0
    unfit: dict[str, bool] = {}  # value -> holds PII (pii_kinds), once per distinct value
    for r, c, k in zip(p.rows, p.candidates, p.keys, strict=True):
        res = done[k]
        parsed = parse_output(res.text, " ".join(agent_texts(r["context"], r["reply"])), c)
        parsed.reasons.update(dict.fromkeys(p.off, NOT_CAPABLE) if parsed.ok else {})
        status = ("retried" if res.retried else "ok") if parsed.ok else "failed"
        for d in parsed.rejected:
            rejections[d] += 1
        # No name, placeholder or structured PII in a value (the blocking no_pii_in_values check).
        for d, v in parsed.values.items():
            if v is not None and not latent.BY_NAME[d].closed:
                if v not in unfit:
                    unfit[v] = bool(pii_kinds(v))
                if unfit[v]:
                    parsed.values[d], parsed.reasons[d] = None, PII
        off_schema += sum(v == OFF_SCHEMA for v in parsed.reasons.values())
        out_rows.append({
            **{k2: r[k2] for k2 in ITEM_COLUMNS}, **parsed.values, "status": status,
            "null_reasons": json.dumps(parsed.reasons, sort_keys=True), "raw_output": res.text,
            "engine": engine.name, "model": engine.model, "prompt_version": PROMPT_VERSION,
        })
    return out_rows, rejections, off_schema


def extract(items: pl.DataFrame, engine: Engine, params: ExtractParams,
            declared: dict[str, dict[str, str | None]] | None = None) -> tuple[pl.DataFrame, dict]:
    """Run the encoder over ``items`` (from ``build_items``); rows per ``schemas.PersonaExtraction``.
    ``declared``: {agent_id: declared profile} (``profiles.declared_dicts``), whose values x shows
    are candidates. Three phases: ``plan_prompts``, ``generate_cached`` (cache + engine), ``parse_results``.
    ``seconds`` and ``items_per_s`` time ``generate_cached`` only (cache reads and writes included)."""
    rows = items.to_dicts()
    p = plan_prompts(rows, engine, params, declared)
    t0 = time.perf_counter()
    done, n_cached, n_generated = generate_cached(p, engine, params)
    gen_s = time.perf_counter() - t0
    out_rows, rejections, off_schema = parse_results(p, done, engine)
    df = _frame(out_rows, items)
    stats = {
        "n_items": len(rows), "n_cached": n_cached, "n_generated": n_generated,
        "status": {s: int((df["status"] == s).sum()) for s in ("ok", "retried", "failed")} if rows else {},
        "grounding_rejections": sum(rejections.values()), "grounding_rejections_by_dim": rejections,
        "off_schema_values": off_schema,
        "null_rate": null_rates(df), "seconds": round(gen_s, 2), "not_answered_by_engine": sorted(p.off),
        "items_per_s": round(n_generated / gen_s, 3) if n_generated and gen_s > 0 else None,
    }
    return df, stats


def null_rates(df: pl.DataFrame) -> dict[str, float]:
    if df.height == 0:
        return {d: 1.0 for d in latent.DIMENSION_NAMES}
    return {d: round(df[d].null_count() / df.height, 4) for d in latent.DIMENSION_NAMES}


def _frame(rows: list[dict], items: pl.DataFrame) -> pl.DataFrame:
    schema = dict(items.schema)
    schema.update({d: pl.Utf8 for d in latent.DIMENSION_NAMES})
    schema.update({"status": pl.Utf8, "null_reasons": pl.Utf8, "raw_output": pl.Utf8, "engine": pl.Utf8,
                   "model": pl.Utf8, "prompt_version": pl.Utf8})
    order = [c for c in PersonaExtraction.to_schema().columns if c in schema]
    return pl.DataFrame(rows, schema=schema).select(order)


__all__ = ["PROMPT_VERSION", "ExtractParams", "build_items", "build_prompt", "extract", "extraction_id",
           "FAILED", "NOT_GROUNDED"]
