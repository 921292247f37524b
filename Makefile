# The two commands of the README: `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
EVAL   ?= ../shared/eval
# Where pip finds torch's CPU build; on the public index: TORCH_INDEX=https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

.PHONY: install demo test test-all lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# CPU build of torch first: an unpinned torch pulls a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/berita ingest data/samples/seed.jsonl
	$(BIN)/berita ask "which countries left CSTO?"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint          ## the fast tests
	$(BIN)/pytest -m "not slow"

test-all: lint      ## every test (CI)
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/run.py --eval $(EVAL)

clean:
	rm -rf $(VENV)
