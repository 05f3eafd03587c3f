"""LoRA training on the real SmolLM2 (CPU, tiny settings): adapter learns, base stays frozen,
validation loss is logged, a killed run resumes to the same result; packing keeps examples apart."""

import json
import math
from dataclasses import replace
from itertools import islice
from pathlib import Path

import pytest

from tests.support.train_stats import make_stats
from vvae_pipeline.train.artifacts import RunArtifacts
from vvae_pipeline.train.run import (
    LoraParams,
    TrainParams,
    fingerprint,
    prepare_checkpoints,
    resolve,
    train_lora,
)
from vvae_pipeline.train.stats import TrainStats

# Tiny: 2 x <=128 tokens a step, r=4 on two projections; a step is ~1-2 s on one busy core.
TINY = TrainParams(lora=LoraParams(r=4, alpha=8, dropout=0.0, target_modules=("q_proj", "v_proj")),
                   max_steps=4, batch_size=2, grad_accum=1, learning_rate=1e-3, warmup_ratio=0.0,
                   max_length=128, eval_steps=2, save_steps=2, logging_steps=1, device="cpu", torch_threads=1)


def output_dtype_probe(module_suffix: str):
    """A TrainerCallback recording the dtype of the first training output of the module whose name
    ends with ``module_suffix`` (in ``.dtype``)."""
    from transformers import TrainerCallback

    class _OutputDtype(TrainerCallback):
        dtype = None

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            def grab(module, inputs, output):  # returns None: the output stays as it is
                if self.dtype is None:
                    self.dtype = output.dtype

            next(m for n, m in model.named_modules() if n.endswith(module_suffix)).register_forward_hook(grab)

    return _OutputDtype()


def dialogue_rows(shared: Path, n_train: int = 8, n_val: int = 4) -> list[dict]:
    """SFT rows from real DailyDialog dialogues: persona system line, history, final reply x."""
    rows = []
    for split, name, n in (("train", "train/dialogues_train.txt", n_train),
                           ("validation", "validation/dialogues_validation.txt", n_val)):
        with open(shared / "dailydialog_en" / name) as fh:
            for line in islice(fh, n):
                turns = [t.strip() for t in line.split("__eou__") if t.strip()][:4]
                turns = turns[: len(turns) - len(turns) % 2]
                msgs = [{"role": "system", "content": "Persona: tone=casual; vibe=warm"}]
                msgs += [{"role": "user" if j % 2 == 0 else "assistant", "content": t} for j, t in enumerate(turns)]
                rows.append({"messages": msgs, "split": split})
    return rows


def test_resolve_picks_packing_and_kernels_only_on_gpu():
    p = TrainParams()
    assert resolve(p, cuda_available=False, liger_available=True, flash_available=True) == {
        "device": "cpu", "dtype": "float32", "autocast": None, "packing": False, "liger": False, "attn": "sdpa"}
    assert resolve(p, cuda_available=True, liger_available=True, flash_available=True, cpu_bf16=True) == {
        "device": "cuda", "dtype": "bfloat16", "autocast": None, "packing": True, "liger": True,
        "attn": "flash_attention_2"}
    assert resolve(p, True, False, False)["liger"] is False
    assert resolve(replace(p, packing="off"), True, True, True)["packing"] is False


def test_cpu_bf16_autocast_only_where_the_cpu_multiplies_bf16():
    p = TrainParams()
    assert resolve(p, False, False, False, cpu_bf16=True)["autocast"] == "bf16"
    assert resolve(p, False, False, False, cpu_bf16=False)["autocast"] is None
    assert resolve(replace(p, autocast="off"), False, False, False, cpu_bf16=True)["autocast"] is None
    assert resolve(replace(p, autocast="bf16"), False, False, False, cpu_bf16=False)["autocast"] == "bf16"
    # bf16 weights already train under the trainer's bf16 flag: no second autocast on top
    assert resolve(replace(p, dtype="bfloat16", autocast="bf16"), False, False, False)["autocast"] is None
    with pytest.raises(ValueError, match="autocast"):
        TrainParams(autocast="fp8")


