"""A persistent cache of encoder outputs, keyed by everything that could change an output.

SQLite (stdlib) in the folder the caller gives: each finished chunk is committed, so a crashed run
resumes where it stopped and a re-run recomputes nothing; WAL mode lets two batch runs share it.
Only the raw engine output is stored: parsing and grounding are cheap and re-run every time.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from vvae_pipeline.llm.engines import Result


def cache_key(prompt_version: str, prompt: list[dict], schema: dict, max_new_tokens: int, engine: str,
              model_identity: str, decoding: dict) -> str:
    """sha256 of: the template version, the rendered prompt (so every prompt setting and the text of
    c and x), the decoded schema (the candidate lists, ranked with evidence from the whole batch),
    the token budget, the engine, the model's identity (its weights' fingerprint, not only its name)
    and the decoding settings. Key order inside ``schema`` is kept: it is the field order decoded."""
    payload = json.dumps([prompt_version, prompt, json.dumps(schema, ensure_ascii=False), max_new_tokens, engine,
                          model_identity, decoding], ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


class ExtractCache:
    def __init__(self, folder: str | Path):
        self.path = Path(folder) / "extract.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, text TEXT, finish_reason TEXT, retried INT)"
        )
        self._db.commit()

    def get_many(self, keys: list[str]) -> dict[str, Result]:
        found: dict[str, Result] = {}
        uniq = list(dict.fromkeys(keys))
        for start in range(0, len(uniq), 500):  # SQLite's bound-parameter limit is 999 on old builds
            chunk = uniq[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, text, finish_reason, retried FROM outputs WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({k: Result(t, f, bool(r)) for k, t, f, r in rows})
        return found

    def put_many(self, items: dict[str, Result]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?)",
            [(k, r.text, r.finish_reason, int(r.retried)) for k, r in items.items()],
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outputs").fetchone()[0]

    def close(self) -> None:
        self._db.close()
