"""Two assumptions of V-VAE, measured on the extractions the priors are built from.

- **Missingness.** SP+FT fills a null dimension with a draw from the dimension's prior, which is
  right when a value is missing at random: whether the encoder left it null does not depend on who
  the speaker is. ``missingness`` gives the null rate per dimension, per axis (the share of examples
  whose whole axis is null) and per language, each with its Wilson 95% interval, and per dimension a
  permutation test of independence between the agent and the null indicator (chi-square statistic
  of the agent x {null, present} table; the p-value from ``n_perm`` seeded shuffles of the indicator,
  because most agents have a handful of examples and the chi-square approximation needs 5 per cell).
- **Orthogonality.** The three axes are meant to be separate factors. ``orthogonality`` gives, for
  every pair of dimensions, Cramér's V (scipy.stats.contingency.association) between their values
  over the examples where both are present, with that count; a pair with fewer than
  ``min_pairs`` such examples, or one value on either side, has no V (None).

Both read a persona_extractions-shaped table (the dimension columns, ``agent_id``, ``language``) and
return plain dicts; ``markdown`` renders them for the report and the Dagster metadata.
"""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl

from vvae_pipeline.latent import AXES, BY_NAME, DIMENSION_NAMES, dimensions_of
from vvae_pipeline.uncertainty import fmt_ci, wilson

SIGNIFICANCE = 0.05


def _rate(k: int, n: int) -> dict:
    lo, hi = wilson(k, n)
    return {"nulls": int(k), "n": int(n), "rate": (k / n) if n else None, "ci": [lo, hi]}


def chi2_statistic(groups: np.ndarray, flag: np.ndarray) -> float:
    """Pearson's chi-square of the groups x {flag, not flag} table (0 when either margin is constant)."""
    _, g = np.unique(groups, return_inverse=True)
    n = len(flag)
    counts = np.bincount(g)
    ones = np.bincount(g, weights=flag.astype(float), minlength=len(counts))
    p = flag.mean() if n else 0.0
    if p in (0.0, 1.0) or len(counts) < 2:
        return 0.0
    exp1, exp0 = counts * p, counts * (1 - p)
    return float((((ones - exp1) ** 2) / exp1).sum() + (((counts - ones - (exp0)) ** 2) / exp0).sum())


def agent_dependence(agents: np.ndarray, null: np.ndarray, n_perm: int = 2000, seed: int = 0) -> dict:
    """Permutation test of independence between agent and null indicator."""
    n_agents = len(np.unique(agents))
    if n_agents < 2 or null.all() or not null.any():
        return {"chi2": None, "p": None, "agents": n_agents, "testable": False}
    observed = chi2_statistic(agents, null)
    rng = np.random.default_rng(seed)
    hits = sum(chi2_statistic(agents, rng.permutation(null)) >= observed - 1e-12 for _ in range(n_perm))
    return {"chi2": observed, "p": (hits + 1) / (n_perm + 1), "agents": n_agents, "testable": True}


def missingness(ext: pl.DataFrame, n_perm: int = 2000, seed: int = 0) -> dict:
    n = ext.height
    null = {d: ext[d].is_null().to_numpy() for d in DIMENSION_NAMES}
    agents = ext["agent_id"].to_numpy()
    out: dict = {"n": n, "dimensions": {}, "axes": {}, "languages": {}}
    for d in DIMENSION_NAMES:
        out["dimensions"][d] = {**_rate(int(null[d].sum()), n), "axis": BY_NAME[d].axis,
                                "agent_dependence": agent_dependence(agents, null[d], n_perm, seed)}
    for axis in AXES:
        dims = list(dimensions_of(axis))
        whole = np.logical_and.reduce([null[d] for d in dims]) if n else np.zeros(0, bool)
        out["axes"][axis] = {**_rate(int(whole.sum()), n), "dimensions": dims}
    for lang in sorted(set(ext["language"].to_list())):
        sub = ext.filter(pl.col("language") == lang)
        out["languages"][lang] = {d: _rate(int(sub[d].is_null().sum()), sub.height) for d in DIMENSION_NAMES}
    return out


def cramers_v(a: list, b: list) -> float | None:
    """Cramér's V of two aligned categorical lists (None when either has one category)."""
    from scipy.stats.contingency import association, crosstab

    table = crosstab(np.asarray(a, dtype=object), np.asarray(b, dtype=object)).count
    if min(table.shape) < 2:
        return None
    return float(association(table, method="cramer"))


