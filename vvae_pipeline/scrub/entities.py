"""The scrub stage's entity vocabulary (its params live in vvae_pipeline.params): importing this module loads
no Presidio (about 6 s of CPU on these machines), so the Dagster layer can build its Config without paying for
it."""

from __future__ import annotations

from vvae_pipeline.params import ScrubParams  # noqa: F401 (API: the stage's params)

ENTITIES = ("EMAIL", "PHONE", "CN_ID", "BANK_CARD", "PASSPORT", "URL", "IP", "HANDLE", "ADDRESS", "US_SSN", "UK_NHS",
            "UK_NINO", "IBAN", "VEHICLE", "NATIONAL_ID", "DEVICE_ID", "LICENCE", "ACCOUNT", "DOB", "NAME")
STRUCTURED = tuple(e for e in ENTITIES if e != "NAME")
