"""Stable hashes the stages share: file contents (batch keys, model fingerprints) and a
vectorised 64-bit string hash that seeds every per-row draw (sampling, splits).

``string_hash`` is a byte-wise polynomial hash (mod 2^64) finished with splitmix64, computed with
numpy over the Arrow string buffer: no Python loop over rows, and unlike ``pl.Series.hash`` it
is stable across polars versions.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_POLY = np.uint64(0x100000001B3)  # FNV-1 64-bit prime as the polynomial base
_TWO53 = float(2**53)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def string_hash(values: pl.Series) -> np.ndarray:
    """Stable 64-bit hash of each string (UTF-8 bytes), as uint64; nulls are an error."""
    if values.null_count():
        raise ValueError(f"cannot hash null {values.name or 'values'}")
    arr = values.cast(pl.Utf8).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if arr.buffers()[2] is not None else np.zeros(0, np.uint8)
    start, end = offsets[:-1], offsets[1:]
    lengths = end - start
    span = data[offsets[0]: offsets[-1]].astype(np.uint64)
    with np.errstate(over="ignore"):
        max_len = int(lengths.max()) if n else 0
        powers = np.cumprod(np.full(max_len + 1, _POLY, dtype=np.uint64))
        powers = np.concatenate([np.ones(1, np.uint64), powers[:-1]])
        # Byte k of string s contributes b_k * P^(end_s - 1 - k).
        ends = np.repeat(end - offsets[0], lengths)
        contrib = span * powers[ends - 1 - np.arange(span.size)] if span.size else span
        cums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(contrib, dtype=np.uint64)])
        h = cums[end - offsets[0]] - cums[start - offsets[0]]
        return _splitmix64(h + lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15))


def uniforms(id_hash: np.ndarray, seed: int, key: str) -> np.ndarray:
    """One float in [0, 1) per row from (seed, row id hash, key); 53 random bits each."""
    salt = string_hash(pl.Series([f"{int(seed)}\x1f{key}"]))[0]
    with np.errstate(over="ignore"):
        bits = _splitmix64(id_hash ^ _splitmix64(np.full(1, salt))[0])
    return (bits >> np.uint64(11)).astype(np.float64) / _TWO53
