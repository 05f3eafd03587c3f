"""The paper's six claims, each tested on this run's numbers: holds / does not hold / not resolved.

Claims 1-5 are rows of one table (``CLAIMS``): a statement, a statistic of the detector hits (a
paired difference between systems scored on the same test prompts) and the side of zero on which
the claim holds. ``evaluate_claims`` puts a 95% agent-bootstrap interval on each statistic: a claim
only "holds" or "does not hold" when the interval excludes zero. Claim 6 compares two final
validation losses from one training run each; there is no interval for it, and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np

from vvae_pipeline.evaluate import intervals
from vvae_pipeline.evaluate.systems import ABLATIONS, FT, HUMAN, P_FT, SP_FT, shot_system
from vvae_pipeline.uncertainty import bootstrap_ci, fmt_ci
from vvae_pipeline.variants import VARIANTS

CP = 0  # column of the catchphrase detector in a hits matrix
HOLDS, FAILS, UNRESOLVED, UNTESTED = "holds", "does not hold", "not resolved", "not tested"
ABOVE, BELOW = 1, -1  # the side of zero on which a claim holds

Hits = Mapping[str, np.ndarray]  # system -> (n_examples, 3) detector hits, with "human"


class Statistic(NamedTuple):
    """A number computed from the hits of ``systems`` under resample weights w (n_boot, n_examples);
    all-ones weights give the number as observed."""

    label: str  # what it is, e.g. "CP(P+FT) - CP(human)"
    spec: str  # how it is printed
    systems: tuple[str, ...]  # the systems whose hits it needs
    of: Callable[[Hits, np.ndarray], np.ndarray]  # (hits, w) -> (n_boot,)
    detail: Callable[[Hits], str] | None = None  # more evidence, printed before it


class Claim(NamedTuple):
    number: int
    statement: str
    statistic: Statistic
    holds_if: int  # ABOVE or BELOW: where the interval must lie for the claim to hold


def _name(system: str) -> str:
    return VARIANTS[system].label if system in VARIANTS else system


def _cp(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    return intervals.rates(h, w)[:, CP]


def cp_difference(a: str, b: str) -> Statistic:
    return Statistic(f"CP({_name(a)}) - CP({_name(b)})", "+.1%", (a, b), lambda h, w: _cp(h[a], w) - _cp(h[b], w))


def distance_difference(a: str, b: str) -> Statistic:
    return Statistic(f"distance({_name(a)}) - distance({_name(b)})", "+.3f", (a, b, HUMAN),
                     lambda h, w: intervals.distance_difference(h[a], h[b], h[HUMAN], w))


def _cp_moved(h: Hits, w: np.ndarray) -> dict[str, np.ndarray]:
    """|CP change| of each ablation against SP+FT."""
    return {a: np.abs(_cp(h[a], w) - _cp(h[SP_FT], w)) for a in ABLATIONS}


def talking_margin() -> Statistic:
    """How much more dropping the talking-style axis moves CP than the larger of the other two."""
    def of(h: Hits, w: np.ndarray) -> np.ndarray:
        moved = _cp_moved(h, w)
        return moved[ABLATIONS[0]] - np.max([moved[a] for a in ABLATIONS[1:]], axis=0)

    def detail(h: Hits) -> str:
        moved = _cp_moved(h, np.ones((1, len(h[SP_FT]))))
        return "|CP change vs SP+FT|: " + ", ".join(f"{a} {float(v[0]):.1%}" for a, v in moved.items()) + "; "

    return Statistic("margin of talking over the larger other", "+.1%", (SP_FT, *ABLATIONS), of, detail)


CLAIMS = (
    # Paper: CP 50-53% for P+FT vs 8.6% for the human replies.
    Claim(1, "P+FT shows the catchphrase far above the human rate", cp_difference(P_FT, HUMAN), ABOVE),
    Claim(2, "SP+FT's distance to the human rates is smaller than P+FT's", distance_difference(SP_FT, P_FT), BELOW),
    Claim(3, "FT stays below the human rate on CP", cp_difference(FT, HUMAN), BELOW),
    # Paper: 78-84% vs 8.57%.
    Claim(4, "the 0-shot persona prompt over-injects the catchphrase", cp_difference(shot_system(0), HUMAN), ABOVE),
    Claim(5, "removing the talking-style axis moves CP the most", talking_margin(), ABOVE),
)
LOSS_CLAIM = (6, "SP+FT's validation loss is above P+FT's")  # sampled personas are harder to fit


def _verdict(ci: tuple[float, float], holds_if: int) -> str:
    lo, hi = ci
    if lo > 0:
        return HOLDS if holds_if == ABOVE else FAILS
    if hi < 0:
        return FAILS if holds_if == ABOVE else HOLDS
    return UNRESOLVED


def evaluate_claim(claim: Claim, hits: Hits, agents: list[str], n_boot: int, seed: int = 0) -> dict:
    """One row of ``CLAIMS`` on this run's hits: {claim, statement, verdict, evidence}."""
    out = {"claim": claim.number, "statement": claim.statement}
    s = claim.statistic
    if missing := [m for m in s.systems if m not in hits]:
        return {**out, "verdict": f"{UNTESTED}: no {', '.join(missing)} outputs in this run", "evidence": ""}
    point = float(s.of(hits, np.ones((1, len(agents))))[0])
    ci = bootstrap_ci(lambda w: s.of(hits, w), agents, n_boot, seed)
    evidence = (s.detail(hits) if s.detail else "") + f"{s.label} = {fmt_ci(point, ci, s.spec, prose=True)}"
    return {**out, "verdict": _verdict(ci, claim.holds_if), "evidence": evidence}


def loss_claim(eval_loss: Mapping[str, float | None]) -> dict:
    """Claim 6, from one training run per variant: no interval, and the verdict says so."""
    number, statement = LOSS_CLAIM
    a, b = eval_loss.get(SP_FT), eval_loss.get(P_FT)
    if a is None or b is None:
        return {"claim": number, "statement": statement, "verdict": f"{UNTESTED}: a validation loss is missing",
                "evidence": ""}
    return {"claim": number, "statement": statement,
            "verdict": (HOLDS if a > b else FAILS) + " (one training run each, no interval)",
            "evidence": f"final validation loss SP+FT {a:.4f} vs P+FT {b:.4f}"}


def evaluate_claims(hits: Hits, agents: list[str], eval_loss: Mapping[str, float | None],
                    n_boot: int, seed: int = 0) -> list[dict]:
    """``hits``: system -> (n_examples, 3) detector hits, with "human"; ``eval_loss``: variant -> loss."""
    return [*(evaluate_claim(c, hits, agents, n_boot, seed) for c in CLAIMS), loss_claim(eval_loss)]
