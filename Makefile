# Two commands for a fresh machine: `make demo` (the whole DAG) and `make test`.
.PHONY: setup demo test dev
setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python -m assets.main

test: setup
	.venv/bin/python -m pytest

dev: setup
	.venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1
