"""The benchmark of one backbone, end to end: plan -> generate -> score -> compare -> claims -> DialogBench.

``run_benchmark(inputs, generator, params, db_params)`` is what the ``benchmark_report`` asset calls;
it returns a ``BenchmarkResult`` that ``evaluate.report.write_report`` renders. Nothing here knows
where the inputs came from or which engine the generator wraps (llm.generation: HFGenerator on
CPU/CUDA, VLLMGenerator with one LoRARequest per adapter).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from vvae_pipeline.evaluate import benchmark, claims, dialogbench, intervals
from vvae_pipeline.evaluate.deployment_persona import with_declared_persona
from vvae_pipeline.evaluate.systems import BASE, CHAMPION, FT, HUMAN, ORACLE, P_FT, SP_FT, shot_system
from vvae_pipeline.llm.generation import GenerateFn
from vvae_pipeline.params import BenchmarkParams, DialogBenchParams
from vvae_pipeline.sft.build import train_prior
from vvae_pipeline.train.stats import TrainStats
from vvae_pipeline.uncertainty import fmt_ci

log = logging.getLogger(__name__)

# Pairs the headline compares when both systems ran: (a, b) reads "is a closer to human than b?".
COMPARISONS = ((SP_FT, P_FT), (SP_FT, FT), (P_FT, FT), (SP_FT, BASE), (FT, BASE), (SP_FT, shot_system(0)),
               (SP_FT, CHAMPION))


@dataclass
class BenchmarkInputs:
    backbone: str
    base_model: str
    sft: pl.DataFrame  # every variant's SFT rows of this backbone
    test_rows: pl.DataFrame  # the test split with the test-time z (evaluate.deployment_persona)
    adapters: dict[str, str]  # variant -> adapter folder, trained variants only
    train_stats: dict[str, TrainStats] = field(default_factory=dict)  # trained variant -> its run's stats
    dialogbench_items: list[dict] = field(default_factory=list)
    dialogbench_note: str = ""
    previous: dict | None = None  # the previous materialization's summary.json, for week over week
    encoder_quality: dict = field(default_factory=dict)
    # Missingness and orthogonality of the training extractions (priors.structure.persona_structure)
    persona_structure: dict = field(default_factory=dict)
    deployment: dict = field(default_factory=dict)  # where it ran (engines, devices), for the settings
    champion_adapter: str | None = None  # the registry champion's SP+FT adapter folder, scored as "champion"
    declared: dict = field(default_factory=dict)  # declared agent profiles: the detectors' reference persona


def _persona_protocol(test_rows: pl.DataFrame) -> str:
    n = int((test_rows["status"] == "declared").sum()) if "status" in test_rows.columns else 0
    if n == 0:
        return "inferred from c"
    return ("declared agent profile" if n == test_rows.height
            else f"declared agent profile ({n} of {test_rows.height}), else inferred from c")


@dataclass
class BenchmarkResult:
    backbone: str
    summary: pl.DataFrame
    samples: pl.DataFrame
    human: dict
    comparisons: list[dict]
    headline: str
    claims: list[dict]
    dialogbench: dict[str, dict]
    dialogbench_note: str
    week_over_week: list[dict]
    train_stats: dict[str, TrainStats]
    encoder_quality: dict
    settings: dict
    seconds: dict[str, float]
    persona_structure: dict = field(default_factory=dict)
    protocol: str = "context"  # the test-time persona of everything above (PROTOCOLS)
    # The other protocol, when the data has both: {name: ProtocolScores}
    other_protocols: dict = field(default_factory=dict)


# Test-time persona protocols: the agent's declared profile (the paper's HumanChatBench protocol) and
# the persona inferred from the conversation so far (what a deployment without profiles has).
PROTOCOLS = {"declared": "the agent's declared profile (undeclared dimensions null; the paper's protocol)",
             "context": "inferred from the context c (the deployment-realistic protocol)"}


@dataclass
class ProtocolScores:
    """One protocol's numbers: the rates table, paired comparisons, headline and claims."""

    summary: pl.DataFrame
    comparisons: list[dict]
    headline: str
    claims: list[dict]
    test_persona: str


def protocol_rows(test_rows: pl.DataFrame, declared: Mapping[str, dict] | None) -> dict[str, pl.DataFrame]:
    """The test rows under each protocol the data allows: "context" (``test_rows`` as inferred) and,
    when any test agent declared a profile, "declared" (``with_declared_persona``)."""
    out = {"context": test_rows}
    agents = set(test_rows["agent_id"].unique().to_list())
    use = {a: p for a, p in (declared or {}).items() if a in agents}
    if use:
        out["declared"] = with_declared_persona(test_rows, use)
    return out


