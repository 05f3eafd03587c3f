"""The Dagster UI as a user sees it: `dagster dev` on a copy of the materialized DAG's instance,
driven by real headless Chromium (Debian's /usr/bin/chromium through Python Playwright).

Steps: open the global asset graph and see every asset; launch priors_job (persona_priors +
persona_prior_stats and their checks) from its page; watch the run page reach Success; see
persona_priors' row count and Columns (dagster/row_count, dagster/column_schema); open
benchmark_report and see the metadata its last materialization recorded. Screenshots go to
test-artifacts/ui/. Every process started here (dagster dev, its webserver, daemon and code
server; the browser) is stopped, and the test checks that none is left.

Needs scripts/ci_browser.sh (chromium + playwright); skipped, saying why, without them.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ASSETS = ["raw_sessions", "raw_sessions_quarantine", "scrubbed_sessions", "persona_extractions",
          "persona_priors", "persona_prior_stats", "agent_profiles", "declared_profiles", "sft_dataset",
          "lora_checkpoint", "test_personas", "benchmark_report", "promoted_adapter", "merged_model"]
LOCATION = "assets.definitions"  # workspace.yaml loads this python_module; the UI names it so
# Restores default SIGINT/SIGTERM before exec: a process started from a background shell job
# inherits SIGINT ignored and would outlive the test (seen on these machines: it ignored SIGTERM/SIGINT
# until the default handlers were restored).
EXEC_WITH_DEFAULT_SIGNALS = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                             "signal.signal(signal.SIGTERM, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])")
STARTUP_S = 180  # code location import + webserver; 8-10 s idle, much more on 2 busy cores
RUN_S = 240  # priors_job on the tiny DAG: seconds, plus run-worker start-up under load


def _requirements() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} missing: run scripts/ci_browser.sh"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "python playwright missing: run scripts/ci_browser.sh"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # Zombies of an exited leader still count for killpg; look for live members only.
    out = subprocess.run(["ps", "-o", "stat=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return any(not s.startswith("Z") for s in out.split())


def processes_with_env(var: str, value: str) -> list[int]:
    """Live pids whose environment has var=value: catches a run worker that left the group."""
    needle, found = f"{var}={value}".encode(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                if not (entry / "stat").read_text().split(") ", 1)[1].startswith("Z"):
                    found.append(int(entry.name))
        except (OSError, IndexError):  # gone meanwhile, or not ours to read
            continue
    return found


@contextmanager
def dagster_dev(workspace: Path, env: dict[str, str], log_path: Path):
    """`dagster dev` on 127.0.0.1:<free port> in its own process group; yields (base URL, group id)."""
    port = _free_port()
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [sys.executable, "-c", EXEC_WITH_DEFAULT_SIGNALS, dagster, "dev", "-w", str(workspace),
           "-h", "127.0.0.1", "-p", str(port)]
    log = open(log_path, "wb")
    proc = subprocess.Popen(cmd, cwd=workspace.parent, env={**os.environ, **env}, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    pgid = proc.pid  # start_new_session: the leader's pid is the group id
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"dagster dev exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{base}/server_info", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"dagster dev did not answer on {base} in {STARTUP_S} s; see {log_path}")
            time.sleep(1)
        yield base, pgid
    finally:
        if proc.poll() is None:
            os.killpg(pgid, signal.SIGTERM)  # dagster dev then stops its children (~3 s)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 15
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@contextmanager
def chromium_page(artifacts: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 2400, "height": 1200})
            page.set_default_timeout(60_000)
            yield page
        except BaseException:
            try:  # the state the user would have seen when it went wrong
                page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            except Exception:
                pass
            raise
        finally:
            browser.close()


def dismiss_welcome(page) -> None:
    # First visit only: Dagster's community sign-up dialog covers the page until skipped.
    skip = page.get_by_role("button", name="Skip", exact=True)
    try:
        skip.wait_for(state="visible", timeout=5_000)
        skip.click()
    except Exception:  # playwright TimeoutError: no dialog this time
        pass


def _shows(label: str, name: str) -> bool:
    # Zoomed out, the graph draws "minimal" nodes and elides long names in the middle:
    # "raw_se…_quarantine" for raw_sessions_quarantine.
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return len(head) + len(tail) < len(name) and name.startswith(head) and name.endswith(tail)


def see_every_asset(page, base: str, names: list[str]) -> list[str]:
    """The global lineage graph with every group expanded (Alt+E); returns the node labels."""
    page.goto(f"{base}/asset-groups")
    dismiss_welcome(page)
    page.get_by_text("Global asset lineage").wait_for()
    page.get_by_role("button", name=re.compile(r"Materialize all")).first.wait_for()
    time.sleep(2)  # the graph lays itself out after its data arrives; the shortcut needs the layout
    page.keyboard.press("Alt+e")
    nodes = page.locator("[class*='AssetNode_assetName']")
    deadline = time.monotonic() + 60
    while True:
        labels = [t.strip() for t in nodes.all_inner_texts()]
        missing = [n for n in names if not any(_shows(label, n) for label in labels)]
        if not missing:
            return labels
        if time.monotonic() > deadline:
            raise AssertionError(f"asset graph lacks {missing}; it shows {labels}")
        time.sleep(1)


def launch_job(page, base: str, location: str, job: str) -> str:
    """Click Materialize all on the job's page; return the run id, found through the Runs page."""
    page.goto(f"{base}/locations/{location}/jobs/{job}")
    dismiss_welcome(page)
    page.get_by_role("button", name=re.compile(r"Materialize all$")).click()
    toast = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    short_id = re.search(r"[0-9a-f]{8}", toast.first.inner_text()).group(0)
    page.goto(f"{base}/runs")
    link = page.locator(f"a[href*='/runs/{short_id}']").first  # the list links the full run id
    return re.search(r"/runs/([0-9a-f-]{36})", link.get_attribute("href")).group(1)