def test_train_stats_are_attributes_and_round_trip_through_metrics_json():
    stats = make_stats()
    assert TrainStats.from_json(stats.to_json()) == stats
    with pytest.raises(AttributeError):
        stats.final_eval_los  # noqa: B018 - a misspelled field is an error where it is read
    with pytest.raises(AttributeError):
        stats.data.train.exampels  # noqa: B018
    with pytest.raises(AttributeError):  # frozen: a typo cannot add a field either
        stats.final_eval_los = 1.0
    # The file keeps the layout its readers (the benchmark, through read_trained) know.
    on_disk = json.loads(stats.to_json())
    assert on_disk["data"]["train"]["examples"] == 6 and on_disk["lora"]["r"] == 4
    assert on_disk["train_loss"][0] == {"step": 1, "loss": 2.0} and on_disk["choice"]["device"] == "cpu"
    with pytest.raises(TypeError):  # a key this code does not know is not read past
        TrainStats.from_dict({**on_disk, "final_eval_los": 1.0})


def test_write_outputs_writes_exactly_the_files_run_artifacts_names(tmp_path):
    """Fast twin of the tiny real run below: every file write_outputs leaves is a RunArtifacts name,
    and read_trained finds the adapter and metrics through the same names."""
    from types import SimpleNamespace

    from vvae_pipeline.train.artifacts import read_trained, write_outputs

    class Model:
        def save_pretrained(self, path):
            (Path(path) / "adapter_config.json").write_text("{}")
            (Path(path) / "adapter_model.safetensors").write_bytes(b"\0")

    stats = make_stats()
    history = [{"step": p.step, "loss": p.loss} for p in stats.train_loss] + [{"step": 3, "eval_loss": 1.4}]
    run = RunArtifacts(tmp_path / "smollm2-135m" / "sp_ft")
    write_outputs(SimpleNamespace(model=Model(), state=SimpleNamespace(log_history=history)), run, stats)
    assert sorted(p.name for p in run.out_dir.iterdir()) == sorted(
        p.name for p in (run.adapter, run.metrics, run.loss_curve, run.model_card, run.train_log))
    assert run.complete and run.adapter_weights.is_file()
    assert TrainStats.from_json(run.metrics.read_text()) == stats
    assert "smollm2-135m / sp_ft" in run.model_card.read_text()
    adapters, train_stats = read_trained(run.out_dir.parent, ["ft", "sp_ft"])
    assert adapters == {"sp_ft": str(run.adapter)} and train_stats == {"sp_ft": stats}


def test_read_trained_scores_an_adapter_whose_metrics_are_not_train_stats(tmp_path, caplog):
    """A metrics.json from before a field existed (or none) keeps the adapter and has no stats."""
    from vvae_pipeline.train.artifacts import read_trained

    runs = {v: RunArtifacts(tmp_path / v) for v in ("ft", "p_ft", "sp_ft")}
    for run in runs.values():
        run.adapter.mkdir(parents=True)
        run.adapter_config.write_text("{}")
    runs["ft"].metrics.write_text(json.dumps({"steps": 4, "final_eval_loss": 1.7}))  # partial
    runs["sp_ft"].metrics.write_text(make_stats().to_json())
    adapters, train_stats = read_trained(tmp_path, list(runs))
    assert set(adapters) == {"ft", "p_ft", "sp_ft"} and set(train_stats) == {"sp_ft"}
    assert "ft/metrics.json: no TrainStats" in caplog.text and "p_ft/metrics.json" in caplog.text


def test_checkpoints_of_another_run_are_discarded(tmp_path):
    rows = [{"messages": [{"role": "assistant", "content": "hi"}], "split": "train"}]
    fp = fingerprint(rows, "base", TINY)
    assert fp == fingerprint(rows, "base", TINY)
    assert fp != fingerprint(rows, "base", replace(TINY, learning_rate=2e-3))
    ckpt = prepare_checkpoints(tmp_path, fp)
    (ckpt / "checkpoint-2").mkdir()
    assert (prepare_checkpoints(tmp_path, fp) / "checkpoint-2").exists()
    assert not (prepare_checkpoints(tmp_path, "other") / "checkpoint-2").exists()


