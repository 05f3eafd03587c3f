"""Encoder throughput: the batched TransformersEngine against a one-prompt-at-a-time loop.

Same model, same prompts and grammars (the real extraction prompts of demo items), greedy decoding,
one run of each; prints items/s, the speed-up and how many outputs agree exactly.

    .venv/bin/python bench/bench_encoder.py --items 32 --batch-size 16 [--device cuda] [--out result.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _prompts(n_items: int):
    import polars as pl

    from vvae_pipeline import latent
    from vvae_pipeline.encode.extract import (
        ExtractParams,
        batch_evidence,
        build_items,
        build_prompt,
        item_candidates,
    )
    from vvae_pipeline.ingest.demo import generate_demo

    sessions, _ = generate_demo(seed=0)
    for s in sessions:
        s.update(batch_id="bench", source_file="demo-0.jsonl", source_line=1, x_source="annotation", pii_found=0)
        s.pop("agent_name", None), s.pop("user_name", None)
    items, _ = build_items(pl.DataFrame(sessions))
    rows = items.to_dicts()
    evidence = batch_evidence(rows)
    rows = rows[:n_items]
    schemas = [latent.json_schema(item_candidates(r["context"], r["reply"], r["language"], evidence[r["agent_id"]]))
               for r in rows]
    params = ExtractParams()
    return [build_prompt(r["context"], r["reply"], r["language"], s, params) for r, s in zip(rows, schemas)], schemas


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("VVAE_TORCH_THREADS", "1")))
    ap.add_argument("--models-dir", default=os.environ.get("VVAE_MODELS_DIR", ".vvae/models"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch

    from vvae_pipeline.llm.engines import TransformersEngine
    from vvae_pipeline.llm.models import resolve_model_path

    torch.set_num_threads(args.threads)
    prompts, schemas = _prompts(args.items)
    path = resolve_model_path("smollm2-135m", Path(args.models_dir))
    engine = TransformersEngine(path, "smollm2-135m", batch_size=args.batch_size, device=args.device)
    engine.generate_json(prompts[:1], schemas[:1], 8)  # load weights, compile the first grammar

    t0 = time.perf_counter()
    batched = engine.generate_json(prompts, schemas, args.max_new_tokens)
    t_batched = time.perf_counter() - t0

    engine.batch_size = 1
    t0 = time.perf_counter()
    single = [engine.generate_json([p], [s], args.max_new_tokens)[0] for p, s in zip(prompts, schemas)]
    t_single = time.perf_counter() - t0

    result = {
        "items": len(prompts), "batch_size": args.batch_size, "device": args.device, "threads": args.threads,
        "max_new_tokens": args.max_new_tokens,
        "batched_s": round(t_batched, 2), "single_s": round(t_single, 2),
        "batched_items_per_s": round(len(prompts) / t_batched, 3),
        "single_items_per_s": round(len(prompts) / t_single, 3),
        "speedup": round(t_single / t_batched, 2),
        "identical_outputs": sum(a.text == b.text for a, b in zip(batched, single)),
        "batched_valid_json": sum(_is_json(r.text) for r in batched),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


def _is_json(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


if __name__ == "__main__":
    main()