def compare(hits: Mapping, agents: list[str], params: BenchmarkParams) -> list[dict]:
    out = []
    for a, b in COMPARISONS:
        if a in hits and b in hits:
            d = intervals.paired_difference(hits[a], hits[b], hits[HUMAN], agents, params.bootstrap_samples,
                                            params.seed)
            out.append({"a": a, "b": b, **d, "verdict": intervals.verdict(a, b, d)})
    return out


def headline(summary: pl.DataFrame, hits: Mapping, agents: list[str], params: BenchmarkParams) -> str:
    """The closest trained variant, stated only as far as the intervals allow."""
    ok = summary.filter((pl.col("status") == "ok") & (pl.col("kind") == "adapter")).sort(["distance", "system"])
    if ok.is_empty():
        return "No variant has a trained adapter, so no variant can be compared with the human rates."
    best = ok.row(0, named=True)
    lead = (f"{best['label']} (`{best['system']}`) has the smallest distance to the human rates, "
            + fmt_ci(best["distance"], (best["distance_lo"], best["distance_hi"]), prose=True))
    unresolved = []
    for other in ok["system"].to_list()[1:]:
        d = intervals.paired_difference(hits[best["system"]], hits[other], hits[HUMAN], agents,
                                        params.bootstrap_samples, params.seed)
        if not d["resolved"]:
            unresolved.append(other)
    if not unresolved:
        return lead + ", and is closer than every other trained variant (paired 95% intervals exclude 0)."
    return ("Not resolved: " + lead + f", but the data cannot rank it against {', '.join(unresolved)} "
            "(paired 95% interval of the distance difference includes 0).")


def week_over_week(summary: pl.DataFrame, previous: dict | None) -> list[dict]:
    """Each system's distance now and at the previous materialization, with both intervals."""
    if not previous:
        return []
    before = {r["system"]: r for r in previous.get("systems", []) if r.get("status") == "ok"}
    rows = []
    for r in summary.filter(pl.col("status") == "ok").iter_rows(named=True):
        p = before.get(r["system"])
        if p is None or r["kind"] == "human":
            continue
        now, then = (r["distance_lo"], r["distance_hi"]), (p.get("distance_lo"), p.get("distance_hi"))
        overlap = None not in then and not (now[1] < then[0] or now[0] > then[1])
        rows.append({"system": r["system"], "distance_then": p.get("distance"), "ci_then": then,
                     "distance_now": r["distance"], "ci_now": now,
                     "change": "not resolved (intervals overlap)" if overlap or None in then else
                     ("closer to human" if r["distance"] < p["distance"] else "further from human")})
    return rows


def _generate(rows: pl.DataFrame, inputs: BenchmarkInputs, generator, params: BenchmarkParams,
              prompting: GenerateFn | None, adapters: dict, trained: dict, champion: bool,
              done: dict | None = None):
    """Plan, generate and score one protocol's test rows. ``done``: {system: (prompts, outputs)} of a
    protocol already generated; a system whose prompts are the same (FT, the base model) reuses them."""
    plan = benchmark.plan(rows, inputs.sft, train_prior(inputs.sft), trained, params, champion,
                          declared=inputs.declared)
    done = done or {}
    outputs = {j.system: done[j.system][1] for j in plan.jobs
               if j.system in done and done[j.system][0] == j.prompts}
    local = {j.system: (adapters[j.adapter] if j.adapter else None, j.prompts)
             for j in plan.jobs if j.system not in outputs and (prompting is None or j.kind != "prompting")}
    log.info("benchmark: generating for %d systems, %d prompts in all (%d systems reuse the other protocol's)",
             len(local), sum(len(prompts) for _, prompts in local.values()), len(outputs))
    outputs.update(generator.generate_all(local, params.decoding))
    if prompting is not None:
        outputs.update({j.system: prompting(j.prompts) for j in plan.jobs
                        if j.kind == "prompting" and j.system not in outputs})
    generated = {j.system: (j.prompts, outputs[j.system]) for j in plan.jobs if j.system in outputs}
    return plan, benchmark.score(plan, outputs, params), generated


def _scores(scored: benchmark.Scores, eval_loss, params: BenchmarkParams, test_persona: str) -> ProtocolScores:
    hits = {k: v for k, v in scored.hits.items() if k != ORACLE}
    return ProtocolScores(scored.summary, compare(hits, scored.agents, params),
                          headline(scored.summary, hits, scored.agents, params),
                          claims.evaluate_claims(hits, scored.agents, eval_loss, params.bootstrap_samples, params.seed),
                          test_persona)


