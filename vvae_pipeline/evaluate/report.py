"""One benchmark report per backbone: Markdown + self-contained HTML with matplotlib images.

Sections: the headline verdict (stated only as far as the intervals allow), CP/EC/HM per system
with 95% intervals vs the human replies of the test split and the paper's targets, the distance of
(CP, EC, HM) to the human rates (smaller is better), paired comparisons, the paper's claims,
week over week, the ablation matrix, training, DialogBench-format accuracy, the encoder's
quality, settings and one example answered by every system.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from vvae_pipeline.encode.quality import QUALITY_FILE
from vvae_pipeline.evaluate.benchmark import PAPER_TARGETS
from vvae_pipeline.evaluate.figures import (
    DETECTOR_LABELS,
    ablation_figure,
    loss_figure,
    rates_figure,
)
from vvae_pipeline.evaluate.run import PROTOCOLS, BenchmarkResult
from vvae_pipeline.evaluate.systems import HUMAN
from vvae_pipeline.storage_io import atomic_write_bytes, atomic_write_json
from vvae_pipeline.uncertainty import fmt_ci, wilson
from vvae_pipeline.variants import VARIANTS


def _pct(x) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _num(x, digits: int = 4) -> str:
    return "-" if x is None else f"{float(x):.{digits}f}"


def _row_ci(r: dict, key: str, spec: str = ".3f") -> str:
    """A summary row's ``key`` with its interval (``key``_lo, ``key``_hi)."""
    return fmt_ci(r.get(key), (r.get(f"{key}_lo"), r.get(f"{key}_hi")), spec)


def _nulls_filled(v) -> str:
    """How a variant fills nulls: "no", "prior", "prior, 25%", "agent mode"."""
    if not v.sample_nulls:
        return "no"
    if v.fill_from == "agent_mode":
        return "agent mode"
    return "prior" if v.sample_rate >= 1 else f"prior, {v.sample_rate:.0%}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[str(c).replace("|", "\\|").replace("\n", " ") for c in r] for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc])


def _rates_table(s: pl.DataFrame) -> str:
    rows = []
    order = s.with_columns(_missing=pl.col("status") != "ok", _human=pl.col("kind") != "human")
    for r in order.sort(["_human", "_missing", "distance"], nulls_last=True).to_dicts():
        name = f"{r['label']} (`{r['system']}`)" + ("" if r["status"] == "ok" else f": {r['status']}")
        rows.append([name, *(_row_ci(r, d, ".1%") for d in DETECTOR_LABELS), _row_ci(r, "distance"),
                     str(r.get("n") or 0)])
    rows.append(["paper targets (reference)", *(_pct(PAPER_TARGETS[d]) for d in DETECTOR_LABELS), "-", "-"])
    return _table(["system", "CP [95% CI]", "EC [95% CI]", "HM [95% CI]", "distance to human [95% CI]", "n"], rows)


def _dialogbench_table(db: dict[str, dict]) -> str:
    tasks = sorted({t for r in db.values() for t in r["tasks"]})
    rows = []
    for system, r in db.items():
        cells = [system]
        for t in tasks:
            s = r["tasks"].get(t)
            if s is None:
                cells.append("-")
                continue
            ci = wilson(round(s["accuracy"] * s["n"]), s["n"])
            cells.append(f"{fmt_ci(s['accuracy'], ci, '.1%')} (n={s['n']}, chance {_pct(s['chance'])})")
        rows.append(cells)
    return _table(["system", *[f"{t} accuracy, rotation-debiased [Wilson 95%]" for t in tasks]], rows)


def load_encoder_quality(folder: Path) -> dict[str, dict]:
    """Every batch's encoder quality (``<artifacts>/persona_extractions/<batch>/`` ``QUALITY_FILE``,
    written when a batch has a truth file), keyed by batch."""
    out = {}
    for path in sorted(Path(folder).glob(f"*/{QUALITY_FILE}")):
        try:
            out[path.parent.name] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return out


