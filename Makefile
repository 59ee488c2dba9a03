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
# Generated blocks in tracked files (README.md, docs/*.md) are rewritten only when asked: `make docs`
# rewrites the blocks of make run's commands from this machine; UPDATE_DOCS=1 lets another target
# write its own block (make serve-bench UPDATE_DOCS=1). Without it, targets write under artifacts/
# and reports/ only, so make run and make test leave the checkout as it was.
UPDATE_DOCS ?=

RUN := artifacts/seed-cnn
EDGE := artifacts/edge-cnn

.PHONY: run docs numpy-check test setup venv data qemu sshd browser postgres train edge-teacher peers runs export bench pi-check pi-matrix sweep doctor-models overhead layers fuzz imports quant-demo serve-bench clean help gallery

help:
	@echo "make run   - set up, train the tutorial CNN, the ANN and the edge CNN on the real data (seeds: $(SEEDS)),"
	@echo "             export both CNNs to every TFLite/ONNX format, benchmark them side by side, make peers"
	@echo "make test  - set up, train+export the tutorial CNN if missing, quick benchmark gate, test suite"
	@echo "make docs  - after make run: export, benchmark, Pi check again and rewrite the generated blocks"
	@echo "             of README.md and docs/ (other targets touch them only with UPDATE_DOCS=1)"
	@echo "make bench - the full benchmark of $(RUN)/export into reports/"
	@echo "make peers - our CNNs beside Fashion-MNIST's benchmark table (README's peers block, docs/img/ plot)"
	@echo "make edge-teacher - three seeds of the edge CNN's former 60-epoch no-flip recipe (pinned) to distill from (fmnist-train --teacher), once"
	@echo "make sweep - the hyperparameter ablation (fmnist-sweep, $(SWEEP_EPOCHS) epochs per trial) into reports/sweep.*"
	@echo "make pi-check - $(RUN)/export on emulated Raspberry Pis, one per OS (bookworm/trixie, 64/32-bit) into reports/pi.md"
	@echo "make pi-matrix - every OS on both of its Pis, the tutorial and (when trained) the edge CNN (CI runs it)"
	@echo "make overhead - batch-1 cost of Classifier.predict vs the bare loop, and threads sharing one Classifier"
	@echo "make serve-bench - fmnist-serve under load (1, 8, 32 clients) from a [serve,litert]-only venv into reports/serve.*"
	@echo "make fuzz  - 300 mutated copies of each int8 model through fmnist-predict: refused, accepted, crashed"
	@echo "make imports - the layer contracts (import-linter; make test runs them too)"
	@echo "make export - every format of $(RUN) (and of $(EDGE) when trained), the table in docs/export.md"
	@echo "make runs  - the runs table of docs/train.md from artifacts/*/metrics.json"
	@echo "make numpy-check - the numpy engine against LiteRT on every TFLite file of the trained models"
	@echo "make layers - batch-1 time of each part of the CNN, float32 vs int8, AMX denied and allowed"
	@echo "make doctor-models - regenerate the tiny models fmnist-doctor ships with"
	@echo "make gallery - user-style Keras models and one-layer probes: export --quantize all, every engine (docs/export.md)"
	@echo "make quant-demo - a CNN int8 hurts (ELU, learning rate 0.02): per-layer error, auto fallback, calibration"

setup: venv data

venv: $(STAMP)

# $(call make_venv,PYTHON,FOLDER): Debian's python3 has no venv module until python3-venv is in
define make_venv
	@if ! $(1) -m venv $(2); then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y python3-venv && $(1) -m venv $(2); \
	  else echo "error: '$(1) -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2; exit 1; fi; \
	fi
endef

$(STAMP): pyproject.toml
	$(call make_venv,$(PYTHON),$(VENV))
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[all,dev]'
	@touch $(STAMP)

# The dataset comes from Debian's package; $FMNIST_DATA overrides it (see docs/data.md).
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

