"""Checks that notice a garbage z: the figures a structural check cannot see.

A table can pass every schema rule while the encoder fills z with junk (issue #23: tone "formal" on
76-91% of real examples, vibe "flirty" on 80-92%, 怎么/没有/什么 as catchphrases, interjections as
nicknames, fragments of names as topics). Each rule here returns a ``Finding``: the
``schemas.ValidationReport`` a check passes or fails on, and every figure it rests on (for the
check's metadata). Thresholds are ``params.PersonaCheckParams``.

On ``persona_extractions`` (one batch): ``top_value_share`` (closed dimensions),
``function_word_share`` (catchphrase, nickname, topic), ``grounding_rate`` (grounded values found in
the agent's own text) and ``declared_agreement`` (recall of declared profile values on the examples
whose x contains them). On ``persona_priors`` the first two, over the prior's counts.

``no_pii_in_values`` is the one rule on values that must never pass: a PII placeholder
(``[NAME_1]``), a name the scrub stage's name recognizers find, or structured PII the residual
detector finds. Its report names dimensions and counts, never the values.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from vvae_pipeline.encode.function_words import is_function_word, language_of
from vvae_pipeline.encode.value_pii import pii_kinds
from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES, normalize
from vvae_pipeline.params import PersonaCheckParams
from vvae_pipeline.schemas import ValidationReport

DEFAULT = PersonaCheckParams()
CLOSED = tuple(d for d in DIMENSION_NAMES if BY_NAME[d].closed)
GROUNDED = tuple(d for d in DIMENSION_NAMES if BY_NAME[d].grounded)
# Open dimensions whose function-word values were the garbage; emoji has no words, hobby was not hit.
WORDY = ("catchphrase", "nickname", "topic")
CASES = 3  # failure cases shown per rule


@dataclass(frozen=True)
class Finding:
    """A rule's verdict and every figure behind it."""

    report: ValidationReport
    figures: dict = field(default_factory=dict)


def _finding(n_rows: int, column: str, check: str, bad: list[str], figures: dict) -> Finding:
    failures = [{"column": column, "check": check, "cases": bad[:CASES]}] if bad else []
    return Finding(ValidationReport(not bad, n_rows, failures), figures)


def _usable(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("status") != "failed") if "status" in df.columns else df


def _fold(text: str) -> str:
    # grounding.parse_output's view: NFKC, case-folded, no emoji variation selector.
    return unicodedata.normalize("NFKC", text).replace("\ufe0f", "").lower()


# ---------------------------------------------------------------- top value share (closed dimensions)

def _top_share(counts: Mapping[str, Counter], params: PersonaCheckParams) -> tuple[dict, list[str]]:
    figures, bad = {}, []
    for dim in CLOSED:
        c = counts.get(dim) or Counter()
        answers = sum(c.values())
        top, top_n = min(c.items(), key=lambda kv: (-kv[1], kv[0])) if c else (None, 0)
        share = top_n / answers if answers else 0.0
        judged = answers >= params.min_answers
        figures[dim] = {"answers": answers, "top_value": top, "top_count": top_n, "top_share": round(share, 4),
                        "judged": judged}
        if judged and share > params.max_top_share:
            bad.append(f"{dim}: {top} on {top_n} of {answers} ({share:.0%})")
    return figures, bad


def _top_finding(n_rows: int, counts: Mapping[str, Counter], params: PersonaCheckParams) -> Finding:
    dims, bad = _top_share(counts, params)
    return _finding(n_rows, ", ".join(CLOSED), f"no closed value above {params.max_top_share:.0%} of a dimension's "
                    f"answers (judged from {params.min_answers} answers)", bad,
                    {"dimensions": dims, "max_top_share": params.max_top_share, "min_answers": params.min_answers})


