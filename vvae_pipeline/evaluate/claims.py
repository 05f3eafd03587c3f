"""The paper's six claims, each tested on this run's numbers: holds / does not hold / not resolved.

Every verdict that compares rates or distances rests on a 95% agent-bootstrap interval of a paired
difference (same test prompts for all systems): it is only "holds" or "does not hold" when the
interval excludes zero. Claim 6 compares two final validation losses from one training run each;
there is no interval for it, and the verdict says so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vvae_pipeline.evaluate import intervals
from vvae_pipeline.uncertainty import bootstrap_ci
from vvae_pipeline.variants import VARIANTS

CP = 0  # column of the catchphrase detector in a hits matrix
# The three SP+FT ablations, talking style first (claim 5 compares it with the other two).
ABLATIONS = ("sp_ft_no_talking", "sp_ft_no_interaction", "sp_ft_no_personal")
assert all(a in VARIANTS for a in ABLATIONS), "claims.ABLATIONS must name registered variants"
HOLDS, FAILS, UNRESOLVED, UNTESTED = "holds", "does not hold", "not resolved", "not tested"


def _sign_verdict(lo: float, hi: float, positive_holds: bool = True) -> str:
    if lo > 0:
        return HOLDS if positive_holds else FAILS
    if hi < 0:
        return FAILS if positive_holds else HOLDS
    return UNRESOLVED


def _cp_rate(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(n_boot,) CP rate of hits ``h`` under the resample weights ``w`` (n_boot, n_examples)."""
    total = w.sum(axis=1)
    return (w @ h[:, CP]) / np.where(total > 0, total, 1.0)


def _cp_diff(hits: Mapping[str, np.ndarray], a: str, b: str, agents: list[str], n_boot: int,
             seed: int) -> tuple[float, tuple[float, float]]:
    ci = bootstrap_ci(lambda w: _cp_rate(hits[a], w) - _cp_rate(hits[b], w), agents, n_boot, seed)
    return float(hits[a][:, CP].mean() - hits[b][:, CP].mean()), ci


def _fmt(point: float, ci: tuple[float, float]) -> str:
    return f"{point:+.1%} (95% CI {ci[0]:+.1%} to {ci[1]:+.1%})"


def evaluate_claims(hits: Mapping[str, np.ndarray], agents: list[str], eval_loss: Mapping[str, float | None],
                    n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """``hits``: system -> (n_examples, 3) detector hits, with "human"; ``eval_loss``: variant -> loss."""
    out: list[dict] = []

    def need(*systems) -> str | None:
        missing = [s for s in systems if s not in hits]
        return f"{UNTESTED}: no {', '.join(missing)} outputs in this run" if missing else None

    def add(n, claim, verdict, evidence):
        out.append({"claim": n, "statement": claim, "verdict": verdict, "evidence": evidence})

    # (1) P+FT shows the catchphrase far above the human rate (paper: CP 50-53% vs 8.6%).
    c = "P+FT shows the catchphrase far above the human rate"
    if (m := need("p_ft")):
        add(1, c, m, "")
    else:
        d, ci = _cp_diff(hits, "p_ft", "human", agents, n_boot, seed)
        add(1, c, _sign_verdict(*ci), f"CP(P+FT) - CP(human) = {_fmt(d, ci)}")
    # (2) SP+FT's distance to the human rates is smaller than P+FT's.
    c = "SP+FT's distance to the human rates is smaller than P+FT's"
    if (m := need("sp_ft", "p_ft")):
        add(2, c, m, "")
    else:
        diff = intervals.paired_difference(hits["sp_ft"], hits["p_ft"], hits["human"], agents, n_boot, seed)
        add(2, c, _sign_verdict(*diff["ci"], positive_holds=False),
            f"distance(SP+FT) - distance(P+FT) = {diff['difference']:+.3f} "
            f"(95% CI {diff['ci'][0]:+.3f} to {diff['ci'][1]:+.3f})")
    # (3) FT stays below the human rate on CP.
    c = "FT stays below the human rate on CP"
    if (m := need("ft")):
        add(3, c, m, "")
    else:
        d, ci = _cp_diff(hits, "ft", "human", agents, n_boot, seed)
        add(3, c, _sign_verdict(*ci, positive_holds=False), f"CP(FT) - CP(human) = {_fmt(d, ci)}")
    # (4) The 0-shot persona prompt over-injects the catchphrase (paper: 78-84% vs 8.57%).
    c = "the 0-shot persona prompt over-injects the catchphrase"
    if (m := need("0-shot")):
        add(4, c, m, "")
    else:
        d, ci = _cp_diff(hits, "0-shot", "human", agents, n_boot, seed)
        add(4, c, _sign_verdict(*ci), f"CP(0-shot) - CP(human) = {_fmt(d, ci)}")
    # (5) Removing the talking-style axis moves CP the most of the three ablations.
    c = "removing the talking-style axis moves CP the most"
    abl = ABLATIONS
    if (m := need("sp_ft", *abl)):
        add(5, c, m, "")
    else:
        def margin(w: np.ndarray) -> np.ndarray:
            moved = {a: np.abs(_cp_rate(hits[a], w) - _cp_rate(hits["sp_ft"], w)) for a in abl}
            return moved[abl[0]] - np.maximum(moved[abl[1]], moved[abl[2]])
        lo, hi = bootstrap_ci(margin, agents, n_boot, seed)
        points = {a: abs(hits[a][:, CP].mean() - hits["sp_ft"][:, CP].mean()) for a in abl}
        add(5, c, _sign_verdict(lo, hi), "|CP change vs SP+FT|: " + ", ".join(f"{a} {v:.1%}" for a, v in points.items())
            + f"; margin of talking over the larger other: 95% CI {lo:+.1%} to {hi:+.1%}")
    # (6) SP+FT's validation loss is above P+FT's (sampled personas are harder to fit).
    c = "SP+FT's validation loss is above P+FT's"
    a, b = eval_loss.get("sp_ft"), eval_loss.get("p_ft")
    if a is None or b is None:
        add(6, c, f"{UNTESTED}: a validation loss is missing", "")
    else:
        add(6, c, (HOLDS if a > b else FAILS) + " (one training run each, no interval)",
            f"final validation loss SP+FT {a:.4f} vs P+FT {b:.4f}")
    return out
