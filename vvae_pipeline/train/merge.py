"""Base model + LoRA adapter -> one plain model folder (``merge_and_unload``): safetensors weights,
config, generation config and tokenizer, no adapter_config.json, so anything that reads a Hugging Face
folder (transformers, vLLM without ``--enable-lora``, TGI, llama.cpp's converter) loads it without peft.

The folder is built in a temp folder beside the target and swapped in whole (storage_io.atomic_write_dir).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from vvae_pipeline.storage_io import atomic_write_dir

MERGE_INFO = "merge_info.json"


def merge_adapter(base_model: str, adapter_dir: str | Path, out_dir: str | Path, dtype: str = "float32",
                  device: str = "cpu") -> dict:
    """Merge ``adapter_dir`` (a PEFT LoRA folder) into ``base_model`` and write it to ``out_dir``.

    ``dtype`` is the dtype the weights are merged and saved in (bfloat16 halves a 7B folder to
    ~15 GB; float32 keeps a CPU model bit-comparable to base + adapter). Returns what was done.
    """
    import torch
    from peft import PeftModel

    from vvae_pipeline.llm.models import load_causal_lm, load_tokenizer

    adapter_dir = Path(adapter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise FileNotFoundError(f"{adapter_dir} is not a PEFT adapter folder (no adapter_config.json)")
    t0 = time.perf_counter()
    base = load_causal_lm(base_model, dtype=dtype, device=device)
    model = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    model.eval()
    tokenizer = load_tokenizer(base_model)
    adapter_cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    info = {"base_model": str(base_model), "adapter": str(adapter_dir), "dtype": dtype,
            "lora_r": adapter_cfg.get("r"), "lora_alpha": adapter_cfg.get("lora_alpha"),
            "target_modules": sorted(adapter_cfg.get("target_modules") or []),
            "parameters": sum(p.numel() for p in model.parameters())}

    def fill(tmp: Path) -> None:
        with torch.no_grad():
            model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / MERGE_INFO).write_text(json.dumps(info, indent=2))

    atomic_write_dir(Path(out_dir), fill)
    info["seconds"] = round(time.perf_counter() - t0, 2)
    info["bytes"] = sum(f.stat().st_size for f in Path(out_dir).rglob("*") if f.is_file())
    return info