def load_persona_structure(path: Path) -> dict:
    """persona_priors' ``structure.json`` (vvae_pipeline.priors.structure), {} when absent."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _structure_block(structure: dict) -> str:
    from vvae_pipeline.priors.structure import markdown as structure_markdown

    if not structure:
        return "Not available (persona_priors wrote no structure.json)."
    return structure_markdown(structure["missingness"], structure["orthogonality"])


def _f1(m: dict | None) -> str:
    return fmt_ci((m or {}).get("f1"), (m or {}).get("f1_ci"), ".2f")


def _quality_block(quality: dict) -> str:
    from vvae_pipeline.encode import capabilities

    out = ["Measured on real labelled dialogue (bench/bench_encoder_quality.py; rule in "
           "vvae_pipeline/encode/capabilities.py): a dimension is answered only where the encoder's precision "
           "beats the majority class's on every labelled corpus; the others stay null (SP+FT samples them from "
           "the prior).", "", capabilities.markdown(), ""]
    if not quality:
        return "\n".join(out + ["No encoder quality was measured on this run's own batches (no truth file named)."])
    for batch, q in quality.items():
        out += [f"Batch `{batch}`, {q.get('engine', '?')} `{q.get('model', '?')}`: macro F1 {q.get('macro_f1')} over "
                f"{q.get('n_matched', '?')} extractions matched to the truth.", ""]
        rows = [[d, _f1(m), _f1(m.get("baselines", {}).get("majority")), _f1(m.get("baselines", {}).get("always_null")),
                 f"{m.get('null_rate', 0):.0%} / {m.get('true_null_rate', 0):.0%}"]
                for d, m in q.get("dimensions", {}).items()]
        out += [_table(["dimension", "F1 [95% CI]", "majority value", "always null", "null rate / true"], rows), ""]
    return "\n".join(out)


def _comparisons_table(comparisons: list[dict]) -> str:
    return _table(["a", "b", "distance(a) - distance(b) [95% CI]", "verdict"],
                  [[c["a"], c["b"], fmt_ci(c["difference"], c["ci"], "+.3f"), c["verdict"]]
                   for c in comparisons]) if comparisons else "No pair of systems to compare."


def _claims_table(claims: list[dict]) -> str:
    return _table(["#", "claim", "verdict", "evidence"],
                  [[str(c["claim"]), c["statement"], c["verdict"], c["evidence"]] for c in claims])


def _protocol_sentence(res: BenchmarkResult) -> str:
    """Which test-time persona the headline uses, and why."""
    main = PROTOCOLS.get(res.protocol, res.protocol)
    if not res.other_protocols:
        return (f"Protocol: test-time persona {main}. The data declares no profile for a test agent, so the "
                "paper's declared-profile protocol cannot be scored.")
    other = ", ".join(PROTOCOLS.get(k, k) for k in res.other_protocols)
    return (f"Protocol: the headline, claims and promotion use the test-time persona {main}; the same adapters "
            f"under {other} are in the section after the claims.")


def _other_protocols(res: BenchmarkResult) -> list[str]:
    out = []
    for name, p in res.other_protocols.items():
        out += [f"## The other protocol: test-time persona {PROTOCOLS.get(name, name)}", "",
                f"Test-time persona: {p.test_persona}. Same test examples, adapters, decoding and detectors.", "",
                f"**{p.headline}**", "", _rates_table(p.summary), "", "Paired comparisons:", "",
                _comparisons_table(p.comparisons), "", "The paper's claims under this protocol:", "",
                _claims_table(p.claims), ""]
    return out


def _figure(images: dict[str, str], name: str, alt: str) -> list[str]:
    return [f"![{alt}]({images[name]})", ""] if name in images else []


def _intro(res: BenchmarkResult) -> list[str]:
    n = int(res.summary.filter(pl.col("system") == HUMAN)["n"][0])
    n_agents = res.samples.filter(pl.col("system") == HUMAN)["agent_id"].n_unique() if res.samples.height else 0
    persona = res.settings.get("test_persona", "inferred from c")
    reference = res.settings.get("reference_persona", "the agent's most frequent observed value")
    return [f"# Benchmark report: {res.backbone}", "", f"**{res.headline}**", "",
            f"{n} test examples from {n_agents} test agents (agent-disjoint from training). Test-time persona: "
            f"{persona} (never from the target reply). Persona reference for the detectors, per dimension: "
            f"{reference} (the same for human replies and every system). Intervals: 95%, percentile bootstrap over "
            "test agents.", "", _protocol_sentence(res), ""]


def _rates_section(res: BenchmarkResult, images: dict[str, str]) -> list[str]:
    return ["## CP / EC / HM against the human replies", "", _rates_table(res.summary), "",
            *_figure(images, "rates", "CP/EC/HM per system"),
            "## Paired comparisons (same prompts)", "", _comparisons_table(res.comparisons), "",
            "## The paper's claims on this run", "", _claims_table(res.claims), ""]


def _week_over_week_section(res: BenchmarkResult) -> list[str]:
    table = _table(["system", "distance then [95% CI]", "distance now [95% CI]", "change"],
                   [[w["system"], fmt_ci(w["distance_then"], w["ci_then"]), fmt_ci(w["distance_now"], w["ci_now"]),
                     w["change"]] for w in res.week_over_week])
    return ["## Week over week (previous materialization of this backbone)", "",
            table if res.week_over_week else "First report of this backbone.", ""]


def _ablation_section(res: BenchmarkResult, images: dict[str, str]) -> list[str]:
    by_sys = {r["system"]: r for r in res.summary.to_dicts()}
    rows = []
    for key, v in VARIANTS.items():
        r, stats = by_sys.get(key) or {}, res.train_stats.get(key)
        rows.append([v.label, "yes" if v.use_persona else "no", _nulls_filled(v), v.drop_axis or "-",
                     f"{v.corrupt:.0%}" if v.corrupt else "-", *(_row_ci(r, d, ".1%") for d in DETECTOR_LABELS),
                     _num(r.get("distance"), 3), _num(stats.final_eval_loss if stats else None),
                     r.get("status", "no SFT set")])
    header = ["variant", "persona", "nulls filled", "axis dropped", "values corrupted", "CP", "EC", "HM", "distance",
              "final eval loss", "status"]
    return ["## Ablation matrix", "", _table(header, rows), "", *_figure(images, "ablation", "ablation heatmap")]


def _training_section(res: BenchmarkResult, images: dict[str, str]) -> list[str]:
    table = _table(["variant", "steps", "epochs", "final eval loss", "real tokens", "seconds"],
                   [[v, str(s.steps), _num(s.epochs, 2), _num(s.final_eval_loss), str(s.real_tokens),
                     _num(s.seconds, 1)] for v, s in sorted(res.train_stats.items())])
    return ["## Training", "", table if res.train_stats else "No adapter metrics found.", "",
            *_figure(images, "loss", "loss curves")]


def _data_sections(res: BenchmarkResult) -> list[str]:
    """DialogBench, the encoder's quality and the persona structure."""
    return ["## DialogBench-format tasks", "",
            _dialogbench_table(res.dialogbench) if res.dialogbench else f"Skipped: {res.dialogbench_note}", "",
            "## Encoder quality", "", _quality_block(res.encoder_quality), "",
            "## Persona structure: missingness and orthogonality (training extractions)", "",
            _structure_block(res.persona_structure), ""]


