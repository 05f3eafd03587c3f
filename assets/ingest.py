"""Ingest and scrub stages: one landed batch -> raw_sessions (+ quarantine) -> scrubbed_sessions.

Raw tables hold pre-scrub text: their checks report counts and rule names only, never failure
cases (assets/checks.py ``show_cases=False``). Everything after the scrubber carries pseudonymous IDs
only, and the blocking ``no_pii`` check runs an independent detector (scrub/residual.py, plus each
session's own display names from raw_sessions) over the scrubbed text; when it finds anything the
check fails and the step fails before the table is written.
"""

import dagster as dg
import polars as pl

from assets.checks import schema_checks
from assets.config import param_field
from assets.partitions import batch_partitions
from assets.tables import schema_metadata, table_metadata
from resources.pseudonyms import PseudonymKeyResource
from resources.storage import StorageResource
from vvae_pipeline import schemas
from vvae_pipeline.scrub.entities import ENTITIES, ScrubParams

RAW = dg.AssetKey("raw_sessions")
QUARANTINE = dg.AssetKey("raw_sessions_quarantine")
SCRUBBED = dg.AssetKey("scrubbed_sessions")
# Raw tables hold pre-scrub text: their checks report rule names and counts, never cases.
RAW_CHECKS = schema_checks(RAW, schemas.RawSession, show_cases=False)
QUARANTINE_CHECKS = schema_checks(QUARANTINE, schemas.QuarantineRow, show_cases=False)
SCRUBBED_CHECKS = schema_checks(SCRUBBED, schemas.ScrubbedSession)


class ScrubConfig(dg.Config):
    max_sessions_per_agent: int = param_field(ScrubParams, "max_sessions_per_agent", ge=1)
    seed: int = param_field(ScrubParams, "seed")
    scrub_agent_names: bool = param_field(ScrubParams, "scrub_agent_names")
    ner_model_path: str | None = param_field(ScrubParams, "ner_model_path")

    def to_params(self) -> ScrubParams:
        return ScrubParams(**self.model_dump())


@dg.multi_asset(
    outs={
        "raw_sessions": dg.AssetOut(description="Sessions of one landed file that pass docs/session.schema.json "
                                                "and the cross-field rules; duplicates keep the latest line.",
                                    metadata=schema_metadata(schemas.RawSession)),
        "raw_sessions_quarantine": dg.AssetOut(description="Every record of the batch that was not accepted, "
                                                           "with file, line, reason and the raw record.",
                                               metadata=schema_metadata(schemas.QuarantineRow)),
    },
    partitions_def=batch_partitions,
    group_name="ingest",
    check_specs=[
        dg.AssetCheckSpec("records_accounted_for", asset=RAW, blocking=True,
                          description="records read = accepted + quarantined"),
        *RAW_CHECKS.specs, *QUARANTINE_CHECKS.specs,
    ],
)
def ingest_batch(context: dg.AssetExecutionContext, storage: StorageResource):
    from vvae_pipeline.ingest.landing import find_batch_file, read_landed_file

    key = context.partition_key
    path = find_batch_file(storage.landing_dir, key)
    raw, quarantine, stats = read_landed_file(path, batch_id=key)
    reasons = stats["quarantine_reasons"]  # value-free reason kinds -> counts
    context.log.info(f"{path.name}: read {stats['read']}, accepted {stats['accepted']}, "
                     f"quarantined {stats['quarantined']} {reasons}")
    yield dg.Output(raw, output_name="raw_sessions", metadata={
        **table_metadata(schemas.RawSession, raw, storage, RAW.path[-1], key),
        "source_file": path.name, "read": stats["read"], "accepted": stats["accepted"],
        "quarantined": stats["quarantined"], "blank_lines": stats["blank_lines"],
        "languages": dg.MetadataValue.json(dict(raw.group_by("language").len().iter_rows())),
    })
    yield dg.Output(quarantine, output_name="raw_sessions_quarantine", metadata={
        **table_metadata(schemas.QuarantineRow, quarantine, storage, QUARANTINE.path[-1], key),
        "source_file": path.name, "reasons": dg.MetadataValue.json(reasons),
    })
    accounted = stats["read"] == raw.height + quarantine.height
    yield dg.AssetCheckResult(check_name="records_accounted_for", asset_key=RAW, passed=accounted, metadata={
        "read": stats["read"], "accepted": raw.height, "quarantined": quarantine.height})
    yield from RAW_CHECKS.results(raw)
    yield from QUARANTINE_CHECKS.results(quarantine)


