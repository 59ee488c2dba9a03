# fmnist-edge: `make run` (set up, then train/report) and `make test` (set up, then pytest).
# Set-up is idempotent: the venv is rebuilt only when pyproject.toml changes.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA_DIR := /usr/share/datasets/fashion-mnist
SEEDS ?= 0 1 2
PYTEST_ARGS ?=

.PHONY: run test setup venv data train runs export doctor-models overhead clean help

help:
	@echo "make run   - set up, train the tutorial CNN and the ANN on the real data (seeds: $(SEEDS)),"
	@echo "             export artifacts/seed-cnn to every TFLite/ONNX format, print results"
	@echo "make test  - set up, run the test suite (including the slow end-to-end test)"

setup: venv data

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if ! $(PYTHON) -m venv $(VENV); then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); \
	  else echo "error: '$(PYTHON) -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2; exit 1; fi; \
	fi
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

# The dataset comes from Debian's package; $FMNIST_DATA overrides it (see README).
data:
	@if [ -n "$$FMNIST_DATA" ]; then echo "data: using FMNIST_DATA=$$FMNIST_DATA"; \
	elif ls $(DATA_DIR)/train-images-idx3-ubyte* >/dev/null 2>&1; then echo "data: $(DATA_DIR)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "data: installing the Debian package dataset-fashion-mnist"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q dataset-fashion-mnist || { apt-get update -q && apt-get install -y -q dataset-fashion-mnist; }; \
	else \
	  echo "error: Fashion-MNIST is missing: run 'sudo apt-get install dataset-fashion-mnist'," \
	       "or set FMNIST_DATA to a folder holding the four IDX files" >&2; exit 1; \
	fi

train: setup
	@set -e; for s in $(SEEDS); do \
	  name=seed-cnn; [ "$$s" = 0 ] || name=seed-cnn-seed$$s; \
	  $(VENV)/bin/fmnist-train --model seed-cnn --seed $$s --name $$name; \
	  name=ann; [ "$$s" = 0 ] || name=ann-seed$$s; \
	  $(VENV)/bin/fmnist-train --model ann --seed $$s --name $$name; \
	done

runs: venv
	$(VENV)/bin/fmnist-runs artifacts --update-readme README.md

export: venv
	$(VENV)/bin/fmnist-export artifacts/seed-cnn --quantize all --update-readme README.md

run: train runs export

# Regenerate the tiny random-weight models fmnist-doctor ships with (needs [train]).
doctor-models: venv
	$(PY) -m fmnist_edge.export.doctor_models

# Batch-1 cost of Classifier.predict vs the bare engine loop (the README's overhead table).
overhead: venv
	$(PY) -m fmnist_edge.benchmarks.overhead artifacts/seed-cnn/export

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) artifacts reports .pytest_cache
