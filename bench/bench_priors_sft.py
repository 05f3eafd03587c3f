"""Priors and SFT sets on synthetic extraction rows (1M by default): rows/s per step.

Times build_priors once and build_sft for each requested variant, on a table drawn by
tests.support.synthetic_extractions (60% nulls per dimension, Zipf-like values, 3-turn contexts).
Also checks that a second build with the same seed is identical.

    .venv/bin/python bench/bench_priors_sft.py [--rows 1000000] [--agents 10000]
        [--variants ft,p_ft,sp_ft,sp_ft_no_personal] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--variants", default="ft,p_ft,sp_ft,sp_ft_no_personal")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from tests.support.synthetic_extractions import synthetic_extractions
    from vvae_pipeline.priors.build import build_priors
    from vvae_pipeline.sft.build import SFTParams, build_sft

    t = time.perf_counter()
    ext = synthetic_extractions(args.rows, n_agents=args.agents, seed=args.seed)
    print(f"synthetic table: {ext.height:,} rows in {time.perf_counter() - t:.1f} s")

    results: dict[str, dict] = {}
    t = time.perf_counter()
    priors, _, stats = build_priors(ext)
    dt = time.perf_counter() - t
    results["priors"] = {"seconds": round(dt, 2), "rows_per_s": round(ext.height / dt)}
    print(f"priors: {stats['n_prior_values']} values in {dt:.2f} s = {ext.height / dt:,.0f} rows/s")

    params = SFTParams(seed=args.seed)
    for variant in args.variants.split(","):
        t = time.perf_counter()
        df, st = build_sft(ext, "smollm2-135m", variant, params)
        dt = time.perf_counter() - t
        results[f"sft/{variant}"] = {
            "seconds": round(dt, 2),
            "rows_per_s": round(ext.height / dt),
            "examples": df.height,
            "splits": {k: v["examples"] for k, v in st["splits"].items()},
        }
        print(f"sft {variant}: {df.height:,} examples in {dt:.2f} s = {ext.height / dt:,.0f} rows/s "
              f"(splits {results[f'sft/{variant}']['splits']})")

    again, _ = build_sft(ext, "smollm2-135m", args.variants.split(",")[-1], params)
    results["deterministic"] = bool(again.equals(df))
    print(f"same seed, same dataset: {results['deterministic']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
