"""Encoder quality on real labelled corpora (ConvAI2 wild, CPED, DailyDialog) and on the demo, with baselines.

Per dimension: precision, recall, F1 with 95% intervals and counts, next to the majority-class and
always-null baselines, plus predicted vs true null rates and (real corpora) the share of labelled
sessions/characters any extraction recovered; the answer rate, the top value's share of each closed
dimension's answers and the function-word share of catchphrase, nickname and topic values. Prints
markdown; ``--out`` writes the JSON the report stage can show.

The capability table (vvae_pipeline/data/encoder_capabilities.json, rule in
vvae_pipeline/encode/capabilities.py) is measured with every dimension asked
(``--use-capabilities false``) and written with ``--write-capabilities``:

    VVAE_MODELS_DIR=.vvae/models python bench/bench_encoder_quality.py --items 150 \
        --use-capabilities false --write-capabilities --out bench/results/encoder_quality_all_dims.json
    VVAE_MODELS_DIR=.vvae/models python bench/bench_encoder_quality.py --items 150 --out q.json  # as the pipeline runs
    python bench/bench_encoder_quality.py --engine openai --base-url http://127.0.0.1:8000/v1 --model M \
        --constrain-open false --show-closed-options true     # a strong served encoder
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def _demo_items():
    import polars as pl

    from vvae_pipeline.encode.extract import build_items
    from vvae_pipeline.ingest.demo import generate_demo

    sessions, truth = generate_demo(seed=0)
    for i, s in enumerate(sessions):
        s.update(batch_id="bench", source_file="demo-0.jsonl", source_line=i + 1, x_source="annotation", pii_found=0)
        s.pop("agent_name", None), s.pop("user_name", None)
    items, _ = build_items(pl.DataFrame(sessions))
    return items, truth


def _engine(args):
    from vvae_pipeline.llm.engines import TransformersEngine
    from vvae_pipeline.llm.models import resolve_model_path
    from vvae_pipeline.llm.openai_engine import OpenAIEngine

    if args.engine == "openai":
        return OpenAIEngine(args.base_url, args.model)
    path = resolve_model_path("smollm2-135m", Path(args.models_dir))
    if args.engine == "vllm":  # in .venv-vllm, with VLLM_CPU_KVCACHE_SPACE=2 VLLM_CPU_OMP_THREADS_BIND=0-1 on CPU
        from vvae_pipeline.llm.engines import VLLMEngine

        return VLLMEngine(path, "smollm2-135m", dtype="float32", max_model_len=2048, enforce_eager=True)
    return TransformersEngine(path, "smollm2-135m", batch_size=args.batch_size)


def garbage_figures(df) -> dict:
    """Answer rate per dimension, top value's share of each closed dimension's answers, and the
    function-word share of catchphrase, nickname and topic values."""
    from collections import Counter

    from vvae_pipeline import latent
    from vvae_pipeline.encode.function_words import function_word_share

    out: dict = {"n": df.height, "answer_rate": {}, "top_share": {}, "function_words": {}}
    for d in latent.DIMENSION_NAMES:
        vals = [v for v in df[d].to_list() if v is not None]
        out["answer_rate"][d] = round(len(vals) / df.height, 4) if df.height else None
        if latent.BY_NAME[d].closed and vals:
            top, k = Counter(vals).most_common(1)[0]
            out["top_share"][d] = {"value": top, "k": k, "n": len(vals), "share": round(k / len(vals), 4)}
    for d in ("catchphrase", "nickname", "topic"):
        vals = df[d].to_list()
        k, n = function_word_share(vals)
        common = Counter(v for v in vals if v).most_common(8)
        out["function_words"][d] = {
            "k": k,
            "n": n,
            "k_independent": sum(_independent_function_word(v) for v in vals if v),
            "most_common": common,
        }
    return out


def _independent_function_word(value: str) -> bool:
    """A second, independent definition for the cross-check: the PyPI package ``stopwords`` (ISC;
    174 en words, ~130 zh characters): every en word, or every zh character, is one of them. The
    encoder filters with stopwords-iso and jieba, so this list can disagree with it."""
    import re

    import stopwords

    if re.search(r"[\u4e00-\u9fff]", value):
        chars = set(stopwords.get_stopwords("chinese"))
        return all(c in chars for c in re.sub(r"\W", "", value))
    words = set(stopwords.get_stopwords("english"))
    return all(w in words for w in re.findall(r"[a-z']+", value.lower()))


def _bool(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=150, help="examples per real corpus")
    ap.add_argument("--corpora", default="convai2,cped,dailydialog")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--engine", choices=("transformers", "vllm", "openai"), default="transformers")
    ap.add_argument("--base-url")
    ap.add_argument("--model")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--constrain-open", type=_bool, default=True)
    ap.add_argument("--show-closed-options", type=_bool, default=False)
    ap.add_argument("--threads", type=int, default=int(os.environ.get("VVAE_TORCH_THREADS", "2")))
    ap.add_argument("--models-dir", default=os.environ.get("VVAE_MODELS_DIR", ".vvae/models"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--use-capabilities", type=_bool, default=True,
                    help="leave null what the capability table says the engine does not answer (false: ask all)")
    ap.add_argument("--write-capabilities", action="store_true",
                    help="write this engine's row of the capability table from the real corpora measured")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    import torch

    from vvae_pipeline.encode import real_corpora as rc
    from vvae_pipeline.encode.extract import ExtractParams, extract
    from vvae_pipeline.encode.quality import markdown, score

    torch.set_num_threads(args.threads)
    engine = _engine(args)
    params = ExtractParams(batch_size=args.batch_size, constrain_open=args.constrain_open,
                           show_closed_options=args.show_closed_options, use_capabilities=args.use_capabilities)
    out: dict = {"engine": engine.name, "model": engine.model, "params": vars(params), "corpora": {}}
    for corpus in args.corpora.split(","):
        t0 = time.perf_counter()
        if corpus == "demo":
            items, truth = _demo_items()
            df, stats = extract(items, engine, params)
            result = score(df, truth)
            result["corpus"] = "demo"
        else:
            items, labels = rc.load(corpus, Path(args.data), args.items, seed=args.seed)
            df, stats = extract(items, engine, params)
            result = rc.evaluate(corpus, df, labels)
        result["seconds"] = round(time.perf_counter() - t0, 1)
        result["items_per_s"] = stats["items_per_s"]
        result["status"] = stats["status"]
        result["predicted_null_rate"] = stats["null_rate"]
        result["garbage"] = garbage_figures(df)
        out["corpora"][corpus] = result
        print(markdown(result, f"{corpus}: {engine.name}:{engine.model}"))
        rec = {d: m["agent_recovered"] for d, m in result["dimensions"].items() if "agent_recovered" in m}
        if rec:
            print("recovered per labelled unit:", json.dumps(rec))
        print(f"{stats['items_per_s']} items/s, status {stats['status']}, predicted null rates "
              f"{json.dumps(stats['null_rate'])}", flush=True)
        print("garbage figures:", json.dumps(result["garbage"], ensure_ascii=False), "\n", flush=True)
    if args.write_capabilities:
        from vvae_pipeline.encode import capabilities

        real = {c: r for c, r in out["corpora"].items() if c != "demo"}
        if args.use_capabilities:
            raise SystemExit("--write-capabilities measures every dimension: add --use-capabilities false")
        entry = capabilities.decide(real)
        capabilities.write(entry, engine.name, engine.model, items_per_corpus=args.items, seed=args.seed,
                           corpora=sorted(real), command="bench/bench_encoder_quality.py " + " ".join(
                               a for a in os.sys.argv[1:] if not a.startswith("--models-dir")))
        print("capabilities:", json.dumps({d: (e["answered"], e["reason"]) for d, e in entry["dimensions"].items()}))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":  # vLLM spawns workers: the guard keeps them from rerunning the bench
    main()
