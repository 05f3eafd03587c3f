"""The HumanChatBench-style benchmark in three steps: plan -> generate -> score.

``plan`` picks the test examples and builds every system's prompts (one job per system) from the
test-time persona (evaluate.deployment_persona: inferred from the context, never from x); any generator
backend turns jobs into outputs (llm.generation: ``generate_all``); ``score`` runs the detectors
on the outputs and on the human replies and puts a 95% interval on every number.

Systems: one per SFT variant with a trained adapter (persona rendered as in training, from the
test-time z), ``base`` (the untuned backbone on the bare history), ``k-shot`` prompting baselines
(the test-time z in a persona system message + k example exchanges from the agent's other
sessions' contexts, the paper's API baselines), and optionally ``p_ft_oracle`` (P+FT prompted with the z read
from (c, x): a diagnostic, never in the headline). Persona reference for CP/EC/HM: per test example,
the agent's declared profile where the landing data has one, else its most frequent observed value
per dimension (``detectors.reference_personas``), the same for the human replies and every system.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import polars as pl

from vvae_pipeline.evaluate import detectors, intervals
from vvae_pipeline.evaluate.deployment_persona import context_exchanges, variant_prompts
from vvae_pipeline.evaluate.prompting import shot_prompts
from vvae_pipeline.evaluate.systems import BASE, CHAMPION, FT, HUMAN, ORACLE, P_FT, SP_FT, shot_system
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.llm.generation import Messages, prompt_messages
from vvae_pipeline.params import BenchmarkParams
from vvae_pipeline.variants import VARIANT_KEYS, VARIANTS

PAPER_TARGETS = {"cp": 0.0857, "ec": 0.0641, "hm": 0.0216}


@dataclass(frozen=True)
class Job:
    system: str
    label: str
    kind: str  # "adapter" | "base" | "prompting" | "oracle"
    adapter: str | None  # variant key of the adapter, None = base weights
    prompts: list[Messages]


@dataclass
class Plan:
    examples: pl.DataFrame  # the chosen test examples (one row per extraction)
    personas: list[dict]  # detector reference persona per example, same order
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


def _oracle_prompts(sft: pl.DataFrame, chosen: list[str]) -> list[Messages] | None:
    rows = sft.filter((pl.col("variant") == P_FT) & pl.col("extraction_id").is_in(chosen))
    if rows.height != len(chosen):
        return None
    by_id = {r["extraction_id"]: r["messages"] for r in rows.iter_rows(named=True)}
    return [prompt_messages(by_id[e]) for e in chosen]


def plan(test_rows: pl.DataFrame, sft: pl.DataFrame, priors: pl.DataFrame, trained: Mapping[str, bool],
         params: BenchmarkParams, champion: bool = False, declared: Mapping[str, dict] | None = None) -> Plan:
    """Jobs for every system. ``test_rows``: the test split with the test-time z in its persona
    columns (evaluate.deployment_persona.with_inferred_persona); ``trained[variant]``: its adapter exists;
    ``champion``: also the registry's champion SP+FT adapter (system ``champion``, adapter key
    ``champion``) on exactly the SP+FT prompts, for the champion/challenger comparison; ``declared``
    ({agent: {dimension: value}}): declared agent profiles, the detectors' reference persona for
    the dimensions they declare (the extracted reference for the rest)."""
    if test_rows.is_empty():
        raise ValueError("no test rows: the benchmark needs the agent-disjoint test split")
    variants = [v for v in VARIANT_KEYS if v in set(sft["variant"].unique().to_list())]
    chosen = choose_examples(test_rows, params.max_test_prompts, params.seed)
    order = {eid: i for i, eid in enumerate(chosen)}
    rows = (test_rows.filter(pl.col("extraction_id").is_in(chosen))
            .sort(pl.col("extraction_id").replace_strict(order, return_dtype=pl.Int64)))
    refs = detectors.reference_personas(sft)
    for agent, profile in (declared or {}).items():  # a declared profile is the reference where it speaks
        base = refs.get(agent) or dict.fromkeys(DIMENSION_NAMES)
        refs[agent] = {d: profile.get(d) or base.get(d) for d in DIMENSION_NAMES}
    examples = rows.select("extraction_id", "agent_id", "session_id", "language", "reply")
    personas = [refs.get(a) or dict.fromkeys(DIMENSION_NAMES) for a in rows["agent_id"].to_list()]

    jobs: list[Job] = []
    not_trained = []
    for v in variants:
        if not trained.get(v, False):
            not_trained.append(v)
            continue
        jobs.append(Job(v, VARIANTS[v].label, "adapter", v, variant_prompts(rows, priors, v, params.seed)))
        if v == SP_FT and champion:
            jobs.append(Job(CHAMPION, "SP+FT champion (registry alias)", "champion", CHAMPION, jobs[-1].prompts))
    if params.oracle_diagnostic and trained.get(P_FT) and (oracle := _oracle_prompts(sft, chosen)):
        jobs.append(Job(ORACLE, "P+FT with oracle z (read from x; diagnostic only)", "oracle", P_FT, oracle))
    bare = variant_prompts(rows, priors, FT, params.seed)
    if params.include_base:
        jobs.append(Job(BASE, "base (untuned)", "base", None, bare))
    # k-shot: the prompt's history is the bare one; the shots are the agent's past exchanges from
    # the contexts of its other sessions (never a target reply).
    shot_rows = [{"messages": [*p, {"role": "assistant", "content": ""}], "agent_id": r["agent_id"],
                  "session_id": r["session_id"], "language": r["language"], "example_id": r["extraction_id"]}
                 for p, r in zip(bare, rows.iter_rows(named=True), strict=True)]
    pool = context_exchanges(test_rows)
    test_time_z = rows.select(DIMENSION_NAMES).to_dicts()
    for k in params.shots:
        prompts = shot_prompts(shot_rows, test_time_z, k, pool=pool, seed=params.seed)
        jobs.append(Job(shot_system(k), f"{k}-shot persona prompt", "prompting", None, prompts))
    return Plan(examples, personas, jobs, not_trained)


def _hits(texts: Sequence[str], personas: Sequence[Mapping]) -> np.ndarray:
    return np.array([[float(h[d]) for d in detectors.DETECTORS]
                     for h in (detectors.detect(t or "", p) for t, p in zip(texts, personas, strict=True))]
                    ).reshape(len(texts), len(detectors.DETECTORS))


class Scores(NamedTuple):
    """What ``score`` measured on one plan's outputs."""

    summary: pl.DataFrame  # per system (and "human"): rates, distance, their intervals, status
    samples: pl.DataFrame  # per system x example: the output and its detector hits
    human: dict  # the human replies' rates with intervals (``intervals.system_intervals``' "human" entry)
    hits: dict[str, np.ndarray]  # system (and "human") -> (n_examples, 3) detector hits
    agents: list[str]  # the test agent of each example, the bootstrap's sampling unit


