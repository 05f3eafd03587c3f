"""PII scrubbing for vvae: Presidio analyzer + anonymizer with no spaCy model.

params.py (no Presidio import), recognizers.py / addresses.py / phones.py / stock.py (structured
types), names.py / zh_names.py (names without NER), hints.py (prefilter), engine.py (Scrubber: fast
and naive paths, placeholders), sessions.py (tables in, tables out), residual.py (the independent
detector of the no_pii check), pseudonyms.py (keyed ID pseudonyms).
Presidio is imported on first use of anything but the params, so importing this package is cheap.
"""

from vvae_pipeline.scrub.entities import ENTITIES, STRUCTURED, ScrubParams

_LAZY = {"Finding": "engine", "Scrubber": "engine", "residual_pii": "sessions", "scrub_sessions": "sessions",
         "subsample_agents": "sessions"}

__all__ = ["ENTITIES", "STRUCTURED", "ScrubParams", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"vvae_pipeline.scrub.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'vvae_pipeline.scrub' has no attribute {name!r}")
