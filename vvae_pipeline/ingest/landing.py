"""Read landed session files without losing a record.

A landed file is JSON Lines (``.jsonl``/``.ndjson``, one session per line) or Parquet (one session
per row); the format is docs/session.schema.json (a package copy lives in vvae_pipeline/data/).
Every record read ends in exactly one of two tables:

- raw sessions (schemas.RawSession): records that pass the schema and the cross-field rules;
- quarantine (schemas.QuarantineRow): everything else, with file, line, a reason and the raw record.

Invariant: ``stats["read"] == stats["accepted"] + stats["quarantined"]``. Blank JSON Lines lines
are not records (they are counted in ``stats["blank_lines"]``). Reasons are built from the schema
path and rule only, never from the record's values, so they are safe to count in metadata.
"""

from __future__ import annotations

import gc
import json
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import polars as pl

from vvae_pipeline.hashing import sha256_file
from vvae_pipeline.ingest.session_schema import SCHEMA_PATH, check_record, session_id_of  # noqa: F401 (API)
from vvae_pipeline.latent import DIMENSION_NAMES
from vvae_pipeline.schemas import (
    QuarantineRow,
    RawSession,
    polars_schema,
)

JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
LANDED_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES
# A line longer than 1 MiB is not a chat session (8,000 chars x 500 turns is ~4 MB only in theory;
# real sessions are < 50 kB); refuse it before json.loads so one bad line cannot eat the memory.
MAX_LINE_BYTES = 1 << 20
RAW_COLUMNS = polars_schema(RawSession)
QUARANTINE_COLUMNS = polars_schema(QuarantineRow)


# ---------------------------------------------------------------- batch keys and the landing folder
@lru_cache(maxsize=4096)
def _cached_sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on (size, mtime) so a sensor tick re-hashes only files that changed.
    return sha256_file(Path(path))


def content_hash(path: Path) -> str:
    st = Path(path).stat()
    return _cached_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def batch_key(path: Path) -> str:
    """``<stem>-<first 12 hex of sha256(content)>``, lower-case, only ``[a-z0-9_-]``."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", Path(path).stem.lower()).strip("-")[:48] or "batch"
    return f"{stem}-{content_hash(Path(path))[:12]}"


def is_landed_file(path: Path) -> bool:
    # Writers land files atomically (temp dot-file, then rename), so dot-files are still in flight.
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in LANDED_SUFFIXES


def list_landed(landing_dir: Path) -> list[tuple[str, Path]]:
    """Every landed file as (batch key, path), sorted by file name."""
    landing_dir = Path(landing_dir)
    if not landing_dir.is_dir():
        return []
    return [(batch_key(p), p) for p in sorted(landing_dir.iterdir()) if is_landed_file(p)]


def find_batch_file(landing_dir: Path, key: str) -> Path:
    for k, path in list_landed(landing_dir):
        if k == key:
            return path
    raise FileNotFoundError(
        f"no landed file in {landing_dir} has batch key {key!r} (moved, edited or deleted after it landed?)")


# ---------------------------------------------------------------- reading files
def _iter_jsonl(data: bytes):
    """Yield (line number, parsed record or None, reason or None, raw text) per non-blank line."""
    lines = data.split(b"\n")
    for i, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield i, None, f"invalid UTF-8 at byte {exc.start}", raw.decode("utf-8", errors="replace")
            continue
        text = text.removeprefix("\ufeff").rstrip("\r")
        if len(raw) > MAX_LINE_BYTES:
            yield i, None, f"record too large: {len(raw)} bytes (limit {MAX_LINE_BYTES})", text
            continue
        try:
            rec = json.loads(text)
        except json.JSONDecodeError as exc:
            # An error at the very end of the line means the record was cut off (a partial write).
            kind = "truncated JSON" if exc.pos >= len(text.rstrip()) - 1 else "invalid JSON"
            yield i, None, f"{kind}: {exc.msg} at column {exc.colno}", text
            continue
        yield i, rec, None, text


def _iter_parquet(path: Path):
    try:
        df = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file becomes one quarantine row
        yield 0, None, f"unreadable Parquet file: {type(exc).__name__}", None
        return
    for i, row in enumerate(df.iter_rows(named=True), start=1):
        rec = {k: v for k, v in row.items() if v is not None or k in ("agent_name", "user_name")}
        yield i, rec, None, json.dumps(row, ensure_ascii=False, default=str)


def read_landed_file(path: Path, batch_id: str) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Parse and validate one landed file -> (raw sessions, quarantine, stats)."""
    path = Path(path)
    blank = 0
    if path.suffix.lower() in PARQUET_SUFFIXES:
        rows = _iter_parquet(path)
    elif path.suffix.lower() in JSONL_SUFFIXES:
        data = path.read_bytes()
        segments = data.split(b"\n")
        if segments and segments[-1] == b"":  # the piece after the final newline is no line
            segments.pop()
        blank = sum(1 for line in segments if not line.strip())
        rows = _iter_jsonl(data)
    else:
        raise ValueError(f"{path.name}: not a landing format (expected one of {LANDED_SUFFIXES})")
    # The cyclic GC is paused while ~10 objects per turn are built (no cycles; see scrub.sessions).
    was = gc.isenabled()
    gc.disable()
    try:
        raw, quarantine, stats = sessions_from_records(rows, source_file=path.name, batch_id=batch_id)
    finally:
        if was:
            gc.enable()
    return raw, quarantine, {**stats, "blank_lines": blank}