@dg.asset(
    partitions_def=batch_partitions,
    group_name="scrub",
    metadata=schema_metadata(schemas.ScrubbedSession),
    description="raw_sessions with PII replaced by typed placeholders consistent within a session "
                "([NAME_1] stays [NAME_1]), display names dropped, user/agent/session ids as keyed "
                "pseudonyms (HMAC-SHA256), highly active agents subsampled.",
    check_specs=[
        dg.AssetCheckSpec("no_pii", asset=SCRUBBED, blocking=True,
                          description="an independent detector (Presidio stock recognizers, phonenumbers, broad "
                                      "e-mail/URL/IP patterns, the session's display names) finds nothing in "
                                      "scrubbed text"),
        *SCRUBBED_CHECKS.specs,
    ],
)
def scrubbed_sessions(context: dg.AssetExecutionContext, config: ScrubConfig, pseudonyms: PseudonymKeyResource,
                      storage: StorageResource, raw_sessions: pl.DataFrame):
    from vvae_pipeline.scrub import Scrubber, residual_pii, scrub_sessions
    from vvae_pipeline.scrub.ner import ner_recognizers
    from vvae_pipeline.scrub.pseudonyms import pseudonym

    # A missing model path fails here, before anything is read, naming the setting (scrub/ner.py).
    scrubber = Scrubber(ner=ner_recognizers(config.ner_model_path))
    scrubbed, stats = scrub_sessions(raw_sessions, config.to_params(), scrubber, pseudonyms.key)
    # The display names the scrubber was asked to remove (agent names only if scrub_agent_names),
    # keyed by the session's pseudonym as the scrubbed table has it.
    name_cols = ["user_name", "agent_name"] if config.scrub_agent_names else ["user_name"]
    names = {pseudonym("session", r[0], pseudonyms.key): tuple(n for n in r[1:] if n)
             for r in raw_sessions.select("session_id", *name_cols).iter_rows()}
    # The independent detector decides (vvae_pipeline/scrub/residual.py), not the scrubber itself.
    left = residual_pii(scrubbed, names)
    residual = {f"residual_{e.lower()}": n for e, n in left.items()}  # counts only, never values
    if sum(left.values()):
        # The failed check is reported, then the step fails before the table is written: a
        # scrubbed table that still holds PII must not exist at all.
        yield dg.AssetCheckResult(check_name="no_pii", asset_key=SCRUBBED, passed=False, metadata=residual)
        raise dg.Failure(description="scrubbed text still holds PII; scrubbed_sessions not written",
                         metadata={k: n for k, n in residual.items() if n})
    by_type = stats["pii_by_type"]
    context.log.info(f"scrubbed {stats['sessions_out']} sessions ({stats['sessions_dropped_by_cap']} dropped by "
                     f"the per-agent cap): {stats['pii_total']} entities replaced {by_type}")
    yield dg.Output(scrubbed, metadata={
        **table_metadata(schemas.ScrubbedSession, scrubbed, storage, SCRUBBED.path[-1], context.partition_key),
        "sessions_in": stats["sessions_in"], "sessions_dropped_by_cap": stats["sessions_dropped_by_cap"],
        "utterances": stats["utterances"], "utterances_with_pii": stats["utterances_with_pii"],
        "pii_total": stats["pii_total"], **{f"pii_{e.lower()}": by_type[e] for e in ENTITIES},
        "id_key": "development default" if pseudonyms.is_development_default else "configured",
    })
    yield dg.AssetCheckResult(check_name="no_pii", asset_key=SCRUBBED, passed=True, metadata=residual)
    yield from SCRUBBED_CHECKS.results(scrubbed)
