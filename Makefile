# Two commands do all the set-up on a fresh machine:
#   make dev    creates .venv when there is none, then runs `scale-scheduler dev`
#   make test   creates .venv when there is none, then runs the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: dev test audit bench bench-scale venv clean

$(STAMP): setup.py pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

dev: $(STAMP)
	$(BIN)/scale-scheduler dev

test: $(STAMP)
	$(BIN)/ruff check scheduler tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

audit: $(STAMP)
	$(BIN)/python .ci/audit_deps.py

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# 10,000 agents, 100,000 jobs; e.g. BENCH_ARGS="--agents 1000 --jobs 10000 --kill-at 0.4 --slow-master-ms 200"
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