def profile_json(profile: dict | None) -> str | None:
    """A declared agent_profile as canonical JSON (dimension order, nulls left out); None when empty."""
    if not profile:
        return None
    kept = {d: profile[d] for d in DIMENSION_NAMES if profile.get(d) is not None}
    return json.dumps(kept, ensure_ascii=False) if kept else None


def _table(kept: list[tuple[int, dict]], source_file: str, batch_id: str) -> pl.DataFrame:
    """Accepted records -> the raw table, built column-wise through Arrow (list offsets + flat
    struct fields): ~5x faster than polars building nested columns from 10k Python dicts (measured)."""
    import pyarrow as pa

    cols: dict[str, list] = {k: [] for k in ("session_id", "agent_id", "user_id", "agent_name", "user_name",
                                             "language", "x_source", "agent_profile")}
    lines, t_off, a_off = [], [0], [0]
    role, text, ts, ti, rw, ann_by = [], [], [], [], [], []
    for line, rec in kept:
        lines.append(line)
        for k in ("session_id", "agent_id", "user_id", "language"):
            cols[k].append(rec[k])
        cols["agent_name"].append(rec.get("agent_name"))
        cols["user_name"].append(rec.get("user_name"))
        cols["x_source"].append(rec.get("x_source") or "annotation")
        cols["agent_profile"].append(profile_json(rec.get("agent_profile")))
        for t in rec["turns"]:
            role.append(t["role"])
            text.append(t["text"])
            ts.append(t.get("ts"))
        t_off.append(len(role))
        for an in rec.get("annotations") or ():
            ti.append(int(an["turn_index"]))  # JSON Schema counts 1.0 as an integer
            rw.append(an["rewritten_text"])
            ann_by.append(an.get("annotator_id"))
        a_off.append(len(ti))
    s = pa.string()
    turns = pa.ListArray.from_arrays(pa.array(t_off, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(role, s), pa.array(text, s), pa.array(ts, s)], names=["role", "text", "ts"]))
    anns = pa.ListArray.from_arrays(pa.array(a_off, pa.int32()), pa.StructArray.from_arrays(
        [pa.array(ti, pa.int64()), pa.array(rw, s), pa.array(ann_by, s)],
        names=["turn_index", "rewritten_text", "annotator_id"]))
    n = len(lines)
    table = pa.table({
        "batch_id": pa.array([batch_id] * n, s), "source_file": pa.array([source_file] * n, s),
        "source_line": pa.array(lines, pa.int64()),
        **{k: pa.array(cols[k], s) for k in ("session_id", "agent_id", "user_id", "agent_name", "user_name",
                                              "language")},
        "turns": turns, "annotations": anns, "x_source": pa.array(cols["x_source"], s),
        "agent_profile": pa.array(cols["agent_profile"], s),
    })
    return pl.from_arrow(table).cast(RAW_COLUMNS)


def sessions_from_records(rows, source_file: str, batch_id: str) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """(line, record, parse-error reason, raw text) tuples -> (raw sessions, quarantine, stats)."""
    accepted: dict[str, tuple[int, dict, str]] = {}  # session_id -> latest (line, record, raw)
    quarantine: list[dict] = []
    read = 0
    reasons: Counter = Counter()

    def bad(line, sid, reason, raw):
        reasons[reason.split(":")[0]] += 1
        quarantine.append({"batch_id": batch_id, "source_file": source_file, "source_line": line,
                           "session_id": sid, "reason": reason, "record": raw})

    for line, rec, reason, raw in rows:
        read += 1
        if reason is None:
            reason = check_record(rec, raw)
        if reason is not None:
            bad(line, session_id_of(rec), reason, raw)
            continue
        sid = rec["session_id"]
        if sid in accepted:  # the later line is the newer version of the session
            old_line, _, old_raw = accepted[sid]
            bad(old_line, sid, f"duplicate session_id: superseded by line {line}", old_raw)
        accepted[sid] = (line, rec, raw)

    raw_df = _table([(line, rec) for line, rec, _ in sorted(accepted.values(), key=lambda t: t[0])],
                    source_file, batch_id)
    q_df = pl.DataFrame(quarantine, schema=QUARANTINE_COLUMNS).sort("source_line")
    stats = {"read": read, "accepted": raw_df.height, "quarantined": q_df.height,
             "quarantine_reasons": dict(sorted(reasons.items()))}
    return raw_df, q_df, stats
