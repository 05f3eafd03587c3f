"""The HMAC key for pseudonymous IDs (vvae_pipeline/scrub/pseudonyms.py).

In deployment, set ``VVAE_ID_HMAC_KEY`` (assets/definitions.py then wires it as ``dg.EnvVar``,
so the value is read at run time and never shown in the UI or stored in run config). Without it
the development default ``pseudonyms.DEV_KEY`` is used and the scrub stage says so in its
metadata (``id_key: development default``). Changing the key changes every pseudonym: keep it
for as long as downstream tables must join across batches.
"""

import dagster as dg
from pydantic import Field

from vvae_pipeline.scrub.pseudonyms import DEV_KEY


class PseudonymKeyResource(dg.ConfigurableResource):
    key: str = Field(default=DEV_KEY, description="HMAC-SHA256 key for user/agent/session pseudonyms")

    @property
    def is_development_default(self) -> bool:
        return self.key == DEV_KEY
