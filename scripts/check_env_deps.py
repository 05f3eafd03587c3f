"""Every environment holds what its code imports: resolve each one from pyproject.toml's extras and
compare the resolve with the imports, walked from the entry points.

    .venv/bin/python scripts/check_env_deps.py                 # all environments (CI, .ci/run)
    .venv/bin/python scripts/check_env_deps.py --env gpu       # one
    .venv/bin/python scripts/check_env_deps.py --reports DIR   # keep (and reuse) the pip reports

1. Resolve. Each environment is `pip install --dry-run --ignore-installed --report` of the extras its
   setup script installs (ENVIRONMENTS; tests/unit/test_env_deps.py checks each script installs
   exactly those). The index these machines reach serves no PEP 658 metadata files (triton 3.9.0's
   listing has no `core-metadata`, 2026-12-06), so a plain dry run downloads every wheel it weighs:
   the gpu resolve fetched torch 2.14.0 (555 MB), triton 3.9.0 and 3.8.0 (286 and 248 MB) and the
   CUDA libraries, and a CI machine ran out of disk in it. pip's `fast-deps` reads each wheel's
   METADATA with HTTP range requests instead (5 small downloads, the same 314 pins), and
   `--no-cache-dir` keeps nothing. A resolve that fails on the network or the disk is retried once;
   a conflict is not. The CUDA environments resolve with pip's configuration ignored
   (`--isolated`, PIP_CONFIG_FILE=/dev/null), so the machine's local CPU torch wheel cannot stand in
   for PyPI's CUDA build.
2. Which modules each resolved distribution provides: the top-level names in the wheel's file list,
   read from the zip's central directory with HTTP range requests (a few KB per wheel; cached by
   the wheel's sha256 under ~/.cache/vvae-env-deps). An sdist (jieba) provides its normalized name
   and what this interpreter's importlib.metadata.packages_distributions() says it does.
3. The imports: `ast` over the sources, from each role's entry modules (the code location
   assets.definitions with all of its VVAE_PROFILE branches, since the walk takes function-level
   imports too; the trainer; the serving command; the tests), following the repository's own
   modules, collecting the top-level names of everything else that is not the standard library.
4. An imported module that no distribution of the environment provides fails the check with the
   lines that import it, unless ALLOWED_ABSENT names it for that environment with the reason; an
   ALLOWED_ABSENT entry that is no longer needed fails too. A module that the code location, the
   trainer or the serving command imports must come from a distribution pyproject.toml declares
   (not only from another's dependencies; the tests' such imports are printed as notes). A direct
   requirement of pyproject.toml that nothing imports fails unless USED_WITHOUT_IMPORT says how.

Measured on the 2-core development machine (2026-12-06), with fast-deps: the four in parallel, 41-56 s
each, the whole check 58 s. Before (whole wheels): one at a time the resolves took 23 s
(local), 36 s (vllm-cpu), 64 s (gpu) and 47 s (gpu-trainer); the whole check, the four in parallel
with an empty wheel-listing cache (348 wheels), 258 s at load average 7-9 from other jobs, and 6 s
with the pip reports reused (--reuse).
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import functools
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import time
import tomllib
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("VVAE_ENV_DEPS_CACHE", Path.home() / ".cache" / "vvae-env-deps"))

# Entry points: modules (dotted) or folders of files (every .py under them is an entry).
ROLES: dict[str, tuple[str, ...]] = {
    # `dagster ... -m assets.definitions` and `python -m assets.main` (make demo).
    "code location": ("assets.definitions", "assets.main"),
    # TrainerResource runs `python -m resources.train_worker` (resources/trainer.py).
    "trainer": ("resources.train_worker",),
    # scripts/serve_champion.sh runs `python -m vvae_pipeline.llm.serving`.
    "serving": ("vvae_pipeline.llm.serving",),
    # `make test` (all of tests/ but tests/vllm_cpu) and the benchmarks.
    "tests": (*sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").iterdir()
                      if p.name != "vllm_cpu" and (p.suffix == ".py" or p.is_dir() and any(p.rglob("*.py")))),
              "bench"),
    "vllm tests": ("tests/conftest.py", "tests/vllm_cpu"),
}


@dataclass(frozen=True)
class Environment:
    name: str
    script: str          # the setup script that builds it
    extras: tuple[str, ...]
    roles: tuple[str, ...]
    cuda: bool = False   # resolve against PyPI's CUDA builds (pip configuration ignored)
    allowed_absent: dict[str, str] = field(default_factory=dict)


TRAINER_ONLY = "training runs in the trainer subprocess's environment (VVAE_TRAINER_PYTHON, a `train` venv)"
ENVIRONMENTS: tuple[Environment, ...] = (
    Environment("local", "scripts/setup.sh", ("train", "dev"), ("code location", "trainer", "tests"),
                allowed_absent={"vllm": "the vLLM engine and serving run in .venv-vllm (CPU) or the "
                                        "GPU host's .venv-vllm-gpu; the local profile uses transformers"}),
    Environment("vllm-cpu", "scripts/setup_vllm.sh", ("vllm-cpu", "test"), ("code location", "serving", "vllm tests"),
                allowed_absent={"trl": TRAINER_ONLY, "datasets": TRAINER_ONLY,
                                "dagster_k8s": "only the k8s profile imports it, and that runs in the GPU image "
                                               "(.[vllm,k8s]); .venv-vllm runs the vLLM tests and CPU serving"}),
    Environment("gpu", "scripts/setup_vllm_gpu.sh", ("vllm", "k8s"), ("code location", "serving"), cuda=True,
                allowed_absent={"trl": TRAINER_ONLY, "datasets": TRAINER_ONLY}),
    Environment("gpu-trainer", "scripts/setup_vllm_gpu.sh", ("train", "gpu", "k8s"), ("trainer",), cuda=True),
)

# Direct requirements that no module imports, and how they are used instead.
USED_WITHOUT_IMPORT = {
    "dagster-webserver": "the `dagster dev` UI (make dev, tests/ui)",
    "dagster-postgres": "named by deploy/dagster.yaml's storage block, loaded by Dagster",
    "gguf": "transformers reads SmolLM2's GGUF with it (from_pretrained(gguf_file=...))",
    "liger-kernel": "probed by name (_importable('liger_kernel') in vvae_pipeline/train/run.py)",
    "pytest-timeout": "a pytest plugin",
    "import-linter": "the lint-imports command (.ci/run)",
    "ruff": "the linter command",
    "vvae": "the extras' own self-reference",
}


# -- 1. the imports ---------------------------------------------------------------------------------

def _local_tops(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.py")) and not p.name.startswith(".")} | {
        p.stem for p in root.glob("*.py")}


def _module_file(root: Path, dotted: str) -> Path | None:
    base = root.joinpath(*dotted.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def _dotted(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports_of(root: Path, path: Path) -> list[tuple[str, int]]:
    st = path.stat()
    return _imports_cached(root, path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4096)
def _imports_cached(root: Path, path: Path, _mtime: int, _size: int) -> list[tuple[str, int]]:
    """(dotted name, line) of every import in a file, at any depth; `from X import a` gives X and X.a."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _dotted(root, path) if path.name == "__init__.py" else _dotted(root, path).rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            found.append((mod, node.lineno))
            found += [(f"{mod}.{a.name}", node.lineno) for a in node.names if a.name != "*"]
        elif (isinstance(node, ast.Call) and node.args and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module"):
            # importlib.import_module("a.b"), or f"a.b.{name}": every module of package a.b
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((arg.value, node.lineno))
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                prefix = str(arg.values[0].value)
                if prefix.endswith(".") and len(arg.values) == 2:
                    found.append((prefix + "*", node.lineno))
    return found


def walk_imports(entries: tuple[str, ...], root: Path = ROOT) -> dict[str, list[str]]:
    """Top-level third-party module -> ["path:line", ...] for everything reachable from entries."""
    local = _local_tops(root)
    loose = {f.stem: f for top in ("tests", "bench") for f in sorted((root / top).rglob("*.py"))
             if not (f.parent / "__init__.py").is_file()}
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    todo: list[Path] = []
    for entry in entries:
        p = root / entry
        if p.is_dir():
            todo += sorted(p.rglob("*.py"))
        elif p.suffix == ".py" and p.is_file():
            todo.append(p)
        else:
            f = _module_file(root, entry)
            if f is None:
                raise FileNotFoundError(f"entry {entry!r}: no module or file under {root}")
            todo.append(f)
    seen: set[Path] = set()
    third: dict[str, list[str]] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name, line in _imports_of(root, path):
            top = name.split(".")[0]
            if not top:
                continue
            # A file outside any package has its own folder on sys.path (pytest's rootdir insertion for
            # tests/unit, `python bench/x.py`), so its siblings import by bare name; tests put
            # tests/support on sys.path too: a bare name of such a file elsewhere counts as it.
            sibling = None if (path.parent / "__init__.py").is_file() else next(
                (f for f in (path.parent / f"{top}.py", path.parent / top / "__init__.py") if f.is_file()),
                loose.get(top))
            if sibling is not None and top not in local:
                if sibling not in seen:
                    todo.append(sibling)
            elif top in local and name.endswith(".*"):
                folder = root.joinpath(*name[:-2].split("."))
                todo += [f for f in sorted(folder.glob("*.py")) if f not in seen]
            elif top in local:
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # the package __init__s run too
                    f = _module_file(root, ".".join(parts[:i]))
                    if f is not None and f not in seen:
                        todo.append(f)
            elif top not in stdlib:
                third.setdefault(top, []).append(f"{path.relative_to(root)}:{line}")
    return {k: sorted(set(v)) for k, v in sorted(third.items())}


# -- 2. the resolve ---------------------------------------------------------------------------------

def pip_command(env: Environment, report: Path, root: Path = ROOT) -> tuple[list[str], dict]:
    cmd = [sys.executable, "-m", "pip"]
    environ = dict(os.environ)
    if env.cuda:
        cmd.append("--isolated")
        environ["PIP_CONFIG_FILE"] = os.devnull
        for key in [k for k in environ if k.startswith("PIP_")]:
            if key != "PIP_CONFIG_FILE":
                environ.pop(key)
    cmd += ["install", "-q", "--dry-run", "--ignore-installed", "--no-cache-dir", "--use-feature=fast-deps",
            "--report", str(report), "-e", f"{root}[{','.join(env.extras)}]"]
    return cmd, environ


# pip output that says the machine, not the requirements, failed: worth one more try.
TRANSIENT = ("No space left on device", "Connection interrupted", "DO NOT MATCH THE HASHES", "ReadTimeoutError",
             "ConnectionError", "Max retries exceeded", "IncompleteRead", "Temporary failure in name resolution")


def resolve_all(envs: tuple[Environment, ...], reports: Path, reuse: bool, root: Path = ROOT) -> dict[str, dict]:
    """Runs the dry-run resolves in parallel (network bound); name -> pip report."""
    reports.mkdir(parents=True, exist_ok=True)
    procs = {}
    for env in envs:
        out = reports / f"{env.name}.json"
        if reuse and out.is_file():
            continue
        cmd, environ = pip_command(env, out, root)
        procs[env.name] = (subprocess.Popen(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True), time.monotonic())
    failed = []
    by_name = {env.name: env for env in envs}
    for name, (proc, t0) in procs.items():
        output, rc = _clean(proc.communicate()[0]), proc.returncode
        print(f"[env-deps] resolved {name} in {time.monotonic() - t0:.0f} s (rc {rc})", flush=True)
        if rc != 0 and any(t in output for t in TRANSIENT):
            print(f"[env-deps] {name}: the network or the disk failed, retrying once alone:\n{output}", flush=True)
            cmd, environ = pip_command(by_name[name], reports / f"{name}.json", root)
            t0 = time.monotonic()
            done = subprocess.run(cmd, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            output, rc = _clean(done.stdout), done.returncode
            print(f"[env-deps] resolved {name} again in {time.monotonic() - t0:.0f} s (rc {rc})", flush=True)
        if rc != 0:
            failed.append(f"{name}: pip could not resolve it:\n{output}")
    if failed:
        raise SystemExit("\n".join(failed))
    return {env.name: json.loads((reports / f"{env.name}.json").read_text()) for env in envs}


def _clean(output: str) -> str:
    noise = ("is ignored: it is neither", "lazily downloaded wheels using HTTP range requests")
    return "\n".join(line for line in output.splitlines() if line.strip() and not any(n in line for n in noise))


# -- 3. which modules a distribution provides -------------------------------------------------------

class _RangeFile:
    """Seekable read-only view of a remote file through HTTP range requests, what zipfile needs to
    read a wheel's central directory: the last 64 KiB in one request, anything else on demand."""

    TAIL = 1 << 16

    def __init__(self, url: str):
        self.url, self.pos = url, 0
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes=-{self.TAIL}"}),
                                    timeout=120) as resp:
            total = resp.headers.get("Content-Range", "").rpartition("/")[2]
            if resp.status != 206 or not total.isdigit():
                raise OSError(f"no range requests at {url}")
            self.size, self.tail = int(total), resp.read()
        self.tail_start = self.size - len(self.tail)

    def seekable(self):
        return True

    def tell(self):
        return self.pos

    def seek(self, offset, whence=0):
        self.pos = offset if whence == 0 else self.pos + offset if whence == 1 else self.size + offset
        return self.pos

    def read(self, n=-1):
        end = self.size if n is None or n < 0 else min(self.size, self.pos + n)
        if end <= self.pos:
            return b""
        if self.pos >= self.tail_start:
            data = self.tail[self.pos - self.tail_start:end - self.tail_start]
        else:
            req = urllib.request.Request(self.url, headers={"Range": f"bytes={self.pos}-{end - 1}"})
            with urllib.request.urlopen(req, timeout=120) as resp:
                data = resp.read()
        self.pos += len(data)
        return data


def tops_from_names(names: list[str]) -> set[str]:
    """Top-level importable names in a wheel's file list."""
    tops = set()
    for name in names:
        parts = name.split("/")
        if parts[0].endswith(".data") and len(parts) > 3 and parts[1] in ("purelib", "platlib"):
            parts = parts[2:]
        elif parts[0].endswith((".dist-info", ".data")):
            continue
        first = parts[0]
        if len(parts) > 1:
            if first.isidentifier():
                tops.add(first)
        elif first.endswith((".py", ".so", ".pyd")):
            stem = first.split(".")[0]
            if stem.isidentifier():
                tops.add(stem)
    return tops


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def _installed_modules() -> dict[str, set[str]]:
    return {m: {_normalize(d) for d in dists} for m, dists in importlib.metadata.packages_distributions().items()}


def provided_by(item: dict) -> set[str]:
    """Top-level modules of one resolved distribution (a pip report 'install' item)."""
    meta, info = item["metadata"], item.get("download_info", {})
    url = info.get("url", "")
    sha = info.get("archive_info", {}).get("hashes", {}).get("sha256")
    path = urllib.parse.unquote(urllib.parse.urlparse(url).path)
    if not path.endswith(".whl"):  # an sdist, or a local project folder
        name = _normalize(meta["name"])
        return {name.replace("-", "_")} | {m for m, dists in _installed_modules().items() if name in dists}
    cached = CACHE / f"{sha}.json" if sha else None
    if cached and cached.is_file():
        return set(json.loads(cached.read_text()))
    if url.startswith("file:"):
        with zipfile.ZipFile(path) as zf:
            tops = tops_from_names(zf.namelist())
    else:
        with zipfile.ZipFile(_RangeFile(url)) as zf:
            tops = tops_from_names(zf.namelist())
    if cached:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(sorted(tops)))
    return tops


