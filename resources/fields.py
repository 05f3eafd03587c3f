"""Config fields whose defaults come from the library, so every default is stated once.

``param_field(TrainParams, "learning_rate")`` is a pydantic ``Field`` whose default is
``TrainParams.learning_rate`` (vvae_pipeline/params.py), whose description is that field's help
(``field(default=..., metadata={"help": ...})``) and which records where both came from;
``param_field(OpenAIEngine, "max_retries", "retries with exponential backoff")`` takes the default
of a library class's (or function's) keyword argument the same way, with the description stated
here (a keyword argument has no help to read). Run config (``dg.Config`` in assets/) and resource
fields (``dg.ConfigurableResource`` in resources/) both use it, and tests/test_config_defaults.py
checks every field that records a source against that source's default, and every field with a
params source against its help. ``config_only`` marks a field with no library counterpart. (Here,
not in assets/: resources may not import assets.)
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from typing import Any

from pydantic import Field

# json_schema_extra key: "<module>:<qualname>.<name>" of the default's source, or None (no counterpart).
PARAMS_KEY = "vvae_params"


def params_default(source: Any, name: str) -> Any:
    """The default of dataclass field ``name``, or of keyword argument ``name`` of a class or function
    (lists for tuples: Dagster config has no tuples)."""
    if dataclasses.is_dataclass(source):
        f = {f.name: f for f in dataclasses.fields(source)}[name]
        if f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise ValueError(f"{source.__name__}.{name} has no default")
    else:
        value = inspect.signature(source).parameters[name].default
        if value is inspect.Parameter.empty:
            raise ValueError(f"{source.__qualname__}({name}=...) has no default")
    return list(value) if isinstance(value, tuple) else value


def source_ref(source: Any, name: str) -> str:
    return f"{source.__module__}:{source.__qualname__}.{name}"


def resolve_ref(ref: str) -> tuple[Any, str]:
    """``source_ref``'s inverse: (the class or function, the field or argument name)."""
    module, path = ref.split(":")
    *owner, name = path.split(".")
    obj = importlib.import_module(module)
    for part in owner:
        obj = getattr(obj, part)
    return obj, name


def params_help(source: Any, name: str) -> str | None:
    """The help text of dataclass field ``name`` (``field(metadata={"help": ...})``), or None."""
    f = {f.name: f for f in dataclasses.fields(source)}[name]
    return f.metadata.get("help")


def param_field(source: Any, name: str, description: str | None = None, **kwargs) -> Any:
    """A ``Field`` with ``source``'s default for ``name``; its description is the params dataclass field's
    help unless given. A class's or function's keyword argument has no help to read: say it here."""
    if description is None:
        if not dataclasses.is_dataclass(source):
            raise TypeError(f"param_field({source.__qualname__}, {name!r}): a keyword default has no help text; "
                            "pass description=")
        description = params_help(source, name)
        if not (description or "").strip():
            raise ValueError(f"{source.__qualname__}.{name} has no help text: declare it with "
                             'field(default=..., metadata={"help": "..."}) in vvae_pipeline/params.py')
    return Field(default=params_default(source, name), description=description,
                 json_schema_extra={PARAMS_KEY: source_ref(source, name)}, **kwargs)


def config_only(default: Any, description: str, **kwargs) -> Any:
    """A field with no library counterpart (e.g. whether to use a cache)."""
    return Field(default=default, description=description, json_schema_extra={PARAMS_KEY: None}, **kwargs)
