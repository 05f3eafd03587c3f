"""Run config fields whose defaults come from the library's params dataclasses.

``param_field(TrainParams, "learning_rate", "peak learning rate")`` is a pydantic ``Field`` whose
default is ``TrainParams.learning_rate`` and which records where it came from, so every default
is stated once (in vvae_pipeline/params.py) and tests/test_config_defaults.py can check each
``dg.Config`` field against the params field it maps to.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field

PARAMS_KEY = "vvae_params"


def params_default(params_cls: type, name: str) -> Any:
    """The default of dataclass field ``name`` (lists for tuples: Dagster config has no tuples)."""
    f = {f.name: f for f in dataclasses.fields(params_cls)}[name]
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        raise ValueError(f"{params_cls.__name__}.{name} has no default")
    return list(value) if isinstance(value, tuple) else value


def param_field(params_cls: type, name: str, description: str, **kwargs) -> Any:
    return Field(default=params_default(params_cls, name), description=description,
                 json_schema_extra={PARAMS_KEY: f"{params_cls.__name__}.{name}"}, **kwargs)


def config_only(default: Any, description: str, **kwargs) -> Any:
    """A run-config field with no library counterpart (e.g. whether to use a cache)."""
    return Field(default=default, description=description, json_schema_extra={PARAMS_KEY: None}, **kwargs)
