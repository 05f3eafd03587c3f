"""benchmark_report materialized for real: SmolLM2 on CPU, two tiny real LoRA adapters, the
sft_dataset partitions loaded through the io_manager with the by-backbone partition mapping."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import polars as pl
import pytest

from assets.report import ReportConfig, benchmark_report
from resources.llm import GeneratorResource, PromptingResource
from resources.storage import ParquetIOManager, StorageResource
from resources.tracking import MLflowResource
from tests.support.report_inputs import BACKBONE, STUBS, TRAINED, write_report_inputs

CANNED = "no worries at all, sunshine 🌙"


@pytest.fixture
def prompting_endpoint():
    """A local OpenAI-compatible endpoint for the k-shot baselines: canned replies, requests kept."""
    seen: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's name for it
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": CANNED},
                                            "finish_reason": "stop"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", seen
    httpd.shutdown()


@pytest.mark.slow
def test_benchmark_report_materializes(prompting_endpoint, tmp_path, smollm2_path, models_dir, shared_data):
    storage = StorageResource(home=str(tmp_path), models=str(models_dir), corpora=str(shared_data))
    write_report_inputs(storage, smollm2_path)

    config = ReportConfig(max_test_prompts=4, max_new_tokens=12, shots=[2], dialogbench_items_per_task=1,
                          dialogbench_tasks=["ic_en", "ed_zh"], dialogbench_systems=["base", "sp_ft"],
                          bootstrap_samples=200)
    result = dg.materialize(
        [*STUBS, benchmark_report],
        selection=[benchmark_report],
        partition_key=BACKBONE,
        resources={"storage": storage, "io_manager": ParquetIOManager(home=str(tmp_path)),
                   "generator": GeneratorResource(torch_threads=1),
                   "prompting": PromptingResource(base_url=prompting_endpoint[0], model="served-model"),
                   "mlflow": MLflowResource()},
        run_config=dg.RunConfig({"benchmark_report": config}),
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    mat = result.asset_materializations_for_node("benchmark_report")[0]
    md = mat.metadata["report"].value
    out = storage.artifact_dir("benchmark_report", BACKBONE)
    summary = json.loads((out / "summary.json").read_text())
    systems = {s["system"]: s for s in summary["systems"]}

    # Trained adapters, the base model and the 2-shot baseline generated; p_ft has no adapter.
    assert {"human", "ft", "sp_ft", "base", "2-shot"} <= set(systems)
    assert systems["p_ft"]["status"] == "not trained" and "not trained" in md
    assert all(systems[s]["n"] == 4 for s in ("human", "ft", "sp_ft", "base", "2-shot"))
    # Human targets come from the detectors on the chosen human replies (hand-countable).
    samples = pl.read_parquet(out / "samples.parquet")
    human = samples.filter(pl.col("system") == "human")
    assert summary["human"]["cp"] == pytest.approx(human["cp"].mean())
    # Real generations: the perturbed adapter changes what the model says.
    outs = {s: samples.filter(pl.col("system") == s).sort("extraction_id")["output"].to_list()
            for s in ("base", "sp_ft")}
    assert outs["base"] != outs["sp_ft"] and all(isinstance(o, str) for o in outs["base"])
    # The 2-shot baseline ran on the endpoint (the paper's API baselines), one request per test prompt.
    url, seen = prompting_endpoint
    assert len(seen) == 4 and all(r["model"] == "served-model" for r in seen)
    assert all(r["messages"][0]["role"] == "system" and
               len([m for m in r["messages"] if m["role"] == "assistant"]) >= 2 for r in seen)  # 2 shots + history
    assert samples.filter(pl.col("system") == "2-shot")["output"].to_list() == [CANNED] * 4
    assert summary["settings"]["prompting_baselines_on"] == "openai-compatible:served-model"
    # The headline names a trained variant and is stated only as far as the intervals allow.
    headline = mat.metadata["headline"].value
    assert headline.startswith(("Not resolved:", "FT (`ft`)", "SP+FT (`sp_ft`)")) and "95% CI" in headline
    assert all(systems[s]["distance_lo"] <= systems[s]["distance"] <= systems[s]["distance_hi"] for s in TRAINED)
    assert mat.metadata["sp_ft/distance"].value == pytest.approx(systems["sp_ft"]["distance"])
    assert [c["claim"] for c in summary["claims"]] == [1, 2, 3, 4, 5, 6]
    # DialogBench ran for both systems on both tasks, each item rotated through 4 positions.
    for system in ("base", "sp_ft"):
        tasks = summary["dialogbench"][system]
        assert set(tasks) == {"IC-en", "ED-zh"} and all(sum(t["picked_position"]) == 4 for t in tasks.values())
    # Loss curves and the decoding parameters are in the report.
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG" and "data:image/png;base64," in md
    assert summary["settings"]["decoding"]["max_new_tokens"] == 12
    assert "<table>" in (out / "report.html").read_text()
