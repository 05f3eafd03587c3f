"""pytest plugin: under CI (``CI=true``) a skipped test is a failed test, unless it is marked ``gpu``.

A skip for a missing service (PostgreSQL, chromium), a missing ``../shared/data`` or a missing
package would otherwise let CI pass without running the test. Only GPU tests may skip, since CI
has no GPU. Skips raised while collecting a module (``pytest.skip(allow_module_level=True)``) fail
the same way; .ci/run therefore runs tests/vllm_cpu only in .venv-vllm and ignores that folder in
the .venv run. ``xfail`` is not a skip and is left alone.

With ``VVAE_SKIP_SUMMARY=<file>`` every skip (allowed or turned into a failure) is appended to that
file as ``<outcome>\t<nodeid>\t<reason>``; .ci/run prints it at the end. Needs only pytest (it
runs in .venv-vllm too, which has no Dagster).
"""

from __future__ import annotations

import os

import pytest

ALLOWED_MARKERS = ("gpu",)


def ci_enabled() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _record(outcome: str, nodeid: str, reason: str) -> None:
    path = os.environ.get("VVAE_SKIP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"{outcome}\t{nodeid}\t{' '.join(reason.split())}\n")


def _fail(report, reason: str) -> None:
    report.outcome = "failed"
    report.longrepr = (f"CI=true: this test was skipped ({reason}); under CI a skip is a failure "
                       f"(only tests marked {', '.join(ALLOWED_MARKERS)} may skip). Provide what it needs.")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    allowed = any(item.get_closest_marker(m) for m in ALLOWED_MARKERS)
    if ci_enabled() and not allowed:
        _record("FAILED", item.nodeid, reason)
        _fail(report, reason)
    else:
        _record("skipped", item.nodeid, reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    report = outcome.get_result()
    if report.skipped:
        reason = _reason(report)
        if ci_enabled():
            _record("FAILED", report.nodeid, reason)
            _fail(report, reason)
        else:
            _record("skipped", report.nodeid, reason)


def pytest_report_header(config):
    if ci_enabled():
        return f"CI=true: skips fail unless the test is marked {', '.join(ALLOWED_MARKERS)}"
    return None
