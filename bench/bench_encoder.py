"""Encoder engines side by side: the same extraction prompts and schemas through transformers (at
its best batch size), vLLM offline and the OpenAI-compatible engine against a local vLLM server.

Prints items/s, the schema-valid share, exact agreement with transformers and the speed-up over
transformers at its best batch size. Each engine runs in its own interpreter (vLLM lives in its
own venv); the prompts are written once so that every engine gets byte-identical inputs.

    python bench/bench_encoder.py --items 48 --vllm-python .venv-vllm/bin/python --out result.json
    python bench/bench_encoder.py --items 48 --skip vllm,openai          # transformers only
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "0-1"}


def write_prompts(n_items: int, path: Path) -> None:
    """The real extraction prompts and decode schemas of the first ``n_items`` demo examples."""
    import polars as pl

    from vvae_pipeline.encode.extract import (
        ExtractParams,
        batch_evidence,
        build_items,
        build_prompt,
        decode_schema,
        item_candidates,
        restricted,
    )
    from vvae_pipeline.ingest.demo import generate_demo

    sessions, _ = generate_demo(seed=0)
    for i, s in enumerate(sessions):
        s.update(batch_id="bench", source_file="demo-0.jsonl", source_line=i + 1, x_source="annotation", pii_found=0)
        s.pop("agent_name", None), s.pop("user_name", None)
    items, _ = build_items(pl.DataFrame(sessions))
    rows = items.to_dicts()
    evidence = batch_evidence(rows)
    params = ExtractParams()
    prompts, schemas = [], []
    for r in rows[:n_items]:
        cands = restricted(item_candidates(r["context"], r["reply"], r["language"], evidence, r["agent_id"]), params)
        schema = decode_schema(cands, params.constrain_open)
        prompts.append(build_prompt(r["context"], r["reply"], r["language"], schema, params))
        schemas.append(schema)
    path.write_text(json.dumps({"prompts": prompts, "schemas": schemas}, ensure_ascii=False))


def _valid(text: str, schema: dict) -> bool:
    import jsonschema

    try:
        jsonschema.validate(json.loads(text), schema)
        return True
    except (json.JSONDecodeError, jsonschema.ValidationError):
        return False


def run_engine(kind: str, prompts_file: Path, args) -> dict:
    """One engine over the prompts (runs in the current interpreter); timing excludes loading."""
    data = json.loads(prompts_file.read_text())
    prompts, schemas = data["prompts"], data["schemas"]
    from vvae_pipeline.llm.engines import TransformersEngine, VLLMEngine
    from vvae_pipeline.llm.openai_engine import OpenAIEngine

    out: dict = {"engine": kind}
    if kind == "transformers":
        import torch

        torch.set_num_threads(args.threads)
        engine = TransformersEngine(args.model_path, "smollm2-135m", compact=args.compact)
        engine.generate_json(prompts[:1], schemas[:1], 8)  # load weights, compile a grammar
        best = None
        for bs in args.batch_sizes:
            engine.batch_size = bs
            t0 = time.perf_counter()
            res = engine.generate_json(prompts, schemas, args.max_new_tokens)
            secs = time.perf_counter() - t0
            out.setdefault("by_batch_size", {})[bs] = round(len(prompts) / secs, 3)
            if best is None or secs < best[0]:
                best = (secs, bs, res)
        secs, out["batch_size"], res = best
    else:
        if kind == "vllm":
            kwargs = {"enable_prefix_caching": True, "max_num_seqs": args.max_num_seqs}
            engine = VLLMEngine(args.model_path, "smollm2-135m", dtype="float32", max_model_len=2048,
                                enforce_eager=True, llm_kwargs=kwargs)
        else:
            engine = OpenAIEngine(args.base_url, args.model_path, max_concurrency=args.concurrency)
        engine.generate_json(prompts[:2], schemas[:2], 16)  # warm up (engine start, first grammar)
        t0 = time.perf_counter()
        res = engine.generate_json(prompts, schemas, args.max_new_tokens)
        secs = time.perf_counter() - t0
    out.update(items=len(prompts), seconds=round(secs, 2), items_per_s=round(len(prompts) / secs, 3),
               texts=[r.text for r in res], valid=sum(_valid(r.text, s) for r, s in zip(res, schemas)))
    return out


def _child(kind: str, python: str, prompts_file: Path, args, extra_env: dict | None = None) -> dict:
    out_file = prompts_file.with_name(f"{kind}.json")
    cmd = [python, __file__, "--run", kind, "--prompts", str(prompts_file), "--child-out", str(out_file),
           "--model-path", args.model_path, "--max-new-tokens", str(args.max_new_tokens),
           "--threads", str(args.threads), "--batch-sizes", ",".join(map(str, args.batch_sizes)),
           "--max-num-seqs", str(args.max_num_seqs), "--concurrency", str(args.concurrency)]
    if args.compact:
        cmd.append("--compact")
    if args.base_url:
        cmd += ["--base-url", args.base_url]
    env = {**os.environ, "PYTHONPATH": str(REPO), **(extra_env or {})}
    subprocess.run(cmd, check=True, env=env, cwd=REPO)
    return json.loads(out_file.read_text())


def _serve(python: str, model_path: str, port: int) -> subprocess.Popen:
    cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", model_path, "--host", "127.0.0.1",
           "--port", str(port), "--dtype", "float32", "--enforce-eager", "--max-model-len", "2048",
           "--enable-prefix-caching", "--structured-outputs-config",
           json.dumps({"backend": "xgrammar", "disable_any_whitespace": True})]
    proc = subprocess.Popen(cmd, env={**os.environ, **VLLM_ENV}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    for _ in range(240):  # /health after ~44 s on 2 cores
        time.sleep(1)
        if proc.poll() is not None:
            raise RuntimeError(f"vLLM server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return proc
        except OSError:
            continue
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("vLLM server did not become healthy in 240 s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-sizes", default="8,16,48")
    ap.add_argument("--max-num-seqs", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--vllm-python", default=str(REPO.parent / "main" / ".venv-vllm" / "bin" / "python"))
    ap.add_argument("--models-dir", default=os.environ.get("VVAE_MODELS_DIR", ".vvae/models"))
    ap.add_argument("--skip", default="")
    ap.add_argument("--compact", action="store_true", help="transformers writes compact JSON like vLLM")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--out", type=Path)
    # child mode
    ap.add_argument("--run")
    ap.add_argument("--prompts", type=Path)
    ap.add_argument("--child-out", type=Path)
    ap.add_argument("--model-path")
    ap.add_argument("--base-url")
    args = ap.parse_args()
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",")]
    if args.run:
        args.child_out.write_text(json.dumps(run_engine(args.run, args.prompts, args)))
        return

    from vvae_pipeline.llm.models import resolve_model_path

    args.model_path = resolve_model_path("smollm2-135m", Path(args.models_dir))
    skip = set(args.skip.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="bench-encoder-"))
    write_prompts(args.items, tmp / "prompts.json")
    results = {"transformers": _child("transformers", sys.executable, tmp / "prompts.json", args)}
    if "vllm" not in skip:
        results["vllm"] = _child("vllm", args.vllm_python, tmp / "prompts.json", args, VLLM_ENV)
    if "openai" not in skip:
        server = _serve(args.vllm_python, args.model_path, args.port)
        try:
            args.base_url = f"http://127.0.0.1:{args.port}/v1"
            results["openai"] = _child("openai", sys.executable, tmp / "prompts.json", args)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
    base = results["transformers"]
    table = []
    for name, r in results.items():
        table.append(
            {
                "engine": name,
                "items": r["items"],
                "seconds": r["seconds"],
                "items_per_s": r["items_per_s"],
                "batch_size": r.get("batch_size"),
                "by_batch_size": r.get("by_batch_size"),
                "schema_valid": f"{r['valid']}/{r['items']}",
                "agree_with_transformers": f"{sum(a == b for a, b in zip(r['texts'], base['texts']))}/{r['items']}",
                "speedup_vs_transformers_best": round(r["items_per_s"] / base["items_per_s"], 2),
            }
        )
    print("| engine | items/s | speed-up vs transformers (best batch) | schema-valid | agrees with transformers |")
    print("|---|---|---|---|---|")
    for t in table:
        label = t["engine"] + (f" (batch {t['batch_size']}; {t['by_batch_size']})" if t["batch_size"] else "")
        print(f"| {label} | {t['items_per_s']} | {t['speedup_vs_transformers_best']}x | {t['schema_valid']} | "
              f"{t['agree_with_transformers']} |")
    if args.out:
        args.out.write_text(json.dumps({"max_new_tokens": args.max_new_tokens, "threads": args.threads,
                                        "engines": table}, indent=2))


if __name__ == "__main__":
    main()