def test_packed_rows_do_not_attend_across_examples():
    """Padding-free packing (the GPU path): one row holding two examples gives each the logits it
    gets alone, because position ids restart and the attention respects the boundary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    model = LlamaForCausalLM(cfg).eval()
    a = {"input_ids": [5, 6, 7, 8, 9], "labels": [-100, -100, 7, 8, 9]}
    b = {"input_ids": [11, 12, 13], "labels": [-100, 12, 13]}
    batch = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)([a, b])
    assert batch["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2]]
    assert "attention_mask" not in batch
    assert batch["labels"][0, 5].item() == -100  # no loss on predicting b's first token from a
    with torch.no_grad():
        # use_cache=False as in training: with a cache, transformers skips the packed-sequence mask.
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        alone_a = model(input_ids=torch.tensor([a["input_ids"]])).logits[0]
        alone_b = model(input_ids=torch.tensor([b["input_ids"]])).logits[0]
        naive = model(input_ids=batch["input_ids"]).logits[0]  # one sequence: b would see a
    torch.testing.assert_close(packed[:5], alone_a, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(packed[5:], alone_b, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(naive[5:], alone_b, atol=1e-3)


@pytest.mark.slow
def test_tiny_lora_run_trains_adapter_only(tmp_path, smollm2_path, shared_data):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, TrainerCallback

    base_sd = load_file(str(Path(smollm2_path) / "model.safetensors"))
    seen = {}

    class CheckFrozen(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            named = dict(model.named_parameters())
            lora = {n: p for n, p in named.items() if "lora_" in n}
            seen["lora_dtypes"] = {p.dtype for p in lora.values()}
            seen["trainable"] = sorted(n for n, p in named.items() if p.requires_grad)
            seen["lora_b_norm"] = sum(p.detach().abs().sum().item() for n, p in lora.items() if "lora_B" in n)
            seen["base_changed"] = [n for n, p in named.items() if "lora_" not in n
                                    and (k := n.replace("base_model.model.", "").replace(".base_layer", "")) in base_sd
                                    and not torch.equal(p.detach(), base_sd[k])]
            seen["base_checked"] = sum(1 for n in named if "lora_" not in n)

    out = tmp_path / "run"
    q_proj = output_dtype_probe("layers.0.self_attn.q_proj")
    stats = train_lora(dialogue_rows(shared_data), smollm2_path, out, replace(TINY, max_steps=3),
                       backbone="smollm2-135m", variant="sp_ft", callbacks=[CheckFrozen(), q_proj])

    # Under bf16 autocast (the default on a CPU with native bf16) the matmuls run in bf16 while
    # the LoRA weights the optimizer updates stay fp32; without it everything is fp32.
    assert q_proj.dtype == (torch.bfloat16 if stats.choice.autocast == "bf16" else torch.float32)
    assert seen["lora_dtypes"] == {torch.float32}
    assert seen["trainable"] and all("lora_" in n for n in seen["trainable"])
    assert len(seen["trainable"]) == 30 * 2 * 2  # 30 layers x (q, v) x (A, B)
    assert seen["lora_b_norm"] > 0  # B starts at zero: any mass means the adapter learned
    assert seen["base_checked"] > 200 and seen["base_changed"] == []

    # What train writes is exactly what RunArtifacts names, and metrics.json is the returned stats.
    run = RunArtifacts(out)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        p.name for p in (run.adapter, run.metrics, run.loss_curve, run.model_card, run.train_log, run.checkpoints))
    assert run.complete and run.adapter_weights.is_file() and run.checkpoints.is_dir()
    metrics = TrainStats.from_json(run.metrics.read_text())
    assert metrics == stats and isinstance(stats, TrainStats)
    assert (metrics.backbone, metrics.variant, metrics.base_model) == ("smollm2-135m", "sp_ft", smollm2_path)
    assert metrics.steps == 3 and metrics.params.lora.target_modules == ("q_proj", "v_proj")
    assert [p.step for p in metrics.train_loss] == [1, 2, 3]
    assert [p.step for p in metrics.eval_loss] == [2, 3]  # every eval step, plus the final one
    assert all(math.isfinite(p.loss) for p in metrics.eval_loss + metrics.train_loss)
    assert metrics.final_eval_loss == metrics.eval_loss[-1].loss
    assert 0 < metrics.real_tokens <= 3 * 2 * 128
    assert metrics.data.train.examples == 8 and metrics.data.validation.examples == 4
    assert len(run.train_log.read_text().splitlines()) >= 5
    assert run.loss_curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "smollm2-135m / sp_ft" in run.model_card.read_text()

    saved = load_file(str(run.adapter_weights))
    assert saved and all("lora_" in k for k in saved)
    base = AutoModelForCausalLM.from_pretrained(smollm2_path)
    ids = torch.tensor([[1, 2, 3, 4, 5, 6]])
    with torch.no_grad():
        before = base(input_ids=ids).logits
        tuned = PeftModel.from_pretrained(base, str(run.adapter))
        after = tuned(input_ids=ids).logits
    assert not torch.allclose(before, after, atol=1e-4)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, smollm2_path, shared_data):
    import torch
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    rows = dialogue_rows(shared_data, n_train=8, n_val=2)
    params = replace(TINY, eval_steps=100, lora=replace(TINY.lora, dropout=0.1))

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:  # after checkpoint-2 was saved, before checkpoint-4
                raise KeyboardInterrupt("simulated kill")

    class GrabOptimizer(TrainerCallback):
        def on_train_begin(self, args, state, control, optimizer=None, **kwargs):
            opt = getattr(optimizer, "optimizer", optimizer)
            seen["start_step"] = state.global_step
            seen["exp_avg"] = [s["exp_avg"].clone() for s in opt.state.values() if "exp_avg" in s]

    seen = {}
    ref = train_lora(rows, smollm2_path, tmp_path / "ref", params)
    with pytest.raises(KeyboardInterrupt):
        train_lora(rows, smollm2_path, tmp_path / "cut", params, callbacks=[Crash()])
    cut = RunArtifacts(tmp_path / "cut")
    assert sorted(p.name for p in cut.checkpoints.glob("checkpoint-*")) == ["checkpoint-2"]
    resumed = train_lora(rows, smollm2_path, tmp_path / "cut", params, callbacks=[GrabOptimizer()])

    assert resumed.resumed_from_step == 2 and seen["start_step"] == 2
    assert resumed.steps == ref.steps == 4
    saved = torch.load(cut.checkpoints / "checkpoint-2" / "optimizer.pt", weights_only=True)
    saved_avg = [s["exp_avg"] for s in saved["state"].values() if "exp_avg" in s]
    assert seen["exp_avg"] and len(seen["exp_avg"]) == len(saved_avg)
    assert all(torch.equal(a, b) for a, b in zip(seen["exp_avg"], saved_avg, strict=True))  # Adam moments restored
    assert [p.step for p in resumed.train_loss] == [1, 2, 3, 4]
    assert resumed.real_tokens == ref.real_tokens
    a = load_file(str(RunArtifacts(tmp_path / "ref").adapter_weights))
    b = load_file(str(cut.adapter_weights))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("autocast", ["bf16", "off"])
def test_autocast_setting_reaches_the_matmuls(tmp_path, smollm2_path, shared_data, autocast):
    import torch

    down_proj = output_dtype_probe("layers.29.mlp.down_proj")  # not a LoRA target in TINY: a plain Linear
    stats = train_lora(dialogue_rows(shared_data, 2, 1), smollm2_path, tmp_path / autocast,
                       replace(TINY, max_steps=1, max_length=64, autocast=autocast), callbacks=[down_proj])
    assert stats.choice.autocast == (None if autocast == "off" else "bf16")
    assert down_proj.dtype == (torch.float32 if autocast == "off" else torch.bfloat16)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="needs a CUDA device")
def test_gpu_path_packs_rows_and_trains(tmp_path, smollm2_path, shared_data):
    """The GPU path: bf16, padding-free packed rows, Liger/flash-attention when installed."""
    stats = train_lora(dialogue_rows(shared_data, 16, 4), smollm2_path, tmp_path / "gpu",
                       replace(TINY, device="auto", torch_threads=0, max_steps=3, batch_size=1, max_length=512))
    assert stats.choice.device == "cuda" and stats.choice.packing is True
    assert stats.choice.dtype == "bfloat16"
    # One packed row of <= 512 tokens holds several ~80-token examples.
    assert stats.real_tokens > 3 * 200
    assert all(math.isfinite(p.loss) for p in stats.train_loss + stats.eval_loss)


@pytest.mark.parametrize("bad", [dict(warmup_ratio=1.5), dict(batch_size=0), dict(max_steps=0),
                                 dict(packing="yes"), dict(device="tpu")])
def test_bad_params_are_refused(bad):
    with pytest.raises(ValueError):
        replace(TINY, **bad)
