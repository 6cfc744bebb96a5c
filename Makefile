# The two set-up commands of the README. Everything installs into ./.venv from the package registries.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-all bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[dev,tensorflow,onnx]"
	touch $(STAMP)

run: $(STAMP)  ## evaluate the default models on the offline built-in samples
	$(BIN)/srbench run

test: $(STAMP)  ## the layer contract, then the CI test set (slow tests excluded)
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not slow" -q

test-all: $(STAMP)
	$(BIN)/pytest -q

bench: $(STAMP)  ## pytest-benchmark suite, peers in the same run
	$(BIN)/pytest tests/benchmarks --benchmark-enable --benchmark-only -q

lint: $(STAMP)
	$(BIN)/ruff check srbench tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