def _settings_section(res: BenchmarkResult) -> list[str]:
    settings = json.dumps({**res.settings, "seconds": res.seconds}, indent=1, ensure_ascii=False, default=str)
    return ["## Settings", "", "```json", settings, "```", ""]


def _example_section(res: BenchmarkResult) -> list[str]:
    if not res.samples.height:
        return []
    first = res.samples["extraction_id"][0]
    rows = [[r["system"], r["output"][:160], str(r["cp"]), str(r["ec"]), str(r["hm"])]
            for r in res.samples.filter(pl.col("extraction_id") == first).to_dicts()]
    return ["## One test example, every system", "", _table(["system", "output", "CP", "EC", "HM"], rows), ""]


def markdown(res: BenchmarkResult, images: dict[str, str]) -> str:
    """The report as Markdown; ``images`` maps figure name -> link (file name or data URI)."""
    return "\n".join([*_intro(res), *_rates_section(res, images), *_other_protocols(res),
                      *_week_over_week_section(res), *_ablation_section(res, images),
                      *_training_section(res, images), *_data_sections(res), *_settings_section(res),
                      *_example_section(res)])


def to_html(md: str, title: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head>"
            f"<body>{body}</body></html>")


def summary_of(res: BenchmarkResult) -> dict:
    """summary.json: every number of the report as JSON (what the promotion, MLflow and next week's
    week over week read)."""
    return {
        "backbone": res.backbone, "human": res.human, "paper_targets": PAPER_TARGETS,
        "systems": res.summary.to_dicts(), "headline": res.headline, "comparisons": res.comparisons,
        "claims": res.claims, "week_over_week": res.week_over_week, "protocol": res.protocol,
        "other_protocols": {k: {"systems": p.summary.to_dicts(), "headline": p.headline, "comparisons": p.comparisons,
                                "claims": p.claims, "test_persona": p.test_persona}
                            for k, p in res.other_protocols.items()},
        "dialogbench": {k: v["tasks"] for k, v in res.dialogbench.items()},
        "dialogbench_note": res.dialogbench_note,  # why it did not run, when it did not
        # per item, same item order for every system: what a paired accuracy difference needs
        "dialogbench_correct": {k: [bool(i["correct"]) for i in v.get("items", [])]
                                for k, v in res.dialogbench.items()},
        "settings": res.settings,
        "seconds": res.seconds}


