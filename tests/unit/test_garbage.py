"""The checks that notice a garbage z (vvae_pipeline.encode.garbage): each rule fails on a planted-
garbage table shaped like issue #23's real-dialogue output and passes on a clean one."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.support.synthetic_extractions import extraction_frame
from vvae_pipeline.encode.garbage import (
    batch_findings,
    declared_agreement,
    function_word_share,
    grounding_rate,
    no_pii_in_values,
    prior_findings,
    top_value_share,
)
from vvae_pipeline.latent import TONES, VIBES
from vvae_pipeline.params import PersonaCheckParams
from vvae_pipeline.priors.build import build_priors
from vvae_pipeline.priors.checks import PRIOR_RULES

N = 24  # above PersonaCheckParams.min_answers (20)


def _rows(n: int = N, **cols) -> list[dict]:
    """``n`` rows; each keyword is a list cycled over the rows (or one value for all)."""
    out = []
    for i in range(n):
        out.append({k: (v[i % len(v)] if isinstance(v, list) else v) for k, v in cols.items()})
    return out


def test_params_state_the_thresholds_once():
    p = PersonaCheckParams()
    assert (p.max_top_share, p.min_answers, p.max_function_word_share) == (0.35, 20, 0.05)


# ---------------------------------------------------------------- top value share

def test_top_value_share_fails_when_one_tone_dominates():
    # Issue #23: tone "formal" on 76-91% of examples; here 20 of 24 (83%), vibe spread evenly.
    tones = ["formal"] * 20 + ["calm", "gentle", "casual", "cold"]
    df = extraction_frame(_rows(tone=tones, vibe=list(VIBES)))
    f = top_value_share(df)
    assert not f.report.passed
    assert f.report.failures[0]["cases"] == ["tone: formal on 20 of 24 (83%)"]
    assert f.figures["dimensions"]["tone"] == {"answers": 24, "top_value": "formal", "top_count": 20,
                                               "top_share": pytest.approx(20 / 24, abs=1e-4), "judged": True}
    assert f.figures["dimensions"]["vibe"]["top_share"] == pytest.approx(3 / 24, abs=1e-4)


def test_top_value_share_passes_a_spread_and_waits_for_enough_answers():
    assert top_value_share(extraction_frame(_rows(tone=list(TONES), vibe=list(VIBES)))).report.passed
    tiny = top_value_share(extraction_frame(_rows(n=19, tone="formal")))  # 19 < 20 answers: not judged
    assert tiny.report.passed and tiny.figures["dimensions"]["tone"]["judged"] is False
    failed_rows = extraction_frame(_rows(tone="formal", status="failed"))  # failed extractions never count
    assert top_value_share(failed_rows).figures["dimensions"]["tone"]["answers"] == 0


# ---------------------------------------------------------------- function words

def test_function_word_share_fails_on_function_words_as_catchphrases_and_nicknames():
    # Issue #23: 怎么/没有/什么 as catchphrases, interjections as nicknames.
    df = extraction_frame(_rows(language="zh", catchphrase=["怎么", "没有", "什么", "真的假的"],
                                nickname=["啊", "宝贝"], topic=["打羽毛球"]))
    f = function_word_share(df)
    assert not f.report.passed
    assert f.figures["catchphrase"]["function_words"] == 18 and f.figures["nickname"]["function_words"] == 12
    assert f.figures["topic"]["function_words"] == 0 and f.figures["values"] == 72
    assert f.report.failures[0]["cases"][0] == "30 of 72 values (42%)"
    assert ["啊", 12] in f.figures["nickname"]["top_function_words"]


def test_function_word_share_passes_persona_values():
    df = extraction_frame(_rows(catchphrase=["no worries at all", "let's gooo", "plot twist"],
                                nickname=["sunshine", "champ"], topic=["rock climbing", "sourdough"]))
    f = function_word_share(df)
    assert f.report.passed and f.figures["function_words"] == 0 and f.figures["judged"]


# ---------------------------------------------------------------- grounding

def test_grounding_rate_fails_when_values_are_not_in_the_agents_text():
    # The catchphrase is in the *user's* turn only: not the agent's own text.
    ctx = [{"role": "user", "text": "let's gooo!"}, {"role": "agent", "text": "hey sunshine"}]
    df = extraction_frame(_rows(context=[ctx], reply="ok then", catchphrase="let's gooo", nickname="sunshine"))
    f = grounding_rate(df)
    assert not f.report.passed
    assert f.figures["dimensions"]["catchphrase"] == {"values": N, "grounded": 0, "rate": 0.0}
    assert f.figures["dimensions"]["nickname"]["rate"] == 1.0 and f.figures["rate"] == 0.5


def test_grounding_rate_passes_values_from_the_reply_and_agent_turns():
    ctx = [{"role": "agent", "text": "Hey Sunshine 🌙"}]
    df = extraction_frame(_rows(n=3, context=[ctx], reply="No worries at all", catchphrase="no worries at all",
                                nickname="sunshine", emoji="🌙"))
    f = grounding_rate(df)
    assert f.report.passed and f.figures["rate"] == 1.0 and f.figures["values"] == 9


# ---------------------------------------------------------------- declared profiles

def test_declared_agreement_fails_when_declared_values_in_x_are_missed():
    declared = {"agent_luna": {"catchphrase": "No worries at all", "tone": "gentle"}}
    df = extraction_frame(_rows(agent_id="agent_luna", reply="oh, no worries at all!", catchphrase=[None, None, "oh"]))
    f = declared_agreement(df, declared)
    assert not f.report.passed
    assert f.figures["dimensions"] == {"catchphrase": {"examples": N, "agreed": 0, "recall": 0.0}}  # tone not in x
    assert f.figures["declared_agents"] == 1 and f.figures["judged"]


def test_declared_agreement_passes_when_read_and_without_declared_profiles():
    declared = {"agent_luna": {"catchphrase": "no worries at all"}}
    df = extraction_frame(_rows(agent_id="agent_luna", reply="no worries at all", catchphrase="no worries at all"))
    assert declared_agreement(df, declared).figures["recall"] == 1.0 and declared_agreement(df, declared).report.passed
    none = declared_agreement(df, None)
    assert none.report.passed and none.figures["declared_agents"] == 0 and none.figures["recall"] is None


def test_batch_findings_read_declared_profiles_from_the_scrubbed_sessions():
    df = extraction_frame(_rows(agent_id="agent_luna", reply="no worries at all", session_id="s1"))
    sessions = pl.DataFrame({"agent_id": ["agent_luna"], "session_id": ["s1"],
                             "agent_profile": [json.dumps({"catchphrase": "no worries at all"})]})
    findings = batch_findings(df, sessions)
    assert set(findings) == {"top_value_share", "function_word_share", "grounding_rate", "declared_agreement"}
    assert not findings["declared_agreement"].report.passed


# ---------------------------------------------------------------- priors

def _prior(rows: list[dict]) -> pl.DataFrame:
    return build_priors(extraction_frame(rows))[0]


def test_prior_findings_fail_on_a_garbage_prior_and_pass_a_clean_one():
    garbage = _prior(_rows(vibe=["flirty"] * 22 + ["warm", "tense"], language="zh",
                           catchphrase=["没有", "什么", "说白了"]))
    found = prior_findings(garbage)
    assert not found["top_value_share"].report.passed
    assert found["top_value_share"].figures["dimensions"]["vibe"]["top_value"] == "flirty"
    assert not found["function_word_share"].report.passed
    assert found["function_word_share"].figures["catchphrase"] == {
        "values": N, "function_words": 16, "share": pytest.approx(16 / 24, abs=1e-4),
        "top_function_words": [["什么", 8], ["没有", 8]]}  # ties by value

    clean = _prior(_rows(vibe=list(VIBES), catchphrase=["no worries at all", "plot twist", "说白了"]))
    assert all(f.report.passed for f in prior_findings(clean).values())


@pytest.mark.parametrize("dimension, value, kind", [
    ("nickname", "[name_1]", "placeholder"),   # normalize() lower-cases an ASCII placeholder
    ("topic", "[NAME_2]的生日", "placeholder"),
    ("topic", "emily", "name"),                # the en given-name gazetteer, lower-cased
    ("nickname", "郑国栋", "name"),             # jieba-backed zh name recognizer
    ("nickname", "王芳老师", "name"),           # surname + honorific
    ("hobby", "mailing a@example.com", "EMAIL"),  # the residual detector's structured PII
])
def test_no_pii_in_values_fails_without_showing_the_value(dimension, value, kind):
    prior = pl.DataFrame({"dimension": ["tone", dimension], "value": ["calm", value]})
    report = no_pii_in_values(prior)
    assert not report.passed
    assert report.failures[0]["cases"] == [f"{dimension}: {kind} x1"]
    assert value not in json.dumps(report.failures, ensure_ascii=False)


def test_no_pii_in_values_passes_persona_values_and_is_a_prior_rule():
    clean = _prior(
        _rows(
            nickname=["sunshine", "宝贝", "小伙子", "captain"],
            catchphrase=["no worries at all", "说白了"],
            topic=["stargazing", "钓鱼"],
        )
    )
    assert no_pii_in_values(clean).passed
    assert PRIOR_RULES["no_pii_in_values"] is no_pii_in_values
