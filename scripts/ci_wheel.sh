#!/usr/bin/env bash
# The wheel as a user gets it: build it, install it into a fresh venv with no source tree in
# sight, and load the code location from the installed package.
#  1. `pip wheel --no-deps --no-build-isolation` (setuptools from $VENV, no download)
#  2. the wheel holds every package of the source tree (each folder with an __init__.py under
#     vvae_pipeline/, assets/, resources/) and the package data (vvae_pipeline/data/*.json)
#  3. a fresh venv gets only the wheel (--no-deps); its dependencies come from $VENV's
#     site-packages through a .pth file, which sys.path puts after the venv's own site-packages,
#     so the installed vvae wins and $VENV's editable vvae (a .pth finder there) is never loaded
#  4. from an empty folder: the installed session schema rejects a bad record, then
#     `dagster definitions validate -m assets.definitions` for the local, gpu and k8s profiles
#     (k8s reads only deploy/k8s/*.yaml, copied next to it: config, not code)
# Measured on the 2-core development machine: 19 s in all when idle, 127 s at load average ~6
# (other jobs running); most of it is importing Dagster four times.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=$(realpath "${VENV:-.venv}")
PY=$VENV/bin/python
WORK=$(mktemp -d /tmp/vvae-wheel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)
say() { echo "[ci_wheel $(( $(date +%s) - t0 ))s] $*"; }

say "building the wheel"
leftovers=$(ls -d build ./*.egg-info 2>/dev/null || true)
"$PY" -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" . 2>&1 | grep -v 'is ignored: it is neither' || true
for d in build ./*.egg-info; do  # setuptools' leftovers in the source tree, unless they were there before
  [ -e "$d" ] && ! grep -qxF "$d" <<<"$leftovers" && rm -rf "$d"
done
WHEEL=$(ls "$WORK"/dist/vvae-*.whl)
say "built $(basename "$WHEEL")"

"$PY" - "$WHEEL" <<'EOF'
import sys, zipfile
from pathlib import Path

names = set(zipfile.ZipFile(sys.argv[1]).namelist())
packages = sorted(str(p.parent) for top in ("vvae_pipeline", "assets", "resources") for p in Path(top).rglob("__init__.py"))
missing = [p for p in packages if f"{p}/__init__.py" not in names]
data = sorted(str(p) for p in Path("vvae_pipeline/data").glob("*.json"))
missing += [d for d in data if d not in names]
assert not missing, f"not in the wheel: {missing}"
assert not any(n.startswith(("tests/", "deploy/", "docs/")) for n in names), "test or deploy files in the wheel"
print(f"[ci_wheel] wheel holds all {len(packages)} packages and {len(data)} data files: {', '.join(data)}")
EOF

say "fresh venv with the wheel only"
"$PY" -m venv --without-pip "$WORK/venv"
"$PY" -m pip --python "$WORK/venv/bin/python" install -q --no-deps "$WHEEL" 2>&1 | grep -v 'is ignored: it is neither' || true
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
"$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' > "$SITE/zz_vvae_deps.pth"

mkdir -p "$WORK/elsewhere/deploy"
cp -r "$REPO/deploy/k8s" "$WORK/elsewhere/deploy/k8s"
cd "$WORK/elsewhere"
unset PYTHONPATH VVAE_DEPLOY_DIR
export VVAE_HOME=$WORK/home DAGSTER_HOME=$WORK/dagster-home
mkdir -p "$DAGSTER_HOME" && touch "$DAGSTER_HOME/dagster.yaml"
export PYTHONWARNINGS=ignore  # Dagster's beta/preview warnings; errors still fail the step
IPY=$WORK/venv/bin/python

"$IPY" - "$SITE" <<'EOF'
import sys
from pathlib import Path

site = Path(sys.argv[1]).resolve()
import assets.definitions, resources.storage, vvae_pipeline  # noqa: E401
from vvae_pipeline.ingest.session_schema import SCHEMA_PATH, check_record
from vvae_pipeline.scrub.names import GAZETTEER_PATH

for mod in (assets.definitions, resources.storage, vvae_pipeline):
    assert Path(mod.__file__).resolve().is_relative_to(site), f"{mod.__name__} from {mod.__file__}, not the wheel"
for path in (SCHEMA_PATH, GAZETTEER_PATH):
    assert path.resolve().is_relative_to(site) and path.is_file(), path
good = {"session_id": "s1", "agent_id": "a1", "user_id": "u1", "language": "en",
        "turns": [{"role": "user", "text": "hi"}, {"role": "agent", "text": "hello"}]}
assert check_record(good) is None, check_record(good)
reason = check_record({**good, "language": "fr"})  # worded by jsonschema from the packaged schema
assert reason and "language" in reason, reason
print(f"[ci_wheel] installed package under {site}; packaged schema rejects a bad record: {reason}")
EOF

for profile in local gpu k8s; do
  if [ "$profile" = k8s ]; then export VVAE_DEPLOY_DIR=$WORK/elsewhere/deploy VVAE_IMAGE=vvae:ci VVAE_K8S_NAMESPACE=ci; fi
  say "dagster definitions validate -m assets.definitions (VVAE_PROFILE=$profile)"
  out=$(VVAE_PROFILE=$profile "$IPY" -m dagster definitions validate -m assets.definitions 2>&1) \
    || { echo "$out"; echo "[ci_wheel] validation failed for profile $profile"; exit 1; }
  echo "$out" | grep -v -e 'return callback' -e '^\s*$' || true
done
say "done"