@dataclass(frozen=True)
class ReportFiles:
    """The files of one benchmark report under ``out_dir`` (``<artifacts>/benchmark_report/<backbone>``);
    ``write_report`` writes them, the promotion and bench/learning_curve.py read ``summary``."""

    out_dir: Path

    def __post_init__(self):
        object.__setattr__(self, "out_dir", Path(self.out_dir))

    @property
    def markdown(self) -> Path:
        """The report with its figures as PNG files next to it."""
        return self.out_dir / "report.md"

    @property
    def html(self) -> Path:
        """The same report with the figures inlined."""
        return self.out_dir / "report.html"

    @property
    def summary(self) -> Path:
        """``summary_of`` as JSON."""
        return self.out_dir / "summary.json"

    @property
    def samples(self) -> Path:
        """Every generated reply with its detector labels (parquet)."""
        return self.out_dir / "samples.parquet"

    def figure(self, name: str) -> Path:
        return self.out_dir / f"{name}.png"

    def read_summary(self) -> dict:
        return json.loads(self.summary.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class WrittenReport:
    """What ``write_report`` wrote."""

    markdown_inline: str  # the Markdown with data-URI images (for Dagster metadata)
    paths: dict[str, str]  # report_md, report_html, summary_json, samples and one <figure>_png per figure
    headline: str  # the headline verdict
    summary: dict  # the content of summary.json (``summary_of``, as read back from JSON)


def write_report(res: BenchmarkResult, out_dir: Path) -> WrittenReport:
    """Write report.md (+ one PNG per figure next to it), report.html (images inlined), summary.json
    and samples.parquet into ``out_dir``."""
    files = ReportFiles(out_dir)
    figures = {"rates": rates_figure(res.summary, res.human), "loss": loss_figure(res.train_stats),
               "ablation": ablation_figure(res.summary, res.human)}
    figures = {k: v for k, v in figures.items() if v is not None}
    paths: dict[str, str] = {}
    for name, png in figures.items():
        atomic_write_bytes(files.figure(name), png)
        paths[f"{name}_png"] = str(files.figure(name))
    inline = {k: "data:image/png;base64," + base64.b64encode(v).decode() for k, v in figures.items()}
    md_inline = markdown(res, inline)
    atomic_write_bytes(files.markdown, markdown(res, {k: files.figure(k).name for k in figures}).encode())
    atomic_write_bytes(files.html, to_html(md_inline, f"vvae benchmark: {res.backbone}").encode())
    # Through JSON once, so the caller holds exactly what a reader of summary.json gets (tuples as lists).
    summary = json.loads(json.dumps(summary_of(res), ensure_ascii=False, default=str))
    atomic_write_json(files.summary, summary)
    buf = io.BytesIO()
    res.samples.write_parquet(buf)
    atomic_write_bytes(files.samples, buf.getvalue())
    paths.update(report_md=str(files.markdown), report_html=str(files.html), summary_json=str(files.summary),
                 samples=str(files.samples))
    return WrittenReport(md_inline, paths, res.headline, summary)


def headline_numbers(res: BenchmarkResult) -> dict[str, float]:
    """Every headline number as a float, keyed ``system/measure``: rates, their interval bounds,
    the distance to the human rates and its bounds, and DialogBench accuracy per task."""
    nums: dict[str, float] = {}
    for r in res.summary.filter(pl.col("status") == "ok").iter_rows(named=True):
        for d in (*DETECTOR_LABELS, "distance"):
            for suffix in ("", "_lo", "_hi"):
                if r.get(d + suffix) is not None:
                    nums[f"{r['system']}/{d}{suffix}"] = float(r[d + suffix])
    for c in res.comparisons:
        nums[f"compare/{c['a']}-{c['b']}/distance_difference"] = float(c["difference"])
    for system, db in res.dialogbench.items():
        for task, s in db["tasks"].items():
            nums[f"dialogbench/{system}/{task}"] = float(s["accuracy"])
    return nums