def _dialogbench(inputs: BenchmarkInputs, db_params: DialogBenchParams, model: Callable[[], object],
                 adapters: dict, champion: bool) -> tuple[dict[str, dict], str]:
    """DialogBench accuracy per system that has weights ({system: result}) and the note when none was
    scored. ``model()``: the scorer with ``using(adapter)`` and ``tokenizer``, built only when there are items."""
    if not inputs.dialogbench_items:
        return {}, inputs.dialogbench_note
    scorer, results = model(), {}
    # The champion is scored wherever SP+FT is, so the promotion can compare them item by item.
    systems = [*db_params.systems, *([CHAMPION] if champion and SP_FT in db_params.systems else [])]
    for system in systems:
        if system != BASE and system not in adapters:
            continue
        log.info("benchmark: DialogBench for %s (%d items)", system, len(inputs.dialogbench_items))
        with scorer.using(adapters.get(system)) as m:
            results[system] = dialogbench.evaluate(inputs.dialogbench_items,
                                                   dialogbench.hf_letter_scorer(m, scorer.tokenizer))
    return results, "" if results else f"none of the DialogBench systems {list(db_params.systems)} has an adapter"


def run_benchmark(inputs: BenchmarkInputs, generator, params: BenchmarkParams, db_params: DialogBenchParams,
                  prompting: GenerateFn | None = None, scorer: Callable[[], object] | None = None) -> BenchmarkResult:
    """``generator``: anything with ``generate_all(jobs, decoding)``; ``prompting``: an endpoint for the
    k-shot baselines (None: the local base model); ``scorer()``: an HFGenerator for DialogBench's
    letter log-probabilities (defaults to ``generator`` when it is one).

    Every protocol the data allows (``protocol_rows``) is generated and scored; the headline, the
    claims, week over week and the promotion use ``params.headline_protocol`` when the data has it,
    else "context"; the other protocol's rates, comparisons and claims go to ``other_protocols``."""
    if params.headline_protocol not in PROTOCOLS:
        raise ValueError(f"headline_protocol {params.headline_protocol!r} not in {tuple(PROTOCOLS)}")
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    trained = {v: True for v in inputs.adapters}
    champion = bool(inputs.champion_adapter) and SP_FT in inputs.adapters
    adapters = {**inputs.adapters, **({CHAMPION: inputs.champion_adapter} if champion else {})}
    rows_by_protocol = protocol_rows(inputs.test_rows, inputs.declared)
    main = params.headline_protocol if params.headline_protocol in rows_by_protocol else "context"
    eval_loss = {v: s.final_eval_loss for v, s in inputs.train_stats.items()}
    # SP+FT fills the test-time z's nulls from the same train-split prior it was trained with.
    plan, scored, generated = _generate(rows_by_protocol[main], inputs, generator, params, prompting, adapters,
                                        trained, champion)
    main_scores = _scores(scored, eval_loss, params, _persona_protocol(rows_by_protocol[main]))
    others = {}
    for name, rows in rows_by_protocol.items():
        if name != main:
            _, o_scored, _ = _generate(rows, inputs, generator, params, prompting, adapters, trained, champion,
                                       done=generated)
            others[name] = _scores(o_scored, eval_loss, params, _persona_protocol(rows))
    seconds["generation"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    db_results, note = _dialogbench(inputs, db_params, scorer or (lambda: generator), adapters, champion)
    seconds["dialogbench"] = time.perf_counter() - t0
    settings = {**inputs.deployment, "backbone": inputs.backbone, "base_model": inputs.base_model,
                "headline_protocol": main, "protocols": list(rows_by_protocol),
                "test_persona": main_scores.test_persona,
                "reference_persona": ("declared agent profile where present, else the agent's most frequent "
                                      "observed value" if inputs.declared
                                      else "the agent's most frequent observed value"),
                "declared_agents": len(inputs.declared),
                "decoding": params.decoding.as_dict(), "max_test_prompts": params.max_test_prompts,
                "shots": list(params.shots), "bootstrap_samples": params.bootstrap_samples, "seed": params.seed,
                "dialogbench_items_per_task": db_params.items_per_task, "not_trained": plan.not_trained}
    return BenchmarkResult(
        backbone=inputs.backbone, summary=scored.summary, samples=scored.samples, human=scored.human,
        comparisons=main_scores.comparisons, headline=main_scores.headline, claims=main_scores.claims,
        dialogbench=db_results, dialogbench_note=note,
        week_over_week=week_over_week(scored.summary, inputs.previous), train_stats=inputs.train_stats,
        encoder_quality=inputs.encoder_quality, settings=settings, seconds=seconds,
        persona_structure=inputs.persona_structure, protocol=main, other_protocols=others)
