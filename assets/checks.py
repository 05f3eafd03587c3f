"""Asset checks made from pure validation rules.

``make_table_checks(asset, rules)`` turns a ``{check name: rule}`` mapping (rules are pure
functions ``DataFrame -> schemas.ValidationReport``, e.g. vvae_pipeline.priors.checks) into one
``multi_asset_check`` that loads the table once and reports one check per rule, each named for
its rule and blocking by default: a failed rule stops every downstream asset of the run.

The failure message (which rule, which column, up to three cases) goes into the check's
metadata. Tables upstream of the PII scrubber must pass ``show_cases=False`` so that raw values
never reach Dagster metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import dagster as dg
import polars as pl

from vvae_pipeline.schemas import ValidationReport

Rule = Callable[[pl.DataFrame], ValidationReport]


def _failures_markdown(report: ValidationReport, show_cases: bool) -> str:
    head = "| column | rule | examples |\n|---|---|---|\n" if show_cases else "| column | rule |\n|---|---|\n"
    rows = []
    for f in report.failures:
        cells = [str(f["column"]), str(f["check"]).replace("|", "\\|")]
        if show_cases:
            cells.append(", ".join(str(c) for c in f["cases"]).replace("|", "\\|"))
        rows.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(rows)


def check_result(name: str, key: dg.AssetKey, report: ValidationReport, show_cases: bool = True,
                 severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR) -> dg.AssetCheckResult:
    """One rule's report as an AssetCheckResult with a readable message."""
    if report.passed:
        message = f"{name}: {report.summary()}"
    elif show_cases:
        message = f"{name} failed on {report.n_rows} rows. " + report.summary()
    else:
        message = f"{name} failed on {report.n_rows} rows: " + "; ".join(
            f"{f['column']}: {f['check']}" for f in report.failures)
    metadata: dict[str, object] = {"message": dg.MetadataValue.text(message), "rows": report.n_rows,
                                   "failed_rules": len(report.failures)}
    if not report.passed:
        metadata["failures"] = dg.MetadataValue.md(_failures_markdown(report, show_cases))
    return dg.AssetCheckResult(check_name=name, asset_key=key, passed=report.passed, severity=severity,
                               metadata=metadata)


def run_rule(rule: Rule, df: pl.DataFrame) -> ValidationReport:
    """A rule that raises is a failed rule, not a crashed check step (the other rules still run)."""
    try:
        return rule(df)
    except Exception as exc:  # noqa: BLE001 - reported as the rule's failure
        return ValidationReport(False, df.height, [{"column": "", "check": f"rule raised {type(exc).__name__}: "
                                                    f"{str(exc)[:300]}", "cases": []}])


def make_table_checks(asset: str | dg.AssetKey, rules: Mapping[str, Rule], *, blocking: bool = True,
                      show_cases: bool = True, name: str | None = None) -> dg.AssetChecksDefinition:
    """One blocking check per rule on an unpartitioned table, run in one step over one load."""
    key = dg.AssetKey.from_coercible(asset)
    if not rules:
        raise ValueError(f"no rules given for {key.to_user_string()}")
    specs = [dg.AssetCheckSpec(rule_name, asset=key, blocking=blocking,
                               description=(rule.__doc__ or rule_name).strip().splitlines()[0])
             for rule_name, rule in rules.items()]

    @dg.multi_asset_check(name=name or f"{key.to_python_identifier()}_checks", specs=specs,
                          ins={"table": dg.AssetIn(key=key)})
    def _table_checks(table: pl.DataFrame):
        for rule_name, rule in rules.items():
            yield check_result(rule_name, key, run_rule(rule, table), show_cases)

    return _table_checks
