# The two quick-start commands: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edi-gateway --log-format console demo --dir demo-data --port $${PORT:-8080}

lint: $(STAMP)
	$(BIN)/ruff check edi_gateway tests bench
	$(BIN)/mypy edi_gateway

# pytest exits with 5 when nothing was collected: that is not a failure of the suite.
test: lint
	$(BIN)/pytest -q -ra $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf $(VENV) demo-data .pytest_cache .mypy_cache .ruff_cache artifacts
