"""What makes a persona value unfit for a prior or a profile: a PII placeholder, a person name or
structured PII. A value in a prior is sampled into other agents' training prompts.

    pii_kinds("[name_1]") == ["placeholder"]; pii_kinds("emily") == ["name"]
    unfit_values(long)   # the (dimension, value) pairs of a long table to leave out
"""

from __future__ import annotations

import re
from functools import lru_cache

import polars as pl

from vvae_pipeline.encode.function_words import language_of
from vvae_pipeline.latent import BY_NAME
from vvae_pipeline.scrub.entities import ENTITIES

# normalize() lower-cases ASCII values, so a placeholder may sit in a prior as "[name_1]".
PLACEHOLDER = re.compile(r"\[(?:" + "|".join(ENTITIES) + r")_\d+\]", re.IGNORECASE)


@lru_cache(maxsize=1)
def _given_names() -> frozenset[str]:
    """Every given name the scrubber knows (scrub/names.py ``given_names``: the census names that
    are no stopword or place, the gazetteer's), the everyday-word ones ("mark", "rose") included:
    a one-word persona value that is a given name is a name."""
    from vvae_pipeline.scrub.names import given_names

    return frozenset(given_names())


@lru_cache(maxsize=2)
def _name_recognizers(language: str) -> list:
    from vvae_pipeline.scrub.names import GazetteerNameRecognizer
    from vvae_pipeline.scrub.zh_names import ZhNameRecognizer

    return [GazetteerNameRecognizer(language)] + ([ZhNameRecognizer(language)] if language == "zh" else [])


def pii_kinds(value: str) -> list[str]:
    """What makes ``value`` unfit for a prior: "placeholder", "name" (the scrub stage's name
    recognizers), or a structured type the residual detector finds ("PHONE", "EMAIL" ...)."""
    from vvae_pipeline.scrub.residual import detect

    kinds = ["placeholder"] if PLACEHOLDER.search(value) else []
    language = language_of(value)
    # normalize() lower-cases ASCII values. The recognizers find lower-case names with a person
    # context or none needed ("hi kristen", "told mark"); a value that is one given name alone
    # ("mark", the nickname) is a name too.
    words = re.findall(r"[a-z]+", value.lower()) if value.isascii() else []
    lowered = len(words) == 1 and words[0] in _given_names()
    if lowered or any(r.analyze(value, ["NAME"]) for r in _name_recognizers(language)):
        kinds.append("name")
    kinds += sorted(detect(value, language))
    return kinds


def unfit_values(long: pl.DataFrame) -> pl.DataFrame:
    """The distinct (dimension, value) pairs of open dimensions in ``long`` (columns dimension,
    value) that hold a PII placeholder, a detected name or structured PII (``pii_kinds``)."""
    pairs = long.select("dimension", "value").unique()
    bad = [(d, v) for d, v in pairs.iter_rows() if not BY_NAME[d].closed and pii_kinds(v)]
    return pl.DataFrame(bad, schema={"dimension": pl.Utf8, "value": pl.Utf8}, orient="row")
