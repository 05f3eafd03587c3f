"""pandera (polars) models of every table that crosses a stage boundary.

These are the contracts between stages: a stage may add columns only by changing its model here.
``validate(df, Model)`` is the one pure validation function; the Dagster layer wraps it in
blocking asset checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from vvae_pipeline.latent import AXES, DIMENSION_NAMES
from vvae_pipeline.params import SPLIT_NAMES

# Each value set is defined here once; the landing schema, the stages and the tests import it.
LANGUAGES = ("en", "zh")
ROLES = ("user", "agent")
X_SOURCES = ("annotation", "original_reply")  # x = an annotator's rewrite, or the turn as landed
EXTRACTION_STATUSES = ("ok", "retried", "failed")
SPLITS = SPLIT_NAMES
# Where an SFT row's persona value came from (sft.sampling):
OBSERVED, SAMPLED, NONE, DROPPED = "observed", "sampled", "none", "dropped"
IMPUTED, CORRUPTED = "imputed", "corrupted"  # the agent's own mode; an observed value replaced (sensitivity)
TURN = pl.Struct({"role": pl.Utf8, "text": pl.Utf8, "ts": pl.Utf8})
ANNOTATION = pl.Struct({"turn_index": pl.Int64, "rewritten_text": pl.Utf8, "annotator_id": pl.Utf8})
MESSAGE = pl.Struct({"role": pl.Utf8, "content": pl.Utf8})


class _Lineage(pa.DataFrameModel):
    """Columns that let an auditor walk from any row back to the landed file."""

    batch_id: str = pa.Field(str_length={"min_value": 1})
    source_file: str = pa.Field(str_length={"min_value": 1})
    source_line: int = pa.Field(ge=1)


# One nullable string column per latent dimension, derived from latent.DIMENSIONS (never listed
# by hand). Models put it before their own columns: ``class M(_Persona, _Lineage)`` orders the
# columns lineage, persona, then M's own.
_Persona = type("_Persona", (pa.DataFrameModel,), {
    "__annotations__": {d: str for d in DIMENSION_NAMES},
    "__doc__": "The nine persona dimensions of z, null where the text does not show one.",
    **{d: pa.Field(nullable=True) for d in DIMENSION_NAMES},
})


class RawSession(_Lineage):
    session_id: str = pa.Field(str_length={"min_value": 1})
    agent_id: str = pa.Field(str_length={"min_value": 1})
    user_id: str = pa.Field(str_length={"min_value": 1})
    agent_name: str = pa.Field(nullable=True)
    user_name: str = pa.Field(nullable=True)
    language: str = pa.Field(isin=LANGUAGES)
    turns: pl.List(TURN) = pa.Field()
    annotations: pl.List(ANNOTATION) = pa.Field()
    x_source: str = pa.Field(isin=X_SOURCES)
    agent_profile: str = pa.Field(nullable=True)  # the declared persona as JSON {dimension: value}, or null

    class Config:
        strict = True
        unique = ["session_id"]


class QuarantineRow(pa.DataFrameModel):
    batch_id: str = pa.Field()
    source_file: str = pa.Field()
    source_line: int = pa.Field(ge=0)  # 0: the file as a whole (unreadable)
    session_id: str = pa.Field(nullable=True)
    reason: str = pa.Field(str_length={"min_value": 1})
    record: str = pa.Field(nullable=True)  # the raw record, kept so nothing is lost

    class Config:
        strict = True


class ScrubbedSession(_Lineage):
    session_id: str = pa.Field(str_length={"min_value": 1})
    agent_id: str = pa.Field(str_length={"min_value": 1})
    user_id: str = pa.Field(str_length={"min_value": 1})
    language: str = pa.Field(isin=LANGUAGES)
    turns: pl.List(TURN) = pa.Field()
    annotations: pl.List(ANNOTATION) = pa.Field()
    x_source: str = pa.Field(isin=X_SOURCES)
    agent_profile: str = pa.Field(nullable=True)  # declared persona JSON, its values scrubbed like the turns
    pii_found: int = pa.Field(ge=0)  # entities replaced in this session

    class Config:
        strict = True
        unique = ["session_id"]


class PersonaExtraction(_Persona, _Lineage):
    extraction_id: str = pa.Field(str_length={"min_value": 1})
    session_id: str = pa.Field()
    agent_id: str = pa.Field()
    user_id: str = pa.Field()
    language: str = pa.Field(isin=LANGUAGES)
    turn_index: int = pa.Field(ge=0)
    context: pl.List(pl.Struct({"role": pl.Utf8, "text": pl.Utf8})) = pa.Field()
    reply: str = pa.Field(str_length={"min_value": 1})
    x_source: str = pa.Field(isin=X_SOURCES)
    status: str = pa.Field(isin=EXTRACTION_STATUSES)
    null_reasons: str = pa.Field()  # JSON object: dimension -> why it is null
    raw_output: str = pa.Field(nullable=True)
    engine: str = pa.Field()
    model: str = pa.Field()
    prompt_version: str = pa.Field()

    class Config:
        strict = True
        unique = ["extraction_id"]


class TestPersona(PersonaExtraction):
    """A test example (real c and x) whose persona columns hold the test-time z: what the encoder
    read from the context alone (evaluate.deployment_persona), never from x."""

    status: str = pa.Field(isin=(*EXTRACTION_STATUSES, "no_agent_turn", "declared"))

    class Config:
        strict = True
        unique = ["extraction_id"]


class PersonaPrior(pa.DataFrameModel):
    axis: str = pa.Field(isin=AXES)
    dimension: str = pa.Field(isin=DIMENSION_NAMES)
    value: str = pa.Field(str_length={"min_value": 1})
    count: int = pa.Field(ge=1)
    probability: float = pa.Field(gt=0.0, le=1.0)

    class Config:
        strict = True
        unique = ["dimension", "value"]


class DeclaredProfile(pa.DataFrameModel):
    """encode.profiles.declared_profiles: per (agent, dimension) the value its platform declared."""

    agent_id: str = pa.Field(str_length={"min_value": 1})
    dimension: str = pa.Field(isin=DIMENSION_NAMES)
    value: str = pa.Field(str_length={"min_value": 1})
    n_declaring: int = pa.Field(ge=1)
    n_sessions: int = pa.Field(ge=1)

    class Config:
        strict = True
        unique = ["agent_id", "dimension"]


class AgentProfile(pa.DataFrameModel):
    """encode.profiles.agent_profiles: per (agent, dimension) the most frequent grounded value."""

    agent_id: str = pa.Field(str_length={"min_value": 1})
    language: str = pa.Field(isin=LANGUAGES)
    axis: str = pa.Field(isin=AXES)
    dimension: str = pa.Field(isin=DIMENSION_NAMES)
    value: str = pa.Field(str_length={"min_value": 1})
    count: int = pa.Field(ge=1)
    n_observed: int = pa.Field(ge=1)
    n_extractions: int = pa.Field(ge=1)
    share: float = pa.Field(gt=0.0, le=1.0)

    class Config:
        strict = True
        unique = ["agent_id", "dimension"]

    @pa.dataframe_check
    def counts_nest(cls, data) -> pl.LazyFrame:
        """count <= n_observed <= n_extractions"""
        return data.lazyframe.select((pl.col("count") <= pl.col("n_observed"))
                                     & (pl.col("n_observed") <= pl.col("n_extractions")))


class PriorStats(pa.DataFrameModel):
    axis: str = pa.Field(isin=AXES)
    dimension: str = pa.Field(isin=DIMENSION_NAMES, unique=True)
    n_rows: int = pa.Field(ge=0)
    n_observed: int = pa.Field(ge=0)
    null_rate: float = pa.Field(ge=0.0, le=1.0)
    n_distinct: int = pa.Field(ge=0)

    class Config:
        strict = True


class SFTExample(_Persona, _Lineage):
    example_id: str = pa.Field(str_length={"min_value": 1})
    extraction_id: str = pa.Field()
    session_id: str = pa.Field()
    agent_id: str = pa.Field()
    backbone: str = pa.Field()
    variant: str = pa.Field()
    split: str = pa.Field(isin=SPLITS)
    language: str = pa.Field(isin=LANGUAGES)
    messages: pl.List(MESSAGE) = pa.Field()  # system (persona), history, final assistant = target x
    reply: str = pa.Field(str_length={"min_value": 1})
    origins: str = pa.Field()  # JSON object: dimension -> one of ORIGINS

    class Config:
        strict = True
        unique = ["example_id"]


@dataclass(frozen=True)
class ValidationReport:
    passed: bool
    n_rows: int
    failures: list[dict]  # one per failed rule: column, check, a few failure cases

    def summary(self, limit: int = 5) -> str:
        if self.passed:
            return f"{self.n_rows} rows pass"
        lines = [f"{f['column']}: {f['check']} (e.g. {f['cases']})" for f in self.failures[:limit]]
        return f"{len(self.failures)} rule(s) failed:\n" + "\n".join(lines)


def polars_schema(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """The polars dtypes of ``model``'s columns, in its column order: tables are built from this,
    never from a hand-written dtype list."""
    return {name: col.dtype.type for name, col in model.to_schema().columns.items()}


def validate(df: pl.DataFrame, model: type[pa.DataFrameModel]) -> ValidationReport:
    """Validate ``df`` against ``model`` lazily, collecting every failed rule."""
    try:
        model.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        failures = []
        cases = exc.failure_cases
        if isinstance(cases, pl.DataFrame) and cases.height:
            for row in cases.group_by(["column", "check"], maintain_order=True).agg(
                pl.col("failure_case").head(3).alias("cases")
            ).iter_rows(named=True):
                failures.append({"column": str(row["column"]), "check": str(row["check"]), "cases": row["cases"]})
        else:
            failures.append({"column": "", "check": str(exc)[:500], "cases": []})
        return ValidationReport(False, df.height, failures)
    except pa.errors.SchemaError as exc:
        return ValidationReport(False, df.height, [{"column": "", "check": str(exc)[:500], "cases": []}])
    return ValidationReport(True, df.height, [])
