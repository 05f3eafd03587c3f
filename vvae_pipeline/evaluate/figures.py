"""The report's figures as PNG bytes (matplotlib, Agg): rates with intervals, loss curves, ablations."""

from __future__ import annotations

import io

import polars as pl

from vvae_pipeline.evaluate.benchmark import PAPER_TARGETS
from vvae_pipeline.train.stats import TrainStats

DETECTOR_LABELS = {"cp": "CP", "ec": "EC", "hm": "HM"}


def _fig_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def rates_figure(summary: pl.DataFrame, human: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary.filter((pl.col("status") == "ok") & (pl.col("kind") != "human")).to_dicts()
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 3.8))
    width = 0.27
    colors = {"cp": "tab:blue", "ec": "tab:orange", "hm": "tab:green"}
    for k, d in enumerate(DETECTOR_LABELS):
        xs = [i + (k - 1) * width for i in range(len(rows))]
        vals = [100 * r[d] for r in rows]
        bound = {s: [100 * (r[f"{d}_{s}"] if r.get(f"{d}_{s}") is not None else r[d]) for r in rows]
                 for s in ("lo", "hi")}
        err = [[max(0.0, v - lo) for v, lo in zip(vals, bound["lo"], strict=True)],
               [max(0.0, hi - v) for v, hi in zip(vals, bound["hi"], strict=True)]]
        ax.bar(xs, vals, width, yerr=err, capsize=2, label=DETECTOR_LABELS[d], color=colors[d])
        ax.axhline(100 * human[d], color=colors[d], linestyle="--", linewidth=1)
        ax.axhline(100 * PAPER_TARGETS[d], color=colors[d], linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [r["system"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("detection rate (%)")
    ax.set_title("CP / EC / HM per system (95% agent-bootstrap bars); dashed = human, dotted = paper")
    ax.legend(fontsize=8)
    return _fig_png(fig)


def loss_figure(train_stats: dict[str, TrainStats]) -> bytes | None:
    curves = {v: s for v, s in train_stats.items() if s.train_loss or s.eval_loss}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (v, s) in enumerate(sorted(curves.items())):
        color = f"C{i}"
        for name, points, style in (("train", s.train_loss, "-"), ("eval", s.eval_loss, "--")):
            pts = sorted((p.step, p.loss) for p in points)
            if pts:
                ax.plot(*zip(*pts, strict=True), style, color=color, marker="o" if len(pts) < 3 else None,
                        label=f"{v} {name}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("LoRA training (solid) and validation (dashed) loss")
    ax.legend(fontsize=7, ncol=2)
    return _fig_png(fig)


def ablation_figure(summary: pl.DataFrame, human: dict) -> bytes | None:
    rows = [r for r in summary.to_dicts() if r["kind"] == "adapter" and r["status"] == "ok"]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [[100 * (r[d] - human[d]) for d in DETECTOR_LABELS] for r in rows]
    span = max(1.0, max(abs(v) for row in grid for v in row))
    fig, ax = plt.subplots(figsize=(4.8, 0.45 * len(rows) + 1.2))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto")
    ax.set_xticks(range(3), list(DETECTOR_LABELS.values()))
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows])
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8,
                    color="white" if abs(v) > span / 2 else "black")
    ax.set_title("rate minus human target (points)")
    fig.colorbar(im, ax=ax)
    return _fig_png(fig)