def orthogonality(ext: pl.DataFrame, min_pairs: int = 10) -> dict:
    """{"pairs": {"a|b": {"v", "n"}}, "min_pairs"} over every pair of dimensions."""
    pairs = {}
    for a, b in itertools.combinations(DIMENSION_NAMES, 2):
        both = ext.select(a, b).drop_nulls()
        v = cramers_v(both[a].to_list(), both[b].to_list()) if both.height >= min_pairs else None
        pairs[f"{a}|{b}"] = {"v": v, "n": both.height, "same_axis": BY_NAME[a].axis == BY_NAME[b].axis}
    return {"pairs": pairs, "min_pairs": min_pairs}


def _pct(r: dict) -> str:
    if r["rate"] is None:
        return "- (n 0)"
    return f"{fmt_ci(r['rate'], r['ci'], '.0%')} ({r['nulls']}/{r['n']})"


def markdown(miss: dict, orth: dict) -> str:
    lines = [f"**Missingness** ({miss['n']} extractions). Null rate with its Wilson 95% interval; "
             f"agent dependence: permutation test of agent x null (p < {SIGNIFICANCE}: the null rate depends on "
             "the agent, so SP+FT's missing-at-random assumption does not hold for that dimension).", "",
             "| dimension | axis | null rate | agent dependence |", "|---|---|---|---|"]
    for d, r in miss["dimensions"].items():
        dep = r["agent_dependence"]
        verdict = ("not testable (one agent, or all/none null)" if not dep["testable"] else
                   f"p {dep['p']:.3f} over {dep['agents']} agents"
                   + (" (depends on the agent)" if dep["p"] < SIGNIFICANCE else ""))
        lines.append(f"| {d} | {r['axis']} | {_pct(r)} | {verdict} |")
    lines += ["", "| axis (every dimension null) | rate |", "|---|---|"]
    lines += [f"| {a} | {_pct(r)} |" for a, r in miss["axes"].items()]
    langs = list(miss["languages"])
    if langs:
        lines += ["", "| dimension | " + " | ".join(langs) + " |", "|---|" + "---|" * len(langs)]
        lines += [f"| {d} | " + " | ".join(_pct(miss["languages"][lg][d]) for lg in langs) + " |"
                  for d in DIMENSION_NAMES]
    lines += ["", f"**Orthogonality.** Cramér's V between two dimensions' values where both are present "
                  f"(0 independent, 1 one determines the other); pairs with fewer than {orth['min_pairs']} such "
                  "examples or a single value are left out. Values fixed per agent (a catchphrase, an emoji) "
                  "associate through the agent: V near 1 between two of them says both identify the agent, "
                  "not that one axis explains the other.", "",
              "| pair | same axis | Cramér's V | n |", "|---|---|---|---|"]
    shown = [(k, p) for k, p in orth["pairs"].items() if p["v"] is not None]
    lines += [f"| {k.replace('|', ' x ')} | {'yes' if p['same_axis'] else 'no'} | {p['v']:.2f} | {p['n']} |"
              for k, p in sorted(shown, key=lambda kp: -kp[1]["v"])]
    if not shown:
        lines.append(f"| (no pair has {orth['min_pairs']} examples with both present) | | | |")
    return "\n".join(lines)


def heatmap_png(orth: dict, dpi: int = 72) -> bytes:
    """PNG bytes: Cramér's V per pair of dimensions as a heatmap (blank: no V); ~25 KB at 72 dpi,
    small enough to embed in Dagster metadata."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(DIMENSION_NAMES)
    grid = np.full((k, k), np.nan)
    for i, a in enumerate(DIMENSION_NAMES):
        grid[i, i] = 1.0
        for j, b in enumerate(DIMENSION_NAMES[i + 1:], start=i + 1):
            v = orth["pairs"][f"{a}|{b}"]["v"]
            if v is not None:
                grid[i, j] = grid[j, i] = v
    fig, ax = plt.subplots(figsize=(6, 5), dpi=dpi)
    im = ax.imshow(grid, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(k), DIMENSION_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(k), DIMENSION_NAMES)
    fig.colorbar(im, ax=ax, label="Cramér's V")
    ax.set_title("association between dimensions")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def persona_structure(extractions: pl.DataFrame, n_perm: int = 2000, seed: int = 0) -> dict:
    """Missingness and orthogonality of the usable extractions (failed ones left out, values in
    canonical form, as the priors see them)."""
    from vvae_pipeline.priors.build import normalize_persona_columns, usable_rows

    usable = usable_rows(extractions)
    table = pl.concat([normalize_persona_columns(usable.select(DIMENSION_NAMES)),
                       usable.select("agent_id", "language")], how="horizontal")
    return {"missingness": missingness(table, n_perm, seed), "orthogonality": orthogonality(table)}
