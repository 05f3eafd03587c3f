"""vvae_pipeline.llm.serving without vLLM: where the adapter comes from and the server command it builds."""

import json
import subprocess
import sys

import pytest

from vvae_pipeline.llm import serving

ENTRY = ["py", "-m", "vllm.entrypoints.cli.main", "serve"]


def _adapter(path, r=4):
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": r}))
    return path


@pytest.mark.parametrize(("rank", "allowed"), [(1, 1), (4, 8), (8, 8), (16, 16), (17, 32), (300, 320)])
def test_rank_rounds_up_to_what_vllm_accepts(rank, allowed):
    assert serving.vllm_lora_rank(rank) == allowed


def test_rank_above_vllm_is_an_error():
    with pytest.raises(ValueError, match="512"):
        serving.vllm_lora_rank(1024)


def test_champion_json(tmp_path, monkeypatch):
    monkeypatch.setenv("VVAE_HOME", str(tmp_path))
    path = serving.champion_json_path("smollm2-135m")
    assert path == tmp_path / "artifacts" / "promoted_adapter" / "smollm2-135m" / "champion.json"
    with pytest.raises(FileNotFoundError, match="--adapter"):
        serving.read_champion(path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"adapter_path": "/abs/adapter", "run_id": "x"}))
    assert str(serving.read_champion(path)) == "/abs/adapter"
    path.write_text(json.dumps({"adapter_path": "rel/adapter"}))
    assert serving.read_champion(path) == path.parent / "rel" / "adapter"
    path.write_text(json.dumps({"path": "x"}))
    with pytest.raises(ValueError, match="adapter_path"):
        serving.read_champion(path)


def test_cpu_and_gpu_commands(tmp_path):
    adapter = _adapter(tmp_path / "adapter", r=4)
    cpu = serving.build_command("/models/base", adapter, port=8123, device="cpu", entrypoint=ENTRY)
    assert cpu[:5] == [*ENTRY, "/models/base"]
    flat = " ".join(cpu)
    assert "--host 127.0.0.1 --port 8123" in flat
    assert f"--enable-lora --lora-modules champion={adapter.resolve()} --max-lora-rank 8" in flat
    assert "--dtype float32 --enforce-eager --max-model-len 1024" in flat
    gpu = " ".join(serving.build_command("/m", adapter, device="gpu", max_model_len=8192, extra=["--seed", "1"],
                                         entrypoint=ENTRY))
    assert "--dtype bfloat16 --gpu-memory-utilization 0.90 --max-model-len 8192" in gpu and gpu.endswith("--seed 1")
    assert "--enforce-eager" not in gpu
    # The api_server module (the CPU wheel's fallback) takes the model as --model.
    old = serving.build_command("/m", adapter, entrypoint=["py", "-m", "vllm.entrypoints.openai.api_server"])
    assert old[3:5] == ["--model", "/m"]
    assert serving.server_env("cpu", {})["VLLM_CPU_KVCACHE_SPACE"] == "2"
    assert serving.server_env("gpu", {}) == {}


def test_cli_prints_the_command_from_a_champion_json(tmp_path):
    adapter = _adapter(tmp_path / "lora" / "adapter", r=16)
    champion = tmp_path / "champion.json"
    champion.write_text(json.dumps({"adapter_path": str(adapter)}))
    out = subprocess.run([sys.executable, "-m", "vvae_pipeline.llm.serving", "--champion-json", str(champion),
                          "--base-model", "/models/base", "--device", "cpu", "--name", "sp_ft", "--print",
                          "--", "--seed", "7"], capture_output=True, text=True, check=True).stdout
    assert f"sp_ft={adapter.resolve()}" in out and "--max-lora-rank 16" in out and out.strip().endswith("--seed 7")
    assert out.startswith("VLLM_CPU_KVCACHE_SPACE=")