def wait_for_run(page, base: str, run_id: str, timeout_s: float) -> str:
    """Poll the run page until its status tag shows a terminal state; return that state."""
    status = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$"))
    page.goto(f"{base}/runs/{run_id}")
    status.first.wait_for(state="visible", timeout=timeout_s * 1000)
    return status.first.inner_text().strip()


def see_report_metadata(page, base: str, partition: str, keys: list[str]) -> None:
    """The report's Events tab, latest materialization selected: its first 16 metadata rows (the
    report, headline, claims, artifact paths, the human rates) are shown. The ~200 numeric rows
    after them are drawn only as the page scrolls; the e2e test reads those from the instance."""
    page.goto(f"{base}/assets/benchmark_report?view=events&partition={partition}")
    dismiss_welcome(page)
    shown = keys[:16]  # in the asset's own order: report, headline, claims, artifact paths, human/...
    assert {"report", "headline", "claims"} <= set(shown) and any(k.startswith("human/") for k in shown)
    for key in shown:
        page.get_by_text(key, exact=True).first.wait_for(state="visible")


def see_table_metadata(page, base: str, asset: str, columns: list[str], rows: int) -> None:
    """The asset's Overview: the Row count of its latest materialization (dagster/row_count) and the
    Columns section listing every column of its pandera model (dagster/column_schema)."""
    page.goto(f"{base}/assets/{asset}?view=overview")
    dismiss_welcome(page)
    label = page.get_by_text("Row count", exact=True).first
    label.wait_for(state="visible")
    assert label.locator("xpath=..").inner_text().split() == ["Row", "count", str(rows)], \
        label.locator("xpath=..").inner_text()
    page.get_by_text("Columns", exact=True).first.wait_for(state="visible")
    table = page.locator("table", has=page.get_by_text("Column name", exact=True)).first
    table.wait_for(state="visible")
    shown = [t.strip() for t in table.locator("tbody tr td:first-child").all_inner_texts()]
    assert shown == columns, shown


def latest_table(dagster_home: Path, asset: str) -> tuple[list[str], int]:
    """(column names, row count) that the asset's latest materialization recorded in that instance."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        meta = instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization.metadata
    finally:
        instance.dispose()
    return [c.name for c in meta["dagster/column_schema"].value.columns], meta["dagster/row_count"].value


def latest_report(dagster_home: Path) -> tuple[str, list[str]] | None:
    """(partition, metadata keys) of benchmark_report's latest materialization in that instance."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey("benchmark_report"))
    finally:
        instance.dispose()
    if event is None:
        return None
    mat = event.asset_materialization
    return mat.partition, [k for k in mat.metadata if not k.startswith("dagster/")]


def run_status(dagster_home: Path, run_id: str) -> tuple[str, str]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        run = instance.get_run_by_id(run_id)
        return run.job_name, run.status.value
    finally:
        instance.dispose()


def test_dagster_ui_end_to_end(request, tmp_path_factory):
    missing = _requirements()
    if missing:
        pytest.skip(missing)
    built = request.getfixturevalue("materialized_home")  # after the check: it costs minutes
    # A copy, so launching runs here never changes the instance other tests read.
    root = tmp_path_factory.mktemp("ui")
    dagster_home, vvae_home = root / "dagster", root / "home"
    shutil.copytree(built.dagster_home, dagster_home)
    shutil.copytree(built.vvae_home, vvae_home, symlinks=True)
    yaml_path = dagster_home / "dagster.yaml"
    if not yaml_path.exists():  # no telemetry from a test; SQLite storage stays the default
        yaml_path.write_text("telemetry:\n  enabled: false\n")
    report = latest_report(dagster_home)
    assert report is not None, "materialized_home has no benchmark_report materialization"
    partition, keys = report
    assert keys, "benchmark_report recorded no metadata"

    shots = ARTIFACTS
    shots.mkdir(parents=True, exist_ok=True)
    env = {"DAGSTER_HOME": str(dagster_home), "VVAE_HOME": str(vvae_home),
           "VVAE_MODELS_DIR": str(built.models_dir)}
    with dagster_dev(REPO / "workspace.yaml", env, shots / "dagster_dev.log") as (base, pgid):
        with chromium_page(shots) as page:
            labels = see_every_asset(page, base, ASSETS)
            assert len(labels) == len(ASSETS), labels  # one node per asset, nothing unexpected
            page.screenshot(path=str(shots / "1_asset_graph.png"))
            run_id = launch_job(page, base, LOCATION, "priors_job")
            status = wait_for_run(page, base, run_id, RUN_S)
            page.screenshot(path=str(shots / "2_priors_run.png"), full_page=True)
            assert status == "Success", f"priors_job run {run_id} ended {status}"
            columns, rows = latest_table(dagster_home, "persona_priors")  # the run just materialized it
            see_table_metadata(page, base, "persona_priors", columns, rows)
            page.screenshot(path=str(shots / "3_persona_priors_columns.png"), full_page=True)
            see_report_metadata(page, base, partition, keys)
            page.screenshot(path=str(shots / "4_benchmark_report.png"), full_page=True)
    assert not _group_alive(pgid), "a process started by dagster dev outlived the test"
    assert processes_with_env("DAGSTER_HOME", str(dagster_home)) == []
    assert run_status(dagster_home, run_id) == ("priors_job", "SUCCESS")
