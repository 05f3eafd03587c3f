"""PII scrubbing for vvae (Presidio, no spaCy model): see engine.py, recognizers.py, names.py."""

from vvae_pipeline.scrub.engine import Finding, Scrubber
from vvae_pipeline.scrub.recognizers import ENTITIES, STRUCTURED
from vvae_pipeline.scrub.sessions import ScrubParams, residual_pii, scrub_sessions, subsample_agents

__all__ = ["ENTITIES", "STRUCTURED", "Finding", "ScrubParams", "Scrubber", "residual_pii", "scrub_sessions",
           "subsample_agents"]
