"""Both test-time persona protocols in one benchmark run (evaluate.run.run_benchmark): the declared
profile (the paper's) and the z inferred from the context, with a generator that says the persona's
catchphrase when its prompt shows one, so the two protocols must come out different."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.support.benchmark_frames import LUNA, make_test_rows, sft_frame
from vvae_pipeline.evaluate import report, run
from vvae_pipeline.params import BenchmarkParams, DialogBenchParams


class PersonaEcho:
    """Replies with the catchphrase its system prompt names, else "ok."; counts what it generated."""

    def __init__(self):
        self.calls: list[str] = []

    def generate_all(self, jobs, decoding):
        out = {}
        for system, (_, prompts) in jobs.items():
            self.calls.append(system)
            replies = []
            for p in prompts:
                system_text = " ".join(m["content"] for m in p if m["role"] == "system")
                cp = next((c for c in (LUNA["catchphrase"], "真的假的") if c in system_text), None)
                replies.append(cp or "ok.")
            out[system] = replies
        return out


PARAMS = BenchmarkParams(max_test_prompts=6, shots=(), include_base=True, bootstrap_samples=200)


def _inputs(declared):
    df = sft_frame(variants=("ft", "p_ft"))
    return run.BenchmarkInputs("smollm2-135m", "base", df, make_test_rows(df), {"ft": "a/ft", "p_ft": "a/p_ft"},
                               declared=declared)


def test_both_protocols_are_scored_and_the_headline_uses_the_declared_one(tmp_path):
    gen = PersonaEcho()
    res = run.run_benchmark(_inputs({"agent_luna": {"catchphrase": LUNA["catchphrase"]}}), gen, PARAMS,
                            DialogBenchParams())
    assert res.protocol == "declared" and set(res.other_protocols) == {"context"}
    declared = {r["system"]: r for r in res.summary.iter_rows(named=True)}
    context = {r["system"]: r for r in res.other_protocols["context"].summary.iter_rows(named=True)}
    # Luna's 3 of 6 test prompts show her declared catchphrase: P+FT says it there, never without it.
    assert declared["p_ft"]["cp"] == pytest.approx(3 / 6)
    assert context["p_ft"]["cp"] == 0.0  # the context z (all null here) shows no catchphrase
    assert declared["ft"]["cp"] == context["ft"]["cp"] == 0.0
    # FT and the base model get the same prompts under both protocols: generated once.
    assert gen.calls.count("ft") == 1 and gen.calls.count("base") == 1 and gen.calls.count("p_ft") == 2
    assert res.settings["headline_protocol"] == "declared" and res.settings["protocols"] == ["context", "declared"]

    report.write_report(res, tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Protocol: the headline, claims and promotion use the test-time persona the agent's declared profile" in md
    assert "## The other protocol: test-time persona inferred from the context c" in md
    assert md.count("## The paper's claims on this run") == 1 and "The paper's claims under this protocol:" in md
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["protocol"] == "declared" and set(summary["other_protocols"]) == {"context"}


def test_context_headline_on_request_and_without_declared_profiles(tmp_path):
    from dataclasses import replace

    res = run.run_benchmark(_inputs({"agent_luna": {"catchphrase": LUNA["catchphrase"]}}), PersonaEcho(),
                            replace(PARAMS, headline_protocol="context"), DialogBenchParams())
    assert res.protocol == "context" and set(res.other_protocols) == {"declared"}
    assert res.summary.filter(pl.col("system") == "p_ft")["cp"][0] == 0.0

    alone = run.run_benchmark(_inputs({}), PersonaEcho(), PARAMS, DialogBenchParams())
    assert alone.protocol == "context" and alone.other_protocols == {}  # nothing declared: one protocol
    report.write_report(alone, tmp_path)
    assert "cannot be scored" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="headline_protocol"):
        run.run_benchmark(_inputs({}), PersonaEcho(), replace(PARAMS, headline_protocol="x"), DialogBenchParams())
