"""Raw data retention: raw_sessions and raw_sessions_quarantine hold pre-scrub text (names,
phone numbers, addresses exactly as users typed them). ``raw_retention_job`` deletes their
partitions older than ``raw_retention_days`` (by the file's write time); 0, the default, keeps
everything. The days default comes from ``VVAE_RAW_RETENTION_DAYS``; the daily schedule is off
until it is turned on in the UI. Scrubbed tables and everything downstream are kept: they hold no
raw values. Metadata and logs carry counts only, never batch keys or file names.
"""

import os
import time
from pathlib import Path

import dagster as dg

from assets.config import config_only
from resources.storage import StorageResource

RAW_ASSETS = ("raw_sessions", "raw_sessions_quarantine")


def _default_days() -> int:
    raw = os.environ.get("VVAE_RAW_RETENTION_DAYS", "0").strip() or "0"
    if not raw.isdigit():
        raise ValueError(f"VVAE_RAW_RETENTION_DAYS must be a whole number of days >= 0, got {raw!r}")
    return int(raw)


class RetentionConfig(dg.Config):
    raw_retention_days: int = config_only(_default_days(), "delete raw partitions older than this many days; "
                                          "0 keeps all", ge=0)
    dry_run: bool = config_only(False, "count what would be deleted, delete nothing")


def expired_raw_files(tables_root: Path, days: int, now: float | None = None) -> list[Path]:
    """Parquet files of the raw assets under ``tables_root`` written more than ``days`` days ago."""
    if days <= 0:
        return []
    cutoff = (now if now is not None else time.time()) - days * 86_400
    return sorted(p for asset in RAW_ASSETS for p in (tables_root / asset).rglob("*.parquet")
                  if p.stat().st_mtime < cutoff)


@dg.op(description="Delete raw_sessions / raw_sessions_quarantine partitions older than the retention setting.")
def delete_expired_raw_partitions(context: dg.OpExecutionContext, config: RetentionConfig,
                                  storage: StorageResource) -> dict:
    files = expired_raw_files(storage.root / "tables", config.raw_retention_days)
    counts = {asset: sum(1 for p in files if p.is_relative_to(storage.root / "tables" / asset)) for asset in RAW_ASSETS}
    if not config.dry_run:
        for p in files:
            p.unlink(missing_ok=True)
    verb = "would delete" if config.dry_run else "deleted"
    if config.raw_retention_days == 0:
        context.log.info("raw retention is off (raw_retention_days = 0): nothing deleted")
    else:
        context.log.info(f"{verb} {len(files)} raw partitions older than {config.raw_retention_days} days: {counts}")
    context.add_output_metadata({"retention_days": config.raw_retention_days, "dry_run": config.dry_run,
                                 **{f"{verb.replace(' ', '_')}_{a}": n for a, n in counts.items()}})
    return counts


@dg.job(description="Delete raw (pre-scrub) partitions past the retention setting (off by default).")
def raw_retention_job():
    delete_expired_raw_partitions()


raw_retention_schedule = dg.ScheduleDefinition(
    job=raw_retention_job, cron_schedule="30 3 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Daily raw-data retention (turn on once VVAE_RAW_RETENTION_DAYS is set).")