def module_map(report: dict, skip: str = "vvae") -> dict[str, set[str]]:
    """module -> {distribution} for one resolve."""
    items = [i for i in report["install"] if _normalize(i["metadata"]["name"]) != skip]
    out: dict[str, set[str]] = {}
    with cf.ThreadPoolExecutor(16) as pool:
        for item, tops in zip(items, pool.map(provided_by, items)):
            for top in tops:
                out.setdefault(top, set()).add(item["metadata"]["name"])
    return out


# -- 4. the checks ----------------------------------------------------------------------------------

def check_environment(env: Environment, provided: dict[str, set[str]], root: Path = ROOT) -> list[str]:
    problems = []
    imported: dict[str, list[str]] = {}
    for role in env.roles:
        for mod, where in walk_imports(ROLES[role], root).items():
            imported.setdefault(mod, []).extend(f"{w} ({role})" for w in where)
    for mod, where in sorted(imported.items()):
        if mod in provided or mod in env.allowed_absent:
            continue
        shown = ", ".join(sorted(set(where))[:4]) + (f" and {len(set(where)) - 4} more" if len(set(where)) > 4 else "")
        problems.append(f"{env.name}: `{mod}` is imported but no distribution of the resolve provides it: {shown}")
    for mod in env.allowed_absent:
        if mod in provided:
            problems.append(
                f"{env.name}: ALLOWED_ABSENT `{mod}` is in the resolve ({', '.join(sorted(provided[mod]))}): "
                f"drop the entry"
            )
        elif mod not in imported:
            problems.append(
                f"{env.name}: ALLOWED_ABSENT `{mod}` is imported by none of {', '.join(env.roles)}: drop the entry"
            )
    return problems


