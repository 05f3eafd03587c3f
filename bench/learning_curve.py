"""One variant's catchphrase rate and validation loss against training steps, on a finished main-job run.

Reads a run's home (``$VVAE_HOME`` of ``python -m assets.main``): the SFT tables, the test-time
personas, the declared profiles and the kept checkpoints of one variant's adapter (``reproduce``
keeps one every 15 steps). For every checkpoint and the final adapter it
- computes the validation loss (mean over the validation split's target tokens, masked as in
  training), the number a step count is chosen by, and
- generates greedily on that variant's test prompts under the report's headline protocol
  (``--protocol``: the agents' declared profiles, the paper's protocol, or the z inferred from the
  context; never from x) and prints the CP rate with a Wilson 95% interval next to the human
  replies' rate.
One run, one table: what limits a claim (data, steps, model) shows as a curve that is still moving,
flat, or never near the human rate. The step count is read from the validation loss column alone.

    .venv/bin/python bench/learning_curve.py --home /path/to/home [--variant p_ft] [--protocol declared]
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

    from vvae_pipeline.encode.profiles import declared_dicts
    from vvae_pipeline.evaluate import benchmark, detectors
    from vvae_pipeline.evaluate.report import ReportFiles
    from vvae_pipeline.evaluate.run import protocol_rows
    from vvae_pipeline.llm.generation import HFGenerator
    from vvae_pipeline.llm.models import resolve_model_path
    from vvae_pipeline.params import BenchmarkParams, DecodingParams
    from vvae_pipeline.sft.build import train_prior
    from vvae_pipeline.train.artifacts import RunArtifacts
    from vvae_pipeline.train.stats import TrainStats
    from vvae_pipeline.uncertainty import wilson

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", required=True)
    ap.add_argument("--backbone", default="smollm2-135m")
    ap.add_argument("--variant", default="p_ft")
    ap.add_argument("--max-test-prompts", type=int, default=1000)
    ap.add_argument("--decoding", help="DecodingParams as JSON; default: the decoding the run's report used "
                    "(its summary.json), so the final point reproduces the report's rate")
    ap.add_argument("--protocol", choices=("declared", "context"),
                    help="test-time persona; default: the run's headline protocol (its summary.json)")
    ap.add_argument("--loss-only", action="store_true",
                    help="only the validation loss per checkpoint (no generation; no report needed)")
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args(argv)

    home = Path(args.home)
    sft_dir = home / "tables" / "sft_dataset" / args.backbone
    sft = pl.concat([pl.read_parquet(p) for p in sorted(sft_dir.glob("*.parquet"))], how="diagonal_relaxed")
    run = RunArtifacts(home / "artifacts" / "lora_checkpoint" / args.backbone / args.variant)
    stats = TrainStats.from_json(run.metrics.read_text())
    points = kept_points(run, stats.steps)
    base_path = resolve_model_path(args.backbone, home / "models")
    val_loss = validation_losses(base_path, sft.filter((pl.col("variant") == args.variant)
                                                       & (pl.col("split") == "validation")),
                                 [p for _, p in points], max_length=stats.params.max_length)

    if args.loss_only:
        print(f"{args.variant}: validation loss over {val_loss['n']} validation examples")
        print("| step | adapter | validation loss |\n|---|---|---|")
        for step, path in [(0, None), *points]:
            print(f"| {step} | {path.name if path else 'base (no adapter)'} | {val_loss[path]:.4f} |")
        return 0
    test_rows = pl.read_parquet(home / "tables" / "test_personas" / f"{args.backbone}.parquet")
    summary = ReportFiles(home / "artifacts" / "benchmark_report" / args.backbone).summary
    if args.decoding:
        decoding = DecodingParams(**json.loads(args.decoding))
    elif summary.exists():
        decoding = DecodingParams(**json.loads(summary.read_text())["settings"]["decoding"])
    else:
        ap.error(f"{summary} not found: run the report first, or pass --decoding")
    params = BenchmarkParams(max_test_prompts=args.max_test_prompts, shots=(), include_base=False,
                             oracle_diagnostic=False, decoding=decoding)
    protocol = args.protocol or (json.loads(summary.read_text()).get("protocol") if summary.exists() else None) \
        or "context"
    profiles = home / "tables" / "declared_profiles.parquet"  # the declared_profiles asset (unpartitioned)
    declared = declared_dicts(pl.read_parquet(profiles)) if profiles.is_file() else {}
    by_protocol = protocol_rows(test_rows, declared)
    if protocol not in by_protocol:
        ap.error(f"protocol {protocol!r}: no test agent declared a profile in {home}")
    plan = benchmark.plan(by_protocol[protocol], sft, train_prior(sft), {args.variant: True}, params,
                          declared=declared)
    prompts = next(j.prompts for j in plan.jobs if j.system == args.variant)
    personas, replies = plan.personas, plan.examples["reply"].to_list()
    gen = HFGenerator(base_path)

    def cp(texts):
        k = sum(detectors.detect(t or "", p)["cp"] for t, p in zip(texts, personas, strict=True))
        lo, hi = wilson(k, len(texts))
        return k, len(texts), lo, hi

    rows = [{"step": 0, "what": "base (no adapter)", "val_loss": val_loss[None],
             **dict(zip(("k", "n", "lo", "hi"), cp(gen.generate(prompts, params.decoding))))}]
    for step, path in points:
        out = gen.generate_all({str(path): (str(path), prompts)}, params.decoding)[str(path)]
        rows.append({"step": step, "what": path.name, "val_loss": val_loss[path],
                     **dict(zip(("k", "n", "lo", "hi"), cp(out)))})
    human = dict(zip(("k", "n", "lo", "hi"), cp(replies)))
    print(f"decoding: {json.dumps(decoding.as_dict())}")
    print(f"protocol: {protocol}; validation examples: {val_loss['n']}")
    print(f"{args.variant} CP on {len(prompts)} test prompts ({plan.examples['agent_id'].n_unique()} test agents); "
          f"human replies: {human['k']}/{human['n']} = {human['k'] / human['n']:.1%} "
          f"[{human['lo']:.1%}, {human['hi']:.1%}]")
    print("| step | adapter | validation loss | CP | 95% Wilson |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['step']} | {r['what']} | {r['val_loss']:.4f} | {r['k']}/{r['n']} = {r['k'] / r['n']:.1%} "
              f"| [{r['lo']:.1%}, {r['hi']:.1%}] |")
    best = min(rows, key=lambda r: r["val_loss"])
    print(f"lowest validation loss: step {best['step']} ({best['what']}, {best['val_loss']:.4f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"protocol": protocol, "human": human, "curve": rows,
                                               "validation_examples": val_loss["n"]}, indent=1, default=str))
    return 0


def kept_points(run, final_step: int) -> list:
    """[(step, folder)] of a run's kept checkpoints in step order, ending with the final adapter (a last
    checkpoint on the final step is that adapter: scored once)."""
    ckpts = sorted(run.checkpoints.glob("checkpoint-*"), key=lambda p: int(re.sub(r"\D", "", p.name)))
    points = [(int(re.sub(r"\D", "", p.name)), p) for p in ckpts]
    return [(s, p) for s, p in points if s != final_step] + [(final_step, run.adapter)]


def validation_losses(base_path, val, adapters: list, max_length: int) -> dict:
    """{adapter path (None: the base model): mean cross-entropy over the validation split's target
    tokens}, each example tokenized and masked as training does (train.masking), plus "n": examples."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from vvae_pipeline.train.masking import tokenize_examples

    tok = AutoTokenizer.from_pretrained(base_path)
    feats, _ = tokenize_examples([list(m) for m in val["messages"].to_list()], tok, max_length)
    if not feats:
        raise SystemExit("no validation examples to score: the run has no validation split")

    def mean_loss(model) -> float:
        total, count = 0.0, 0
        with torch.inference_mode():
            for f in feats:
                ids = torch.tensor([f["input_ids"]])
                labels = torch.tensor([f["labels"]])
                logits = model(input_ids=ids).logits[0, :-1].float()
                target = labels[0, 1:]
                keep = target != -100
                total += torch.nn.functional.cross_entropy(logits[keep], target[keep], reduction="sum").item()
                count += int(keep.sum())
        return total / count

    base = AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32).eval()
    out = {None: mean_loss(base), "n": len(feats)}
    for path in adapters:
        model = PeftModel.from_pretrained(base, str(path)).eval()
        out[path] = mean_loss(model)
        base = model.unload()  # the base weights, adapter removed, for the next checkpoint
    return out


if __name__ == "__main__":
    raise SystemExit(main())
