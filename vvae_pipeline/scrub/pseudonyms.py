"""Keyed pseudonyms for platform identifiers: HMAC-SHA256(key, kind + value), 128 bits as hex.

``user_id``, ``agent_id`` and ``session_id`` leave the scrub stage as pseudonyms, so platform IDs
never reach a downstream table. The same key gives the same pseudonym in every batch (joins and
per-agent splits keep working); without the key a pseudonym cannot be linked back to an ID, nor
tested against a guessed one. The kind is part of the message, so a user and an agent that share
a platform ID still get unrelated pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac

import polars as pl

# Development default (resources/pseudonyms.py): fine for the demo and tests, not a secret.
DEV_KEY = "vvae-development-key-not-secret"
ID_COLUMNS = {"user_id": "user", "agent_id": "agent", "session_id": "session"}


def pseudonym(kind: str, value: str, key: str) -> str:
    return hmac.new(key.encode(), f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()[:32]


def pseudonymize(df: pl.DataFrame, key: str, columns: dict[str, str] | None = None) -> pl.DataFrame:
    """``df`` with each present ID column (column -> kind) replaced by its pseudonym."""
    if not key:
        raise ValueError("pseudonym key is empty: set VVAE_ID_HMAC_KEY or use the development default")
    columns = ID_COLUMNS if columns is None else columns
    out = []
    for col, kind in columns.items():
        if col in df.columns:
            values = df[col].to_list()
            out.append(pl.Series(col, [None if v is None else pseudonym(kind, v, key) for v in values],
                                 dtype=pl.Utf8))
    return df.with_columns(out) if out else df
