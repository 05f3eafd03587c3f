"""CI cannot pass by skipping: under CI=true a skip fails unless the test is marked gpu
(tests/support/ci_policy.py). Each case runs pytest in a subprocess, so CI is set only there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORPUS_TEST = "tests/unit/test_adapters.py::test_dailydialog_alternates_and_detokenizes"


def _pytest(args: list[str], tmp_path: Path, ci: bool, cwd: Path = REPO) -> tuple[int, str, str]:
    summary = tmp_path / f"skips-{ci}.tsv"
    env = {**os.environ, "PYTHONPATH": str(REPO), "VVAE_SHARED_DATA": str(tmp_path / "no-corpora"),
           "VVAE_SKIP_SUMMARY": str(summary)}
    env.pop("CI", None)
    if ci:
        env["CI"] = "true"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr, summary.read_text() if summary.exists() else ""


def test_a_missing_corpus_fails_under_ci_and_skips_otherwise(tmp_path):
    rc, out, summary = _pytest([CORPUS_TEST], tmp_path, ci=True)
    assert rc == 1, out
    assert "CI=true: this test was skipped (public corpora not found" in out
    assert summary.startswith("FAILED\t" + CORPUS_TEST)
    rc, out, summary = _pytest([CORPUS_TEST], tmp_path, ci=False)
    assert rc == 0 and "1 skipped" in out, out
    assert summary.startswith("skipped\t" + CORPUS_TEST)


def test_only_gpu_tests_may_skip_and_module_skips_fail(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    (folder / "test_case.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.gpu\n"
        "@pytest.mark.skipif(True, reason='needs a CUDA device')\n"
        "def test_on_gpu():\n    pass\n\n"
        "def test_needs_service():\n    pytest.skip('no PostgreSQL configured')\n\n"
        "@pytest.mark.xfail(reason='known')\n"
        "def test_known_bug():\n    assert False\n")
    (folder / "test_module_skip.py").write_text(
        "import pytest\npytest.skip('vllm is not importable here', allow_module_level=True)\n")
    args = [
        "-p",
        "tests.support.ci_policy",
        "--continue-on-collection-errors",
        "-o",
        "markers=gpu: needs a CUDA device",
        "--rootdir",
        str(folder),
        str(folder),
    ]
    rc, out, summary = _pytest(args, tmp_path, ci=True, cwd=folder)
    assert rc == 1, out
    assert "1 failed" in out and "1 skipped" in out and "1 xfailed" in out and "1 error" in out, out
    assert {line.split("\t")[0] + " " + line.split("\t")[1].split("::")[-1] for line in summary.splitlines()} == {
        "skipped test_on_gpu", "FAILED test_needs_service", "FAILED test_module_skip.py"}
    rc, out, _ = _pytest(args, tmp_path, ci=False, cwd=folder)
    assert rc == 0 and "3 skipped" in out and "1 xfailed" in out, out
