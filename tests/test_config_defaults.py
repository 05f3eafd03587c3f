"""Every default is stated once.

Run config: each Dagster ``Config`` field in assets/ takes its default from the params dataclass
field it maps to (resources.fields.param_field), and every field says which one it maps to.

Resources: each ``ConfigurableResource`` / ``ConfigurableIOManager`` field in resources/ that records
a library source (a params field, or a keyword argument of an engine or generator) has that source's
default; and a resource field named like a params field either records its source or says it has
none (``config_only``), so a restated default cannot hide under an unmapped ``Field(...)``.

Descriptions: a field whose source is a params dataclass field shows that field's help text
(``field(metadata={"help": ...})`` in vvae_pipeline/params.py) in the Dagster config schema, so the
UI and the library say the same thing; the help is never empty.
"""

import dataclasses
import importlib
import pkgutil

import dagster as dg
import pytest
from pydantic import Field

import assets
import resources
import vvae_pipeline.params as params_module
from resources.fields import PARAMS_KEY, param_field, params_default, params_help, resolve_ref
from vvae_pipeline.params import TrainParams

PARAMS_CLASSES = [cls for cls in vars(params_module).values() if dataclasses.is_dataclass(cls)]
PARAMS_FIELD_NAMES = {f.name for cls in PARAMS_CLASSES for f in dataclasses.fields(cls)}


def _subclasses_in(package, bases: tuple[type, ...]) -> list[type]:
    for mod in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{mod.name}")
    seen, todo = [], [sub for base in bases for sub in base.__subclasses__()]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith(f"{package.__name__}."):
            seen.append(cls)
    return sorted(set(seen), key=lambda c: c.__name__)


def _mapped(field) -> str | None | object:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get(PARAMS_KEY, ...)


def _drift(cls) -> list[str]:
    """Fields whose default differs from the default of the source they record."""
    problems = []
    for name, field in cls.model_fields.items():
        target = _mapped(field)
        if target is ... or target is None:
            continue
        want = params_default(*resolve_ref(target))
        if field.default != want:
            problems.append(f"{cls.__name__}.{name}: default {field.default!r} != {target} {want!r}")
    return problems


def _help_drift(cls) -> list[str]:
    """Fields with a params dataclass source whose help is empty, or whose Dagster config description
    (what the UI shows) is not that help."""
    schema = cls.to_config_schema().as_field().config_type.fields
    problems = []
    for name, field in cls.model_fields.items():
        target = _mapped(field)
        if target is ... or target is None or not dataclasses.is_dataclass(source := resolve_ref(target)[0]):
            continue
        want = params_help(source, resolve_ref(target)[1])
        if not (want or "").strip():
            problems.append(f"{cls.__name__}.{name}: {target} has no help text")
        elif schema[name].description != want:
            problems.append(f"{cls.__name__}.{name}: description {schema[name].description!r} != {target} help")
    return problems


CONFIGS = _subclasses_in(assets, (dg.Config,))
RESOURCES = _subclasses_in(resources, (dg.ConfigurableResource, dg.ConfigurableIOManager))


def test_the_walks_find_the_stage_configs_and_the_resources():
    assert {"SFTConfig", "TrainConfig", "ReportConfig"} <= {c.__name__ for c in CONFIGS}
    assert {"TrainerResource", "EncoderResource", "GeneratorResource", "StorageResource",
            "ParquetIOManager"} <= {c.__name__ for c in RESOURCES}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_config_defaults_equal_their_params_defaults(cls):
    unmapped = [f"{name}: no params mapping (use param_field or config_only)"
                for name, field in cls.model_fields.items() if _mapped(field) is ...]
    assert not unmapped + _drift(cls)


@pytest.mark.parametrize("cls", RESOURCES, ids=lambda c: c.__name__)
def test_resource_defaults_equal_their_library_defaults(cls):
    hidden = [f"{name}: named like a params field; use param_field, or config_only if it has no counterpart"
              for name, field in cls.model_fields.items() if name in PARAMS_FIELD_NAMES and _mapped(field) is ...]
    assert not hidden + _drift(cls)


@pytest.mark.parametrize("cls", CONFIGS + RESOURCES, ids=lambda c: c.__name__)
def test_descriptions_are_their_params_help(cls):
    assert not _help_drift(cls)


def test_the_trainer_restates_four_train_params_from_their_source():
    fields = RESOURCES[[c.__name__ for c in RESOURCES].index("TrainerResource")].model_fields
    for name in ("device", "dtype", "autocast", "torch_threads"):
        assert _mapped(fields[name]) == f"vvae_pipeline.params:TrainParams.{name}"
        assert fields[name].default == getattr(TrainParams(), name)


def test_the_check_can_fail():
    class Drifted(dg.ConfigurableResource):
        learning_rate: float = Field(default=0.5, json_schema_extra={PARAMS_KEY: "vvae_pipeline.params:TrainParams."
                                                                                 "learning_rate"})
        max_retries: int = Field(default=9, json_schema_extra={PARAMS_KEY: "vvae_pipeline.llm.openai_engine:"
                                                                           "OpenAIEngine.max_retries"})
        seed: int = Field(default=0)  # named like a params field, no source recorded
        batch_size: int = param_field(params_module.ExtractParams, "batch_size")

    assert [p.split(":")[0] for p in _drift(Drifted)] == ["Drifted.learning_rate", "Drifted.max_retries"]
    assert _mapped(Drifted.model_fields["seed"]) is ... and "seed" in PARAMS_FIELD_NAMES


@dataclasses.dataclass(frozen=True)
class NoHelp:
    seed: int = dataclasses.field(default=0, metadata={"help": " "})


def test_the_help_check_can_fail():
    class Restated(dg.Config):
        max_steps: int = param_field(TrainParams, "max_steps", "restated by hand")
        seed: int = Field(default=0, json_schema_extra={PARAMS_KEY: f"{__name__}:NoHelp.seed"})
        grad_accum: int = param_field(TrainParams, "grad_accum")

    assert [p.split(":")[0] for p in _help_drift(Restated)] == ["Restated.max_steps", "Restated.seed"]
    with pytest.raises(ValueError, match="has no help text"):
        param_field(NoHelp, "seed")

    def engine(max_retries: int = 3): ...

    with pytest.raises(TypeError, match="no help text; pass description="):
        param_field(engine, "max_retries")
    assert param_field(engine, "max_retries", "retries").description == "retries"
