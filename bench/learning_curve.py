"""P+FT's catchphrase rate against training steps, on the test prompts of a finished main-job run.

Reads a run's home (``$VVAE_HOME`` of ``python -m assets.main``): the SFT tables, the test-time
personas and the kept checkpoints of one variant's adapter (``reproduce`` keeps one every 15 steps).
For every checkpoint and the final adapter it generates greedily on that variant's test prompts
(the benchmark's own plan: test-time z inferred from the context, never from x) and prints the CP
rate with a Wilson 95% interval next to the human replies' rate. One run, one table: what limits a
claim (data, steps, model) shows as a curve that is still moving, flat, or never near the human rate.

    .venv/bin/python bench/learning_curve.py --home /path/to/home [--variant p_ft] [--decoding JSON]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run as a script from a checkout


def main(argv=None) -> int:
    import polars as pl

    from vvae_pipeline.evaluate import benchmark, detectors
    from vvae_pipeline.llm.generation import HFGenerator
    from vvae_pipeline.llm.models import resolve_model_path
    from vvae_pipeline.params import BenchmarkParams, DecodingParams
    from vvae_pipeline.sft.build import train_prior
    from vvae_pipeline.uncertainty import wilson

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--variant", default="p_ft")
    ap.add_argument("--max-test-prompts", type=int, default=1000)
    ap.add_argument("--decoding", help="DecodingParams as JSON; default: the decoding the run's report used "
                    "(its summary.json), so the final point reproduces the report's rate")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)

    home = Path(args.home)
    sft_dir = home / "tables" / "sft_dataset" / args.backbone
    sft = pl.concat([pl.read_parquet(p) for p in sorted(sft_dir.glob("*.parquet"))], how="diagonal_relaxed")
    test_rows = pl.read_parquet(home / "tables" / "test_personas" / f"{args.backbone}.parquet")
    summary = home / "artifacts" / "benchmark_report" / args.backbone / "summary.json"
    if args.decoding:
        decoding = DecodingParams(**json.loads(args.decoding))
    elif summary.exists():
        decoding = DecodingParams(**json.loads(summary.read_text())["settings"]["decoding"])
    else:
        ap.error(f"{summary} not found: run the report first, or pass --decoding")
    params = BenchmarkParams(max_test_prompts=args.max_test_prompts, shots=(), include_base=False,
                             oracle_diagnostic=False, decoding=decoding)
    plan = benchmark.plan(test_rows, sft, train_prior(sft), {args.variant: True}, params)
    prompts = next(j.prompts for j in plan.jobs if j.system == args.variant)
    personas, replies = plan.personas, plan.examples["reply"].to_list()

    run_dir = home / "artifacts" / "lora_checkpoint" / args.backbone / args.variant
    ckpts = sorted(run_dir.glob("checkpoints/checkpoint-*"), key=lambda p: int(re.sub(r"\D", "", p.name)))
    points = [(int(re.sub(r"\D", "", p.name)), p) for p in ckpts]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    final_step = int(metrics.get("steps", -1))
    # The last checkpoint is the final adapter when the run ends on a save step: score it once.
    points = [(s, p) for s, p in points if s != final_step] + [(final_step, run_dir / "adapter")]
    gen = HFGenerator(resolve_model_path(args.backbone, home / "models"))

    def cp(texts):
        k = sum(detectors.detect(t or "", p)["cp"] for t, p in zip(texts, personas, strict=True))
        lo, hi = wilson(k, len(texts))
        return k, len(texts), lo, hi

    rows = [{"step": 0, "what": "base (no adapter)", **dict(zip(("k", "n", "lo", "hi"),
                                                              cp(gen.generate(prompts, params.decoding))))}]
    for step, path in points:
        out = gen.generate_all({str(path): (str(path), prompts)}, params.decoding)[str(path)]
        rows.append({"step": step, "what": path.name, **dict(zip(("k", "n", "lo", "hi"), cp(out)))})
    human = dict(zip(("k", "n", "lo", "hi"), cp(replies)))
    print(f"decoding: {json.dumps(decoding.as_dict())}")
    print(f"{args.variant} CP on {len(prompts)} test prompts ({plan.examples['agent_id'].n_unique()} test agents); "
          f"human replies: {human['k']}/{human['n']} = {human['k'] / human['n']:.1%} "
          f"[{human['lo']:.1%}, {human['hi']:.1%}]")
    print("| step | adapter | CP | 95% Wilson |\n|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} | {r['what']} | {r['k']}/{r['n']} = {r['k'] / r['n']:.1%} "
            f"| [{r['lo']:.1%}, {r['hi']:.1%}] |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"human": human, "curve": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
