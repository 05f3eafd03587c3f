"""Asset checks made from pure validation rules: the one way vvae validates a table.

``TableChecks(asset, rules)`` holds a ``{check name: rule}`` mapping (rules are pure functions
``DataFrame -> schemas.ValidationReport``, e.g. vvae_pipeline.priors.checks, or ``schema_rule(Model)``)
and serves both kinds of table:
- a partitioned asset declares ``check_specs=checks.specs`` and ends with
  ``yield from checks.results(df)`` (the check runs in the asset's step, on the partition);
- an unpartitioned table gets ``checks.definition()``, one ``multi_asset_check`` that loads the table
  once (``make_table_checks`` is that shortcut).
Each check is named for its rule and blocking by default: a failed rule stops every downstream
asset of the run. A schema breach is a failed check, never an exception in the asset body.

The failure message (which rule, which column, up to three cases) goes into the check's
metadata. Tables upstream of the PII scrubber must pass ``show_cases=False`` so that raw values
never reach Dagster metadata.

``FindingChecks`` serves the checks that notice a garbage z (vvae_pipeline.encode.garbage): their
rules return every figure they rest on (metadata ``figures``, JSON), and a failure is a WARN unless
the deployment sets ``VVAE_PERSONA_CHECKS=block``, which makes it an ERROR. Their specs are
blocking either way: Dagster skips downstream assets only after a blocking check fails with
ERROR severity, so the setting alone decides whether garbage stops the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

import dagster as dg
import polars as pl

from vvae_pipeline.schemas import ValidationReport, validate

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
                 severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
                 figures: dict | None = None) -> dg.AssetCheckResult:
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
    if figures is not None:
        metadata["figures"] = dg.MetadataValue.json(figures)
    return dg.AssetCheckResult(check_name=name, asset_key=key, passed=report.passed, severity=severity,
                               metadata=metadata)


def run_rule(rule: Rule, df: pl.DataFrame) -> ValidationReport:
    """A rule that raises is a failed rule, not a crashed check step (the other rules still run)."""
    try:
        return rule(df)
    except Exception as exc:  # any error: reported as the rule's failure
        return ValidationReport(False, df.height, [{"column": "", "check": f"rule raised {type(exc).__name__}: "
                                                    f"{str(exc)[:300]}", "cases": []}])


def schema_rule(model) -> Rule:
    """The rule "``df`` passes the pandera model ``model``" (vvae_pipeline.schemas)."""
    def rule(df: pl.DataFrame) -> ValidationReport:
        return validate(df, model)

    rule.__doc__ = f"schemas.{model.__name__}"
    return rule


class TableChecks:
    """Blocking checks, one per rule, for one table (partitioned or not)."""

    def __init__(self, asset: str | dg.AssetKey, rules: Mapping[str, Rule], *, blocking: bool = True,
                 show_cases: bool = True):
        self.key = dg.AssetKey.from_coercible(asset)
        if not rules:
            raise ValueError(f"no rules given for {self.key.to_user_string()}")
        self.rules, self.blocking, self.show_cases = dict(rules), blocking, show_cases

    @property
    def specs(self) -> list[dg.AssetCheckSpec]:
        return [dg.AssetCheckSpec(name, asset=self.key, blocking=self.blocking,
                                  description=(rule.__doc__ or name).strip().splitlines()[0])
                for name, rule in self.rules.items()]

    def results(self, df: pl.DataFrame) -> Iterator[dg.AssetCheckResult]:
        for name, rule in self.rules.items():
            yield check_result(name, self.key, run_rule(rule, df), self.show_cases)

    def definition(self, name: str | None = None) -> dg.AssetChecksDefinition:
        @dg.multi_asset_check(name=name or f"{self.key.to_python_identifier()}_checks", specs=self.specs,
                              ins={"table": dg.AssetIn(key=self.key)})
        def _table_checks(table: pl.DataFrame):
            yield from self.results(table)

        return _table_checks


def schema_checks(asset: str | dg.AssetKey, model, *, show_cases: bool = True, **rules: Rule) -> TableChecks:
    """A ``schema`` check against ``model`` plus any further named rules."""
    return TableChecks(asset, {"schema": schema_rule(model), **rules}, show_cases=show_cases)


def make_table_checks(asset: str | dg.AssetKey, rules: Mapping[str, Rule], *, blocking: bool = True,
                      show_cases: bool = True, name: str | None = None) -> dg.AssetChecksDefinition:
    """One blocking check per rule on an unpartitioned table, run in one step over one load."""
    return TableChecks(asset, rules, blocking=blocking, show_cases=show_cases).definition(name)


PERSONA_CHECKS_ENV = "VVAE_PERSONA_CHECKS"
PERSONA_CHECK_MODES = ("warn", "block")


def persona_check_severity() -> dg.AssetCheckSeverity:
    """The severity of a failed garbage check: WARN by default (the run goes on and the UI shows
    it), ERROR under ``VVAE_PERSONA_CHECKS=block`` (its blocking spec then stops downstream assets).
    Read when the check runs, so a deployment changes it without a code change."""
    mode = (os.environ.get(PERSONA_CHECKS_ENV) or "warn").strip().lower()
    if mode not in PERSONA_CHECK_MODES:
        raise ValueError(f"{PERSONA_CHECKS_ENV} must be one of {PERSONA_CHECK_MODES}, got {mode!r}")
    return dg.AssetCheckSeverity.ERROR if mode == "block" else dg.AssetCheckSeverity.WARN


class FindingChecks:
    """One check per rule of ``evaluate`` (a function returning {check name: garbage.Finding}),
    for one table; ``descriptions`` names the checks and says what each one means."""

    def __init__(self, asset: str | dg.AssetKey, descriptions: Mapping[str, str], evaluate: Callable[..., dict]):
        self.key = dg.AssetKey.from_coercible(asset)
        self.descriptions, self.evaluate = dict(descriptions), evaluate

    @property
    def specs(self) -> list[dg.AssetCheckSpec]:
        return [dg.AssetCheckSpec(name, asset=self.key, blocking=True, description=desc)
                for name, desc in self.descriptions.items()]

    def results(self, *inputs) -> Iterator[dg.AssetCheckResult]:
        severity = persona_check_severity()
        try:
            findings, why = self.evaluate(*inputs), "gave no finding"
        except Exception as exc:  # any error: every check reports it instead of crashing the step
            findings, why = {}, f"raised {type(exc).__name__}: {str(exc)[:300]}"
        for name in self.descriptions:
            finding = findings.get(name)
            if finding is None:
                report = ValidationReport(False, inputs[0].height,
                                          [{"column": "", "check": f"rule {why}", "cases": []}])
                yield check_result(name, self.key, report, severity=severity)
            else:
                yield check_result(name, self.key, finding.report, severity=severity, figures=finding.figures)

    def definition(self, name: str | None = None) -> dg.AssetChecksDefinition:
        @dg.multi_asset_check(name=name or f"{self.key.to_python_identifier()}_garbage_checks", specs=self.specs,
                              ins={"table": dg.AssetIn(key=self.key)})
        def _finding_checks(table: pl.DataFrame):
            yield from self.results(table)

        return _finding_checks


def finding_descriptions(rules: Mapping[str, Callable]) -> dict[str, str]:
    """Each rule's docstring, first sentence, as its check's description."""
    return {name: " ".join((rule.__doc__ or name).split()).split(". ")[0] for name, rule in rules.items()}