RUNTIME_ROLES = ("code location", "trainer", "serving")


def undeclared_imports(
    env: Environment, provided: dict[str, set[str]], root: Path = ROOT
) -> tuple[list[str], list[str]]:
    """Imported modules present only as another distribution's dependency: problems for the runtime
    roles (a dependency's dependency can go away in any upgrade), notes for the tests."""
    declared = set(direct_requirements(root))
    problems, notes = [], []
    for role in env.roles:
        for mod, where in walk_imports(ROLES[role], root).items():
            dists = provided.get(mod, set())
            if dists and not {_normalize(d) for d in dists} & declared:
                line = (f"{env.name}: `{mod}` ({', '.join(sorted(dists))}) is imported ({where[0]}, {role}) "
                        f"but pyproject.toml does not declare it")
                (problems if role in RUNTIME_ROLES else notes).append(line)
    return sorted(set(problems)), sorted(set(notes))


def direct_requirements(root: Path = ROOT) -> dict[str, str]:
    """Distribution -> where pyproject.toml declares it ("dependencies" or the extra's name)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    out = {}
    for where, reqs in [("dependencies", project.get("dependencies", [])),
                        *project.get("optional-dependencies", {}).items()]:
        for req in reqs:
            out[_normalize(re.split(r"[\[<>=!~;\s]", req, maxsplit=1)[0])] = where
    return out


def unused_requirements(maps: list[dict[str, set[str]]], root: Path = ROOT) -> list[str]:
    imported = set()
    for entries in ROLES.values():
        imported |= set(walk_imports(entries, root))
    used = {_normalize(d) for m in maps for mod, dists in m.items() if mod in imported for d in dists}
    allowed = {_normalize(d) for d in USED_WITHOUT_IMPORT}
    return [f"pyproject.toml ({where}): `{dist}` is declared but nothing imports a module of it"
            for dist, where in sorted(direct_requirements(root).items()) if dist not in used | allowed]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", action="append", choices=[e.name for e in ENVIRONMENTS])
    ap.add_argument("--reports", type=Path, default=None, help="folder for the pip reports (default: a temp folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse reports already in --reports")
    ap.add_argument("--root", type=Path, default=ROOT, help="the source tree to walk and resolve")
    args = ap.parse_args(argv)
    envs = tuple(e for e in ENVIRONMENTS if not args.env or e.name in args.env)
    t0 = time.monotonic()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="vvae-env-deps-") as tmp:
        reports = resolve_all(envs, args.reports or Path(tmp), args.reuse, args.root.resolve())
        maps = {}
        for env in envs:
            maps[env.name] = module_map(reports[env.name])
    problems, notes = [], []
    for env in envs:
        found = check_environment(env, maps[env.name], args.root.resolve())
        more, note = undeclared_imports(env, maps[env.name], args.root.resolve())
        found += more
        notes += note
        n = len(reports[env.name]["install"])
        print(f"[env-deps] {env.name} ({env.script}, .[{','.join(env.extras)}]{', CUDA pins' if env.cuda else ''}): "
              f"{n} distributions, roles {', '.join(env.roles)}: {'OK' if not found else f'{len(found)} problem(s)'}")
        problems += found
    if not args.env:  # the unused check needs every environment's map
        problems += unused_requirements(list(maps.values()), args.root.resolve())
    for n in sorted(set(notes)):
        print(f"[env-deps] note {n}")
    for p in problems:
        print(f"[env-deps] FAIL {p}")
    print(f"[env-deps] {'FAILED' if problems else 'passed'} in {time.monotonic() - t0:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