def top_value_share(df: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> Finding:
    """persona_extractions: no closed dimension answers one value on more than max_top_share."""
    usable = _usable(df)
    counts = {d: Counter(usable[d].drop_nulls().to_list()) for d in CLOSED if d in usable.columns}
    return _top_finding(usable.height, counts, params)


def prior_top_value_share(priors: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> Finding:
    """persona_priors: no closed dimension's prior puts more than max_top_share on one value."""
    counts: dict[str, Counter] = {}
    for dim, value, n in priors.select("dimension", "value", "count").iter_rows():
        counts.setdefault(dim, Counter())[value] += n
    return _top_finding(priors.height, counts, params)


# ---------------------------------------------------------------- function words (open dimensions)

def _function_words(counts: Mapping[str, Counter], params: PersonaCheckParams) -> tuple[dict, list[str]]:
    """``counts``: per dimension, (value, language or None) -> count."""
    figures: dict = {}
    total = hits = 0
    found: Counter = Counter()
    for dim in WORDY:
        c = counts.get(dim) or Counter()
        fw = Counter({v: n for (v, lang), n in c.items() if is_function_word(v, lang)})
        n_dim, k_dim = sum(c.values()), sum(fw.values())
        figures[dim] = {
            "values": n_dim,
            "function_words": k_dim,
            "share": round(k_dim / n_dim, 4) if n_dim else 0.0,
            "top_function_words": [[v, n] for v, n in sorted(fw.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
        }
        total, hits = total + n_dim, hits + k_dim
        found.update({f"{dim}={v}": n for v, n in fw.items()})
    share = hits / total if total else 0.0
    judged = total >= params.min_answers
    figures.update(values=total, function_words=hits, share=round(share, 4), judged=judged,
                   max_function_word_share=params.max_function_word_share, min_answers=params.min_answers)
    bad = []
    if judged and share > params.max_function_word_share:
        bad = [f"{hits} of {total} values ({share:.0%})"] + [f"{v} x{n}" for v, n in found.most_common(CASES - 1)]
    return figures, bad


def _words_finding(n_rows: int, counts: Mapping[str, Counter], params: PersonaCheckParams) -> Finding:
    figures, bad = _function_words(counts, params)
    return _finding(n_rows, ", ".join(WORDY), f"function-word values at most {params.max_function_word_share:.0%} "
                    f"(judged from {params.min_answers} values)", bad, figures)


def function_word_share(df: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> Finding:
    """persona_extractions: catchphrase/nickname/topic values that are only function words stay rare."""
    usable = _usable(df)
    langs = usable["language"] if "language" in usable.columns else pl.Series([None] * usable.height)
    counts = {d: Counter((v, lang) for v, lang in zip(usable[d], langs) if v is not None)
              for d in WORDY if d in usable.columns}
    return _words_finding(usable.height, counts, params)


def prior_function_word_share(priors: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> Finding:
    """persona_priors: the prior's mass on function-word values (weighted by count) stays rare."""
    counts: dict[str, Counter] = {}
    for dim, value, n in priors.filter(pl.col("dimension").is_in(WORDY)).select("dimension", "value",
                                                                                 "count").iter_rows():
        counts.setdefault(dim, Counter())[(value, language_of(value))] += n
    return _words_finding(priors.height, counts, params)


# ---------------------------------------------------------------- grounding

def grounding_rate(df: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> Finding:
    """persona_extractions: grounded values (catchphrase, emoji, nickname) occur in the agent's own
    text (its context turns and x), as the parser demands."""
    usable = _usable(df)
    per_dim = {d: [0, 0] for d in GROUNDED}  # [values, found in the agent's text]
    missing: Counter = Counter()
    for row in usable.select("context", "reply", *GROUNDED).iter_rows(named=True):
        own = _fold(" ".join([t["text"] or "" for t in row["context"] or [] if t["role"] == "agent"]
                             + [row["reply"] or ""]))
        for dim in GROUNDED:
            if row[dim] is None:
                continue
            per_dim[dim][0] += 1
            if _fold(row[dim]) in own:
                per_dim[dim][1] += 1
            else:
                missing[f"{dim}={row[dim]}"] += 1
    total, found = sum(n for n, _ in per_dim.values()), sum(k for _, k in per_dim.values())
    rate = found / total if total else 1.0
    figures = {"dimensions": {d: {"values": n, "grounded": k, "rate": round(k / n, 4) if n else None}
                              for d, (n, k) in per_dim.items()},
               "values": total, "grounded": found, "rate": round(rate, 4),
               "min_grounding_rate": params.min_grounding_rate}
    bad = []
    if rate < params.min_grounding_rate:
        bad = [f"{found} of {total} grounded ({rate:.0%})"] + [f"{v} x{n}" for v, n in missing.most_common(CASES - 1)]
    return _finding(usable.height, ", ".join(GROUNDED), f"grounded values in the agent's own text at least "
                    f"{params.min_grounding_rate:.0%}", bad, figures)


# ---------------------------------------------------------------- declared profiles

def declared_agreement(df: pl.DataFrame, declared: Mapping[str, Mapping[str, str | None]] | None,
                       params: PersonaCheckParams = DEFAULT) -> Finding:
    """Where the data declares profiles ({agent_id: {dimension: value}}, encode.profiles.declared_dicts):
    of the examples whose x contains a declared value, the share whose z states that value."""
    usable = _usable(df)
    declared = {a: p for a, p in (declared or {}).items() if p}
    per_dim = {d: [0, 0] for d in DIMENSION_NAMES}  # [x contains the declared value, z states it]
    missed: Counter = Counter()
    rows = usable.filter(pl.col("agent_id").is_in(list(declared))) if declared else usable.clear()
    for row in rows.select("agent_id", "reply", *DIMENSION_NAMES).iter_rows(named=True):
        x = _fold(row["reply"] or "")
        for dim, raw in declared[row["agent_id"]].items():
            value = normalize(dim, raw) if dim in BY_NAME else None
            if value is None or _fold(value) not in x:
                continue
            per_dim[dim][0] += 1
            if row[dim] == value:
                per_dim[dim][1] += 1
            else:
                missed[f"{dim}={value}"] += 1
    eligible, agreed = sum(n for n, _ in per_dim.values()), sum(k for _, k in per_dim.values())
    recall = agreed / eligible if eligible else None
    judged = eligible >= params.min_answers
    figures = {"declared_agents": len(declared), "agents_in_batch": rows["agent_id"].n_unique() if rows.height else 0,
               "dimensions": {d: {"examples": n, "agreed": k, "recall": round(k / n, 4)}
                              for d, (n, k) in per_dim.items() if n},
               "examples": eligible, "agreed": agreed, "recall": None if recall is None else round(recall, 4),
               "judged": judged, "min_declared_recall": params.min_declared_recall, "min_answers": params.min_answers}
    bad = []
    if judged and recall < params.min_declared_recall:
        bad = [f"{agreed} of {eligible} ({recall:.0%})"] + [
            f"{v} missed x{n}" for v, n in missed.most_common(CASES - 1)
        ]
    return _finding(usable.height, "persona", f"declared values found in x are read into z at least "
                    f"{params.min_declared_recall:.0%} of the time (judged from {params.min_answers} examples)",
                    bad, figures)


# ---------------------------------------------------------------- PII in values (priors, profiles)

def no_pii_in_values(df: pl.DataFrame) -> ValidationReport:
    """No value holds a PII placeholder, a detected person name or structured PII (a value in a
    prior is sampled into other agents' training prompts). Cases give dimensions and counts only."""
    missing = [c for c in ("dimension", "value") if c not in df.columns]
    if missing:
        return ValidationReport(False, df.height, [{"column": ", ".join(missing), "check": "column missing",
                                                     "cases": []}])
    by_dim: dict[str, Counter] = {}
    for dim, value in df.select("dimension", "value").unique(maintain_order=True).iter_rows():
        if value is None:
            continue
        for kind in pii_kinds(value):
            by_dim.setdefault(dim, Counter())[kind] += 1
    bad = [f"{d}: " + ", ".join(f"{k} x{n}" for k, n in sorted(c.items())) for d, c in by_dim.items()]
    if not bad:
        return ValidationReport(True, df.height, [])
    n = sum(sum(c.values()) for c in by_dim.values())
    return ValidationReport(False, df.height, [{"column": "value", "check": f"no placeholder, person name or "
                                                f"structured PII in a value ({n} failing)", "cases": bad}])


def no_pii_in_extraction_values(df: pl.DataFrame) -> ValidationReport:
    """No open persona value of persona_extractions (one column per dimension) holds a PII
    placeholder, a detected person name or structured PII; ``no_pii_in_values`` on its long form."""
    dims = [d for d in DIMENSION_NAMES if not BY_NAME[d].closed and d in df.columns]
    if not dims:
        return ValidationReport(False, df.height, [{"column": "persona", "check": "column missing", "cases": []}])
    long = pl.concat([df.select(pl.lit(d).alias("dimension"), pl.col(d).cast(pl.Utf8).alias("value")) for d in dims])
    report = no_pii_in_values(long.drop_nulls("value"))
    return ValidationReport(report.passed, df.height, report.failures)


EXTRACTION_FINDINGS = {"top_value_share": top_value_share, "function_word_share": function_word_share,
                       "grounding_rate": grounding_rate, "declared_agreement": declared_agreement}
PRIOR_FINDINGS = {"top_value_share": prior_top_value_share, "function_word_share": prior_function_word_share}


def extraction_findings(df: pl.DataFrame, declared: Mapping[str, Mapping[str, str | None]] | None = None,
                        params: PersonaCheckParams = DEFAULT) -> dict[str, Finding]:
    """Every EXTRACTION_FINDINGS rule on one batch; ``declared`` as for ``declared_agreement``."""
    return {name: rule(df, declared, params) if rule is declared_agreement else rule(df, params)
            for name, rule in EXTRACTION_FINDINGS.items()}


def batch_findings(
    df: pl.DataFrame, sessions: pl.DataFrame, params: PersonaCheckParams = DEFAULT
) -> dict[str, Finding]:
    """``extraction_findings`` of one batch, with the profiles its scrubbed ``sessions`` declare."""
    from vvae_pipeline.encode.profiles import declared_dicts, declared_profiles

    return extraction_findings(df, declared_dicts(declared_profiles(sessions)), params)


def prior_findings(priors: pl.DataFrame, params: PersonaCheckParams = DEFAULT) -> dict[str, Finding]:
    """Every PRIOR_FINDINGS rule on the prior table."""
    return {name: rule(priors, params) for name, rule in PRIOR_FINDINGS.items()}
