"""The HumanChatBench-style benchmark in three steps: plan -> generate -> score.

``plan`` picks the test examples and builds every system's prompts (one job per system);
any engine turns jobs into outputs (``generate_jobs`` for a ``generate(list_of_messages)``
callable, or ``generation.vllm_generate`` for all jobs in one engine); ``score`` runs the
detectors on the outputs and on the human replies.

Systems: one per SFT variant with a trained adapter (prompted with that variant's own test
messages, persona rendered as in training), ``base`` (the untuned backbone on the FT prompts:
context only), and ``k-shot`` prompting baselines (persona in the system message + k example
exchanges, the paper's API baselines). Persona reference for CP/EC/HM: per test example, the
agent's most frequent observed value per dimension across the dataset
(``detectors.reference_personas``), identical for human replies and all systems.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from vvae_pipeline.evaluate import detectors
from vvae_pipeline.llm.generation import (
    GenerateFn,
    Messages,
    prompt_messages,
    shot_prompts,
)
from vvae_pipeline.params import BenchmarkParams
from vvae_pipeline.variants import VARIANT_KEYS, VARIANTS

PAPER_TARGETS = {"cp": 0.0857, "ec": 0.0641, "hm": 0.0216}


@dataclass(frozen=True)
class Job:
    system: str
    label: str
    kind: str  # "adapter" | "base" | "prompting"
    adapter: str | None  # variant key of the adapter, None = base weights
    prompts: list[Messages]


@dataclass
class Plan:
    examples: pl.DataFrame  # the chosen test examples (one row per extraction)
    personas: list[dict]  # persona reference per example, same order
    jobs: list[Job]
    not_trained: list[str]


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def choose_examples(test: pl.DataFrame, n: int, seed: int) -> list[str]:
    """Up to n test extraction ids, seeded, round-robin over agents so every agent is covered."""
    ids = test.select(["extraction_id", "agent_id"]).unique(subset=["extraction_id"]).rows()
    by_agent: dict[str, list[str]] = {}
    for eid, agent in sorted(ids, key=lambda r: _rank(seed, r[0])):
        by_agent.setdefault(agent, []).append(eid)
    picked: list[str] = []
    agents = sorted(by_agent, key=lambda a: _rank(seed, a))
    while len(picked) < n and any(by_agent.values()):
        for a in agents:
            if by_agent[a] and len(picked) < n:
                picked.append(by_agent[a].pop(0))
    return picked


def plan(sft: pl.DataFrame, trained: Mapping[str, bool], params: BenchmarkParams) -> Plan:
    """Jobs for every system. ``trained[variant]`` says whether that variant's adapter exists."""
    test = sft.filter(pl.col("split") == "test")
    if test.is_empty():
        raise ValueError("sft_dataset has no test rows: the benchmark needs the agent-disjoint test split")
    variants = [v for v in VARIANT_KEYS if v in set(test["variant"].unique().to_list())]
    # Only examples every variant has, so all systems answer the same prompts.
    n_variants = test.group_by("extraction_id").agg(pl.col("variant").n_unique().alias("k"))
    common = test.join(n_variants.filter(pl.col("k") == len(variants)), on="extraction_id", how="semi")
    chosen = choose_examples(common, params.max_test_prompts, params.seed)
    order = {eid: i for i, eid in enumerate(chosen)}
    refs = detectors.reference_personas(sft)

    def rows_of(variant: str) -> list[dict]:
        rows = test.filter((pl.col("variant") == variant) & pl.col("extraction_id").is_in(chosen)).to_dicts()
        return sorted(rows, key=lambda r: order[r["extraction_id"]])

    # The reference rows: FT when present (no persona in its messages), else the first variant.
    ref_rows = rows_of("ft" if "ft" in variants else variants[0])
    examples = pl.DataFrame(
        [{k: r[k] for k in ("extraction_id", "example_id", "agent_id", "session_id", "language", "reply")} for r in ref_rows]
    )
    personas = [refs[r["agent_id"]] for r in ref_rows]
    jobs: list[Job] = []
    not_trained = []
    for v in variants:
        if not trained.get(v, False):
            not_trained.append(v)
            continue
        rows = rows_of(v)
        if [r["extraction_id"] for r in rows] != [r["extraction_id"] for r in ref_rows]:
            raise ValueError(f"variant {v}: its test rows are not the same examples as the other variants'")
        jobs.append(Job(v, VARIANTS[v].label, "adapter", v, [prompt_messages(r["messages"]) for r in rows]))
    bare = [[m for m in prompt_messages(r["messages"]) if m["role"] != "system"] for r in ref_rows]
    if params.include_base:
        jobs.append(Job("base", "base (untuned)", "base", None, bare))
    pool = test.filter(pl.col("variant") == (ref_rows[0]["variant"] if ref_rows else variants[0])).to_dicts()
    for k in params.shots:
        prompts = shot_prompts(ref_rows, personas, k, pool=pool, seed=params.seed)
        jobs.append(Job(f"{k}-shot", f"{k}-shot persona prompt", "prompting", None, prompts))
    return Plan(examples, personas, jobs, not_trained)


def generate_jobs(jobs: Sequence[Job], gen: Callable[[str | None], GenerateFn],
                  prompting: GenerateFn | None = None) -> dict[str, list[str]]:
    """Outputs per system: ``gen(adapter)`` gives the generate callable for an adapter (None = base).

    ``prompting`` replaces the base model for the k-shot baselines (e.g. an OpenAI-compatible API).
    """
    out = {}
    for job in jobs:
        fn = prompting if (job.kind == "prompting" and prompting is not None) else gen(job.adapter)
        replies = fn(job.prompts)
        if len(replies) != len(job.prompts):
            raise ValueError(f"{job.system}: {len(replies)} replies for {len(job.prompts)} prompts")
        out[job.system] = list(replies)
    return out


def score(p: Plan, outputs: Mapping[str, Sequence[str]]) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(summary per system, samples per system x example, human target rates)."""
    human = detectors.rates(p.examples["reply"].to_list(), p.personas)
    targets = {d: human[d] for d in detectors.DETECTORS}
    summary, samples = [], []
    systems = [("human", "human replies (target)", "human", p.examples["reply"].to_list())]
    systems += [(j.system, j.label, j.kind, list(outputs[j.system])) for j in p.jobs]
    for name, label, kind, texts in systems:
        r = detectors.rates(texts, p.personas)
        summary.append({"system": name, "label": label, "kind": kind, "status": "ok", "n": r["n"],
                        "cp": r["cp"], "ec": r["ec"], "hm": r["hm"], "distance": detectors.distance(r, targets),
                        "distance_paper": detectors.distance(r, PAPER_TARGETS)})
        for ex, persona, text in zip(p.examples.iter_rows(named=True), p.personas, texts, strict=True):
            hit = detectors.detect(text, persona)
            samples.append({"system": name, "extraction_id": ex["extraction_id"], "agent_id": ex["agent_id"],
                            "language": ex["language"], "output": text, **hit})
    for v in p.not_trained:
        summary.append({"system": v, "label": VARIANTS[v].label, "kind": "adapter", "status": "not trained",
                        "n": 0, "cp": None, "ec": None, "hm": None, "distance": None, "distance_paper": None})
    return pl.DataFrame(summary), pl.DataFrame(samples), human