def score(p: Plan, outputs: Mapping[str, Sequence[str]], params: BenchmarkParams) -> Scores:
    """Summary per system with intervals, samples per system x example, human rates, hits per system
    and the agent of each example (``Scores``).

    Intervals: Wilson per rate, and an agent bootstrap (``params.bootstrap_samples``) for rates and
    for the distance to the human rates.
    """
    human_texts = p.examples["reply"].to_list()
    agents = p.examples["agent_id"].to_list()
    hits = {j.system: _hits(outputs[j.system], p.personas) for j in p.jobs}
    human_hits = _hits(human_texts, p.personas)
    iv = intervals.system_intervals(hits, human_hits, agents, params.bootstrap_samples, params.seed)
    human = {d: iv[HUMAN][d] for d in detectors.DETECTORS}
    summary, samples = [], []
    systems = [(HUMAN, "human replies (target)", "human", human_texts)]
    systems += [(j.system, j.label, j.kind, list(outputs[j.system])) for j in p.jobs]
    for name, label, kind, texts in systems:
        e = iv[name]
        row = {"system": name, "label": label, "kind": kind, "status": "ok", "n": e["n"],
               "distance": e["distance"], "distance_lo": e["distance_ci"][0], "distance_hi": e["distance_ci"][1],
               "distance_paper": detectors.distance(e, PAPER_TARGETS)}
        for d in detectors.DETECTORS:
            row.update({d: e[d], f"{d}_lo": e[f"{d}_ci"][0], f"{d}_hi": e[f"{d}_ci"][1],
                        f"{d}_wilson_lo": e[f"{d}_wilson"][0], f"{d}_wilson_hi": e[f"{d}_wilson"][1]})
        summary.append(row)
        for ex, persona, text in zip(p.examples.iter_rows(named=True), p.personas, texts, strict=True):
            samples.append({"system": name, "extraction_id": ex["extraction_id"], "agent_id": ex["agent_id"],
                            "language": ex["language"], "output": text, **detectors.detect(text, persona)})
    for v in p.not_trained:
        summary.append({"system": v, "label": VARIANTS[v].label, "kind": "adapter", "status": "not trained", "n": 0})
    return Scores(pl.DataFrame(summary, infer_schema_length=None), pl.DataFrame(samples), human,
                  {HUMAN: human_hits, **hits}, agents)
