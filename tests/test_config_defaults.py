"""Every default is stated once: each Dagster Config field takes its default from the params
dataclass field it maps to (assets.config.param_field), and every field says which one it maps to."""

import dataclasses
import importlib
import pkgutil

import dagster as dg
import pytest

import assets
import vvae_pipeline.params as params_module
from assets.config import PARAMS_KEY, params_default

PARAMS_CLASSES = {name: cls for name, cls in vars(params_module).items() if dataclasses.is_dataclass(cls)}


def _config_classes() -> list[type]:
    for mod in pkgutil.iter_modules(assets.__path__):
        importlib.import_module(f"assets.{mod.name}")
    seen, todo = [], list(dg.Config.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("assets."):
            seen.append(cls)
    return sorted(set(seen), key=lambda c: c.__name__)


def _mapped(field) -> str | None | object:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get(PARAMS_KEY, ...)


CONFIGS = _config_classes()


def test_the_walk_finds_the_stage_configs():
    names = {c.__name__ for c in CONFIGS}
    assert {"SFTConfig", "TrainConfig", "ReportConfig"} <= names


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_config_defaults_equal_their_params_defaults(cls):
    problems = []
    for name, field in cls.model_fields.items():
        target = _mapped(field)
        if target is ...:
            problems.append(f"{name}: no params mapping (use param_field or config_only)")
            continue
        if target is None:  # a run-config-only knob, declared as such
            continue
        pcls, attr = target.split(".")
        want = params_default(PARAMS_CLASSES[pcls], attr)
        if field.default != want:
            problems.append(f"{name}: default {field.default!r} != {target} {want!r}")
    assert not problems, problems


def test_the_check_can_fail():
    from pydantic import Field

    class Drifted(dg.Config):
        lr: float = Field(default=0.5, json_schema_extra={PARAMS_KEY: "TrainParams.learning_rate"})

    field = Drifted.model_fields["lr"]
    assert field.default != params_default(PARAMS_CLASSES["TrainParams"], "learning_rate")