# OpenSSH's server for the fmnist-bench --remote tests, which start their own sshd on 127.0.0.1
# with a config and keys of their own (the system's sshd is neither started nor changed).
sshd:
	@if [ -x /usr/sbin/sshd ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "sshd: installing the Debian package openssh-server"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends openssh-server || { apt-get update -q && apt-get install -y -q --no-install-recommends openssh-server; }; \
	else \
	  echo "error: /usr/sbin/sshd is missing: run 'sudo apt-get install openssh-server'" >&2; exit 1; \
	fi

# Debian's Chromium and its WebDriver for the browser test of fmnist-serve's page (Selenium drives
# the system browser; nothing downloads a browser of its own).
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "browser: installing the Debian packages chromium and chromium-driver"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends chromium chromium-driver || { apt-get update -q && apt-get install -y -q --no-install-recommends chromium chromium-driver; }; \
	else \
	  echo "error: Chromium is missing: run 'sudo apt-get install chromium chromium-driver'" >&2; exit 1; \
	fi

# PostgreSQL for fmnist-sweep's storage tests, which start a throwaway cluster of their own on
# 127.0.0.1 (initdb into a temporary folder). Debian's package may create its own main cluster
# too; the tests never use or change it.
postgres:
	@if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "postgres: installing the Debian package postgresql"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q --no-install-recommends postgresql || { apt-get update -q && apt-get install -y -q --no-install-recommends postgresql; }; \
	else \
	  echo "error: PostgreSQL is missing: run 'sudo apt-get install postgresql'" >&2; exit 1; \
	fi

# qemu user-mode emulation for the Raspberry Pi check (only qemu-aarch64-static is used).
qemu:
	@if command -v qemu-aarch64-static >/dev/null && command -v qemu-arm-static >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "qemu: installing the Debian package qemu-user-static"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -q qemu-user-static || { apt-get update -q && apt-get install -y -q qemu-user-static; }; \
	else \
	  echo "error: qemu-aarch64-static or qemu-arm-static is missing: run 'sudo apt-get install qemu-user-static'" >&2; exit 1; \
	fi

train: setup
	@set -e; for s in $(SEEDS); do \
	  sfx=; [ "$$s" = 0 ] || sfx=-seed$$s; \
	  $(VENV)/bin/fmnist-train --model seed-cnn --seed $$s --name seed-cnn$$sfx; \
	  $(VENV)/bin/fmnist-train --model ann --seed $$s --name ann$$sfx; \
	done
	@set -e; for s in $(SEEDS); do \
	  sfx=; [ "$$s" = 0 ] || sfx=-seed$$s; \
	  $(VENV)/bin/fmnist-train --model edge-cnn --seed $$s --name edge-cnn$$sfx; \
	done

# The edge CNN's teachers (distillation, fmnist-train --teacher): three seeds of its former 60-epoch
# recipe, pinned here by its flags (32-32-64 blocks, a 128-unit head, no flips, 60 epochs), which
# score 94.08 % on the validation split as an ensemble (93.0-93.3 % alone); each trains in 14-16
# min on the 2-core AMD EPYC, once: a seed whose model.keras exists is not trained again.
TEACHER_SEEDS ?= 0 1 2
TEACHER_FLAGS := --model edge-cnn --block-filters 32,32,64 --dense-units 128 --no-flip --epochs 60 \
  --batch-size 128 --augment --erasing --schedule cosine --optimizer adam --learning-rate 0.003
edge-teacher: setup
	@set -e; for s in $(TEACHER_SEEDS); do \
	  [ -f artifacts/edge-teacher-seed$$s/model.keras ] || \
	  $(VENV)/bin/fmnist-train $(TEACHER_FLAGS) --seed $$s --name edge-teacher-seed$$s; \
	done

runs: venv
	$(VENV)/bin/fmnist-runs artifacts $(if $(UPDATE_DOCS),--update-readme docs/train.md)

export: venv
	$(VENV)/bin/fmnist-export $(RUN) --quantize all $(if $(UPDATE_DOCS),--update-readme docs/export.md)
	$(PY) -m fmnist_edge.export.quant_summary $(RUN)/export --layers $(if $(UPDATE_DOCS),--update-readme docs/export.md)
	@if [ -f $(EDGE)/model.keras ]; then $(VENV)/bin/fmnist-export $(EDGE) --quantize all && \
	  $(PY) -m fmnist_edge.export.quant_summary $(EDGE)/export --layers $(if $(UPDATE_DOCS),--update-readme docs/export.md); fi

# make test needs a real exported model: train and export it once (a no-op when present).
$(RUN)/model.keras: | venv data
	$(VENV)/bin/fmnist-train --model seed-cnn --seed 0 --name seed-cnn --progress lines

$(RUN)/export/manifest.json: $(RUN)/model.keras
	$(VENV)/bin/fmnist-export $(RUN) --quantize all --progress none

# The tutorial CNN, and the edge CNN beside it when it has been trained and exported (make run).
bench: $(RUN)/export/manifest.json
	@dirs="$(RUN)/export"; if [ -f $(EDGE)/export/manifest.json ]; then dirs="$$dirs $(EDGE)/export"; fi; \
	echo "$(VENV)/bin/fmnist-bench $$dirs --out reports --gate benchmarks/baseline.json $(if $(UPDATE_DOCS),--update-readme README.md)"; \
	$(VENV)/bin/fmnist-bench $$dirs --out reports --gate benchmarks/baseline.json $(if $(UPDATE_DOCS),--update-readme README.md)
	@echo "report: reports/benchmark.md (+ benchmark.json, PNG plots)"

run: train runs export bench peers

# Our CNNs (make run's seeds, make bench's int8 figures) beside the small models of Fashion-MNIST's
# own benchmark table; UPDATE_DOCS=1 writes README's peers block and its accuracy/latency plot.
peers: venv
	$(PY) -m fmnist_edge.benchmarks.peers artifacts --bench reports/benchmark.json \
	  $(if $(UPDATE_DOCS),--update-readme README.md --plot docs/img/int8_models.png)

# The maintainers' refresh of the figures in README.md and docs/: export, benchmark and the
# emulated Pi again on this machine (after make run trained the models), each block naming its
# machine and date.
docs:
	$(MAKE) --no-print-directory runs export bench peers pi-matrix numpy-check gallery UPDATE_DOCS=1

# A model where int8 hurts, found by measuring fmnist-train options (README "Where int8 loses
# accuracy"): the tutorial CNN with ELU and Adam at 0.02 for 3 epochs. Exported with the fallback
# loop (--max-drop 0.3) and the calibration search; the report is copied to reports/quant-demo/,
# the summary goes into README's quant-demo block. tests/export/test_quant_demo.py reads these lines.
QUANT_DEMO := artifacts/quant-demo
quant-demo: setup
	$(VENV)/bin/fmnist-train --model seed-cnn --activation elu --learning-rate 0.02 --epochs 3 \
	  --seed 0 --name quant-demo --progress lines
	$(VENV)/bin/fmnist-export $(QUANT_DEMO) --quantize all --calibration auto --max-drop 0.3 \
	  --progress lines || [ $$? = 1 ]
	@mkdir -p reports/quant-demo && cp $(QUANT_DEMO)/export/report.md $(QUANT_DEMO)/export/*.png reports/quant-demo/
	$(PY) -m fmnist_edge.export.quant_summary $(QUANT_DEMO)/export $(if $(UPDATE_DOCS),--update-readme README.md)
	@echo "report: reports/quant-demo/report.md"

# Regenerate the tiny random-weight models fmnist-doctor ships with (needs [train]).
doctor-models: venv
	$(PY) -m fmnist_edge.export.doctor_models

# Batch-1 cost of Classifier.predict vs the bare engine loop, and one Classifier shared by threads
# (the overhead tables of docs/runtime.md): the tutorial CNN, and the edge CNN when make run exported it.
overhead: $(RUN)/export/manifest.json
	$(PY) -m fmnist_edge.benchmarks.overhead $(RUN)/export
	@if [ -f $(EDGE)/export/manifest.json ]; then $(PY) -m fmnist_edge.benchmarks.overhead $(EDGE)/export; fi

# 300 mutated copies of each int8 model through fmnist-predict, one process each (the counts in docs/runtime.md).
fuzz: $(RUN)/export/manifest.json
	$(PY) -m fmnist_edge.benchmarks.fuzz $(RUN)/export --mutants 300 $(if $(UPDATE_DOCS),--update-readme docs/runtime.md)

# The numpy engine against LiteRT's builtin kernels and its default on every TFLite file of the
# three models (the ANN is exported here when make run trained it; exit 3 = mixed skipped, the ANN
# has no convolution): docs/runtime.md's table.
ANN := artifacts/ann
numpy-check: $(RUN)/export/manifest.json
	@if [ -f $(ANN)/model.keras ] && [ ! -f $(ANN)/export/manifest.json ]; then \
	  $(VENV)/bin/fmnist-export $(ANN) --quantize all --progress none || [ $$? = 3 ]; fi
	$(PY) -m fmnist_edge.benchmarks.engines $$(ls -d $(RUN)/export $(ANN)/export $(EDGE)/export 2>/dev/null) \
	  $(if $(UPDATE_DOCS),--update-readme docs/runtime.md)

# Where the batch-1 time goes: each part of the CNN as its own float32 / int8 TFLite model.
layers: $(RUN)/model.keras
	$(PY) -m fmnist_edge.benchmarks.layers $(RUN) --amx deny
	$(PY) -m fmnist_edge.benchmarks.layers $(RUN) --amx allow

# One hyperparameter at a time from the tutorial's configuration (resumable; reports/sweep.*).
SWEEP_EPOCHS ?= 3
sweep: setup
	$(VENV)/bin/fmnist-sweep --mode ablation --epochs $(SWEEP_EPOCHS) --out reports $(if $(UPDATE_DOCS),--update-readme docs/sweep.md)

# The runtime on emulated Raspberry Pis: Raspberry Pi OS bookworm and trixie, 64- and 32-bit, each
# from Debian's packages with the wheels that exist for it (benchmarks/pi/systems.py). pi-check: each
# system on one Pi, the tutorial CNN (make test); pi-matrix: each system on both of its Pis, and the
# edge CNN beside the tutorial's when make run trained it (CI runs it after make test; make docs).
pi-check: $(RUN)/export/manifest.json qemu
	$(PY) -m fmnist_edge.benchmarks.pi.check $(RUN)/export --out reports
	@if [ -n "$$GITHUB_STEP_SUMMARY" ]; then cat reports/pi.md >> "$$GITHUB_STEP_SUMMARY"; fi

pi-matrix: $(RUN)/export/manifest.json qemu
	$(PY) -m fmnist_edge.benchmarks.pi.check $(RUN)/export $(dir $(wildcard $(EDGE)/export/manifest.json)) --matrix full \
	  --out reports $(if $(UPDATE_DOCS),--update-readme docs/pi.md)

test: setup sshd browser postgres $(RUN)/export/manifest.json
	$(VENV)/bin/fmnist-bench $(RUN)/export --quick --out reports --gate benchmarks/baseline.json
	@cat reports/benchmark.md
	@if [ -n "$$GITHUB_STEP_SUMMARY" ]; then cat reports/benchmark.md >> "$$GITHUB_STEP_SUMMARY"; fi
	@# the CI Pi job's command, gated for this machine's CPU class; before the emulated Pis, whose
	@# qemu guests leave the machine slower for a while (int8 29.9 against 22.6 µs right after them)
	$(PY) -m fmnist_edge.benchmarks.on_device $(RUN)/export --device-name this-machine \
	  --out reports/devices/this-machine
	$(MAKE) --no-print-directory pi-check
	$(VENV)/bin/fmnist-bench --merge reports/benchmark.json reports/devices/emulated-*/benchmark.json --out reports
	@# --durations: where make test's time goes, so it stays under its 30 minutes
	FMNIST_TEST_RUN=$(RUN) $(PY) -m pytest -m "not gallery" --durations=30 $(PYTEST_ARGS)

# Bring your own model (docs/export.md): user-style Keras models and one-layer probes, each trained
# briefly on the real data, exported with --quantize all and run on every engine installed; exit 1
# on a silent disagreement. make test runs two of them (tests/export/test_gallery.py); CI all.
gallery: setup
	$(PY) -m fmnist_edge.export.gallery --out reports/gallery $(if $(UPDATE_DOCS),--update-readme docs/export.md)

# fmnist-serve under load from 1, 8 and 32 clients on 127.0.0.1, the server running in a venv of its
# own with only [serve,litert] (no TensorFlow), as on a device: README's serve block, reports/serve.*
# Its Python is the system's python3 where there is one (Debian's, as on Raspberry Pi OS): a
# self-built Python without PGO/LTO (this VM's pyenv python3) starts numpy ~30 % slower, and
# fmnist-predict's first answer took 123 ms there against 106 ms here, interleaved (AMD EPYC,
# docs/runtime.md).
DEVICE_VENV ?= .venv-device
DEVICE_PYTHON ?= $(if $(wildcard /usr/bin/python3),/usr/bin/python3,$(PYTHON))
$(DEVICE_VENV)/.installed: pyproject.toml
	rm -rf $(DEVICE_VENV)
	$(call make_venv,$(DEVICE_PYTHON),$(DEVICE_VENV))
	$(DEVICE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DEVICE_VENV)/bin/python -m pip install --quiet '.[serve,litert]'
	@touch $@

# The load client runs under the device venv's Python too (it needs no TensorFlow): one interpreter
# for every process of the benchmark, which share the cores. The venv's copy of this checkout is not
# editable, so it is installed again first, without dependencies.
serve-bench: $(RUN)/export/manifest.json $(DEVICE_VENV)/.installed
	$(DEVICE_VENV)/bin/python -m pip install --quiet --no-deps --force-reinstall .
	$(DEVICE_VENV)/bin/python -m fmnist_edge.benchmarks.serving.cli $(RUN)/export \
	  --server-python $(DEVICE_VENV)/bin/python \
	  --server-arg=--workers=$$(nproc) \
	  --out reports $(if $(UPDATE_DOCS),--update-readme README.md)

# The import-linter contracts of pyproject.toml on the installed layout (also part of make test).
imports: venv
	$(PY) -m pytest -q tests/test_import_contracts.py

clean:
	rm -rf $(VENV) $(DEVICE_VENV) artifacts reports .pytest_cache
