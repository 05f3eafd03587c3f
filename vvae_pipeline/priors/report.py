"""Human-readable views of the priors: a bar chart of the top values and Markdown tables.

matplotlib is imported inside ``plot_top_values`` (Agg backend, no display) so that loading
the code location stays fast.
"""

from __future__ import annotations

import base64
import io

import polars as pl

from vvae_pipeline.latent import BY_NAME, DIMENSION_NAMES
from vvae_pipeline.priors.build import top_values


def _label(value: str) -> str:
    """Non-ASCII values also show their first code points: the default font may lack the glyphs."""
    if value.isascii():
        return value
    return f"{value} [{' '.join(f'U+{ord(c):04X}' for c in value[:3])}]"


def plot_top_values(priors: pl.DataFrame, k: int = 5, dpi: int = 72) -> bytes:
    """PNG bytes: a 3x3 grid, one panel per dimension, its ``k`` most probable values.

    At 72 dpi the 12x9 inch grid is ~60 KB, small enough to embed in Dagster metadata.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tops = top_values(priors, k)
    fig, axes = plt.subplots(3, 3, figsize=(12, 9))
    for ax, dim in zip(axes.flat, DIMENSION_NAMES):
        pairs = tops.get(dim, [])
        if pairs:
            labels = [_label(v) for v, _ in pairs][::-1]
            ax.barh(range(len(pairs)), [p for _, p in pairs][::-1], color="#4C72B0")
            ax.set_yticks(range(len(pairs)), labels, fontsize=8)
            ax.set_xlim(0, 1)
        else:
            ax.text(0.5, 0.5, "no observed values", ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
        ax.set_title(f"{dim} ({BY_NAME[dim].axis})", fontsize=10)
    fig.suptitle(f"Top {k} prior values per dimension (probability)")
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # CJK and emoji glyphs may be missing from the default font; labels above carry code points.
        warnings.simplefilter("ignore")
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def png_markdown(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def stats_markdown(stats_df: pl.DataFrame) -> str:
    rows = [f"| {a} | {d} | {o} / {n} | {r:.1%} | {k} |"
            for a, d, n, o, r, k in stats_df.select("axis", "dimension", "n_rows", "n_observed", "null_rate",
                                                    "n_distinct").iter_rows()]
    return "| axis | dimension | observed / rows | null rate | distinct values |\n|---|---|---:|---:|---:|\n" \
        + "\n".join(rows)


def drift_markdown(drift: pl.DataFrame) -> str:
    rows = [f"| {d} | {j:.4f} | {'; '.join(t)} |" for d, j, t in drift.select("dimension", "jsd", "top_changes")
            .iter_rows()]
    return "| dimension | JSD (bits) | top changed values (p_old -> p_new) |\n|---|---:|---|\n" + "\n".join(rows)
