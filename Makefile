# Two commands for a fresh machine: `make demo` (the whole DAG) and `make test`.
.PHONY: setup demo test dev
setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python -m assets.main

test: setup
	.venv/bin/python -m pytest

# The UI on the same instance the main job wrote to ($VVAE_HOME/dagster unless DAGSTER_HOME is set),
# bound to 127.0.0.1 only.
dev: setup
	@home=$$(realpath -m "$${VVAE_HOME:-.vvae}"); export DAGSTER_HOME=$${DAGSTER_HOME:-$$home/dagster}; \
	mkdir -p "$$DAGSTER_HOME"; echo "Dagster instance: $$DAGSTER_HOME"; \
	exec .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1
