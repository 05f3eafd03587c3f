"""One benchmark report per backbone: Markdown + self-contained HTML with matplotlib images.

Sections: the closest variant in one sentence, CP/EC/HM per system vs the human targets (the same
detectors on the test split's human replies) and the paper's targets, the Euclidean distance of
(CP, EC, HM) to the human rates (smaller is better), the ablation matrix, loss curves from each
adapter's metrics.json, DialogBench-format accuracy, the encoder's quality numbers, decoding
parameters, a few sample outputs, and a comparison across backbones when others have reports.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from vvae_pipeline.evaluate.benchmark import PAPER_TARGETS
from vvae_pipeline.storage_io import atomic_write_bytes
from vvae_pipeline.variants import VARIANTS

DETECTOR_LABELS = {"cp": "CP", "ec": "EC", "hm": "HM"}


@dataclass
class ReportInputs:
    backbone: str
    summary: pl.DataFrame  # benchmark.score: system, label, kind, status, n, cp, ec, hm, distance
    human: dict  # detector rates of the human replies
    metrics: dict[str, dict] = field(default_factory=dict)  # variant -> metrics.json
    quality: dict[str, dict] = field(default_factory=dict)  # batch -> quality.json
    dialogbench: dict[str, dict] = field(default_factory=dict)  # system -> dialogbench.evaluate()
    dialogbench_note: str = ""
    settings: dict = field(default_factory=dict)  # decoding + benchmark parameters, verbatim
    samples: pl.DataFrame | None = None
    other_backbones: dict[str, list[dict]] = field(default_factory=dict)  # backbone -> summary rows


def _pct(x) -> str:
    return "-" if x is None else f"{100 * float(x):.2f}%"


def _num(x, digits: int = 4) -> str:
    return "-" if x is None else f"{float(x):.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[str(c).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc])


def closest_sentence(summary: pl.DataFrame) -> str:
    ok = summary.filter((pl.col("status") == "ok") & (pl.col("kind") != "human"))
    adapters = ok.filter(pl.col("kind") == "adapter").sort(["distance", "system"])
    if adapters.is_empty():
        return "No variant has a trained adapter, so no variant can be compared with the human targets."
    best_d = adapters["distance"][0]
    tied = adapters.filter(pl.col("distance") <= best_d + 1e-12).to_dicts()
    names = " and ".join(f"{r['label']} ({r['system']})" for r in tied)
    lead = "The variant closest to the human targets is" if len(tied) == 1 else \
        "The variants closest to the human targets (tied) are"
    text = f"{lead} {names}: Euclidean distance {best_d:.4f} over (CP, EC, HM), smaller is better."
    overall = ok.sort(["distance", "system"]).row(0, named=True)
    if overall["distance"] < best_d - 1e-12:
        text += f" Among all systems, {overall['label']} is closer still ({overall['distance']:.4f})."
    return text


# -- figures --------------------------------------------------------------------------------


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
        ax.bar(xs, [100 * r[d] for r in rows], width, label=DETECTOR_LABELS[d], color=colors[d])
        ax.axhline(100 * human[d], color=colors[d], linestyle="--", linewidth=1)
        ax.axhline(100 * PAPER_TARGETS[d], color=colors[d], linestyle=":", linewidth=1)
    ax.set_xticks(range(len(rows)), [r["system"] for r in rows], rotation=30, ha="right")
    ax.set_ylabel("detection rate (%)")
    ax.set_title("CP / EC / HM per system; dashed = human target, dotted = paper target")
    ax.legend(fontsize=8)
    return _fig_png(fig)


def loss_figure(metrics: dict[str, dict]) -> bytes | None:
    curves = {v: m for v, m in metrics.items() if m.get("train_loss") or m.get("eval_loss")}
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for i, (v, m) in enumerate(sorted(curves.items())):
        color = f"C{i}"
        for key, style in (("train_loss", "-"), ("eval_loss", "--")):
            pts = sorted((p["step"], p["loss"]) for p in m.get(key) or [])
            if pts:
                ax.plot(*zip(*pts, strict=True), style, color=color, marker="o" if len(pts) < 3 else None,
                        label=f"{v} {key.split('_')[0]}")
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


# -- sections -------------------------------------------------------------------------------


def _quality_table(quality: dict[str, dict]) -> str:
    from vvae_pipeline.latent import DIMENSION_NAMES

    blocks = []
    for batch, q in sorted(quality.items()):
        per_dim = next((v for v in (q, q.get("per_dimension"), q.get("dimensions")) if isinstance(v, dict)
                        and any(d in v for d in DIMENSION_NAMES)), None)
        if per_dim is None:
            blocks.append(f"batch `{batch}`:\n\n```json\n{json.dumps(q, indent=1, ensure_ascii=False)[:2000]}\n```")
            continue
        cols = sorted({k for d in DIMENSION_NAMES if isinstance(per_dim.get(d), dict) for k in per_dim[d]})
        rows = [[d] + [_num(per_dim[d].get(c), 3) if isinstance(per_dim[d].get(c), (int, float)) else
                       str(per_dim[d].get(c, "-")) for c in cols]
                for d in DIMENSION_NAMES if isinstance(per_dim.get(d), dict)]
        blocks.append(f"batch `{batch}`:\n\n" + _table(["dimension", *cols], rows))
    return "\n\n".join(blocks)


def _dialogbench_table(db: dict[str, dict]) -> str:
    tasks = sorted({t for r in db.values() for t in r["tasks"]})
    header = ["system"] + [f"{t} acc (rotation-debiased / per rotation / consistent)" for t in tasks]
    rows = []
    for system, r in db.items():
        cells = [system]
        for t in tasks:
            s = r["tasks"].get(t)
            cells.append("-" if s is None else f"{_pct(s['accuracy'])} / {_pct(s['accuracy_per_rotation'])} / "
                         f"{_pct(s['consistent'])} (n={s['n']}, chance {_pct(s['chance'])}, letters picked "
                         f"{s['picked_position']})")
        rows.append(cells)
    return _table(header, rows)


def markdown(inp: ReportInputs, images: dict[str, str]) -> str:
    """The report as Markdown; ``images`` maps figure name -> link (file name or data URI)."""
    s = inp.summary
    human_row = [["human replies (target)", _pct(inp.human["cp"]), _pct(inp.human["ec"]), _pct(inp.human["hm"]), "0"],
                 ["paper targets (reference)", *(_pct(PAPER_TARGETS[d]) for d in DETECTOR_LABELS), "-"]]
    sys_rows = [[f"{r['label']} (`{r['system']}`)" + ("" if r["status"] == "ok" else f": {r['status']}"),
                 _pct(r["cp"]), _pct(r["ec"]), _pct(r["hm"]), _num(r["distance"])]
                for r in s.filter(pl.col("kind") != "human").with_columns((pl.col("status") != "ok").alias("_missing"))
                 .sort(["_missing", "distance"], nulls_last=True).to_dicts()]
    out = [f"# Benchmark report: {inp.backbone}", "", f"**{closest_sentence(s)}**", "",
           f"Test examples: {int(inp.human['n'])}; persona reference = each agent's most frequent observed value "
           "per dimension (identical for human replies and every system).", "",
           "## CP / EC / HM against the human targets", "",
           _table(["system", "CP", "EC", "HM", "distance to human (smaller is better)"], human_row + sys_rows), ""]
    if "rates" in images:
        out += [f"![CP/EC/HM per system]({images['rates']})", ""]
    out += ["## Ablation matrix", ""]
    by_sys = {r["system"]: r for r in s.to_dicts()}
    abl = []
    for key, v in VARIANTS.items():
        r = by_sys.get(key)
        m = inp.metrics.get(key, {})
        abl.append([v.label, "yes" if v.use_persona else "no", "yes" if v.sample_nulls else "no", v.drop_axis or "-",
                    _pct(r and r["cp"]), _pct(r and r["ec"]), _pct(r and r["hm"]), _num(r and r["distance"]),
                    _num(m.get("final_eval_loss")), r["status"] if r else "no SFT set"])
    out += [_table(["variant", "persona", "nulls sampled", "axis dropped", "CP", "EC", "HM", "distance",
                    "final eval loss", "status"], abl), ""]
    if "ablation" in images:
        out += [f"![ablation heatmap]({images['ablation']})", ""]
    out += ["## Training", ""]
    if inp.metrics:
        out.append(_table(["variant", "steps", "final eval loss", "real tokens", "seconds"],
                          [[v, str(m.get("steps", "-")), _num(m.get("final_eval_loss")), str(m.get("real_tokens", "-")),
                            _num(m.get("seconds"), 1)] for v, m in sorted(inp.metrics.items())]))
        out.append("")
    else:
        out += ["No adapter metrics found.", ""]
    if "loss" in images:
        out += [f"![loss curves]({images['loss']})", ""]
    out += ["## DialogBench-format tasks", ""]
    out += [_dialogbench_table(inp.dialogbench) if inp.dialogbench else f"Skipped: {inp.dialogbench_note}", ""]
    out += ["## Encoder quality", ""]
    out += [_quality_table(inp.quality) if inp.quality else "No quality.json from the encoder stage was found.", ""]
    if inp.other_backbones:
        rows = [[bb, r["label"], _pct(r["cp"]), _pct(r["ec"]), _pct(r["hm"]), _num(r["distance"])]
                for bb, rs in sorted(inp.other_backbones.items()) for r in rs if r.get("status") == "ok"]
        out += ["## Across backbones", "", _table(["backbone", "system", "CP", "EC", "HM", "distance"], rows), ""]
    out += ["## Settings", "", "```json", json.dumps(inp.settings, indent=1, ensure_ascii=False, default=str), "```", ""]
    if inp.samples is not None and inp.samples.height:
        first = inp.samples["extraction_id"][0]
        ex = inp.samples.filter(pl.col("extraction_id") == first)
        out += ["## One test example, every system", "",
                _table(["system", "output", "CP", "EC", "HM"],
                       [[r["system"], r["output"][:160], str(r["cp"]), str(r["ec"]), str(r["hm"])] for r in ex.to_dicts()]),
                ""]
    return "\n".join(out)


def to_html(md: str, title: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head><body>{body}</body></html>"


def write_report(inp: ReportInputs, out_dir: Path) -> dict:
    """Write report.md (+ PNGs next to it), report.html (images inlined), summary.json, samples.parquet.

    Returns {"markdown_inline": the Markdown with data-URI images (for Dagster metadata),
    "paths": {name: path}, "closest": the closest-variant sentence}.
    """
    out_dir = Path(out_dir)
    figures = {"rates": rates_figure(inp.summary, inp.human), "loss": loss_figure(inp.metrics),
               "ablation": ablation_figure(inp.summary, inp.human)}
    figures = {k: v for k, v in figures.items() if v is not None}
    paths: dict[str, str] = {}
    for name, png in figures.items():
        atomic_write_bytes(out_dir / f"{name}.png", png)
        paths[f"{name}_png"] = str(out_dir / f"{name}.png")
    inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in figures.items()}
    md_files = markdown(inp, {k: f"{k}.png" for k in figures})
    md_inline = markdown(inp, inline)
    atomic_write_bytes(out_dir / "report.md", md_files.encode())
    atomic_write_bytes(out_dir / "report.html", to_html(md_inline, f"vvae benchmark: {inp.backbone}").encode())
    summary = {"backbone": inp.backbone, "human": inp.human, "paper_targets": PAPER_TARGETS,
               "systems": inp.summary.to_dicts(), "closest": closest_sentence(inp.summary),
               "dialogbench": {k: v["tasks"] for k, v in inp.dialogbench.items()}, "settings": inp.settings}
    atomic_write_bytes(out_dir / "summary.json", json.dumps(summary, indent=1, ensure_ascii=False, default=str).encode())
    paths.update(report_md=str(out_dir / "report.md"), report_html=str(out_dir / "report.html"),
                 summary_json=str(out_dir / "summary.json"))
    if inp.samples is not None:
        buf = io.BytesIO()
        inp.samples.write_parquet(buf)
        atomic_write_bytes(out_dir / "samples.parquet", buf.getvalue())
        paths["samples"] = str(out_dir / "samples.parquet")
    return {"markdown_inline": md_inline, "paths": paths, "closest": closest_sentence(inp.summary)}
