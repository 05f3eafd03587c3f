"""Run config fields whose defaults come from the library's params dataclasses.

``param_field(TrainParams, "learning_rate")`` is a pydantic ``Field`` whose default is
``TrainParams.learning_rate``, whose description (what the Dagster UI shows) is that field's help
text, and which records where both came from, so every default and every description is stated
once (in vvae_pipeline/params.py) and tests/test_config_defaults.py can check each ``dg.Config``
field against the params field it maps to. The helpers live in resources/fields.py,
which the resources' own fields use too (resources may not import assets).
"""

from resources.fields import PARAMS_KEY, config_only, param_field, params_default

__all__ = ["PARAMS_KEY", "config_only", "param_field", "params_default"]
