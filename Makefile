# Two commands for a fresh machine: `make demo` (the whole DAG) and `make test`.
.PHONY: setup demo test dev
setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python -m assets.main

# PYTEST_ARGS: extra pytest arguments (.ci/run passes --ignore=tests/vllm_cpu; those run in .venv-vllm).
test: setup
	.venv/bin/python -m pytest $(PYTEST_ARGS)

# The UI on the same instance the main job wrote to ($VVAE_HOME/dagster unless DAGSTER_HOME is set),
# bound to 127.0.0.1 only.
dev: setup
	@home=$$(realpath -m "$${VVAE_HOME:-.vvae}"); export DAGSTER_HOME=$${DAGSTER_HOME:-$$home/dagster}; \
	mkdir -p "$$DAGSTER_HOME"; echo "Dagster instance: $$DAGSTER_HOME"; \
	exec .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1
