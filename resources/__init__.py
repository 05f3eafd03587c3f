"""Dagster resources: what lives outside the process (storage, LLM engines, trainer)."""
