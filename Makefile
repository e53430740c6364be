# One command for the main job, one for the tests; each sets up its own virtual environment.
# One environment for everything (numpy 1.26: mediapipe 0.10.21, the video extra, pins numpy<2
# and protobuf<5), so the tests, the video demo and CI all run in the same .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
DATA ?= ../shared/data/cmu
ARGS ?=

.PHONY: setup demo data-check test test-browser test-blender test-all benchmark models clean-venv

# The sizes echoed below were measured with `du` on a finished .venv (torch 754 MB, the video /
# onnx / viz extras about 1.5 GB); downloads are smaller (compressed wheels).
$(STAMP): pyproject.toml
	@echo "setup: one-time install into $(VENV)/, about 2.3 GB on disk, a few minutes (one line per step, then pip names each package as it fetches it)"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "setup 1/3: upgrading pip"
	$(PY) -m pip install -q --upgrade pip
	@echo "setup 2/3: torch 2.13.0 (about 750 MB installed)"
	$(PY) -m pip install --progress-bar on torch==2.13.0
	@echo "setup 3/3: skelgnn and its extras test, viz, onnx, prepare, video (mediapipe, opencv, jax, onnxruntime, imageio-ffmpeg, scipy: about 1.5 GB installed)"
	$(PY) -m pip install --progress-bar on -e '.[test,viz,onnx,prepare,video]'
	@echo "setup: done; later runs reuse $(VENV)/"
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

VIDEO ?= ../shared/data/video/person_balance_cam01.mp4

## main job: lift the sample video to 3D with the shipped checkpoint and render it to out/demo
demo: $(STAMP)
	$(VENV)/bin/skelgnn video $(VIDEO) --out out/demo

## validate the benchmark data and print its summary
data-check: $(STAMP)
	$(VENV)/bin/skelgnn data check --data $(DATA)

## default test suite (< 10 minutes on 2 cores)
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

## the HTML viewer (skelgnn view) in real headless Chromium, offline; installs Debian's chromium
## when no chromium is on PATH (CI runs this after `make test`)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
test-browser: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian's chromium (~100 MB) for the browser test"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }
	SKELGNN_BROWSER_TEST=1 $(PY) -m pytest -q -m slow tests/video/test_viewer.py

## BVH export imported by real Blender (installs the blender extra once: bpy, a 520 MB wheel)
test-blender: $(STAMP)
	.ci/blender-deps
	@echo "installing the blender extra (bpy 4.2.0: a 520 MB wheel, 1.4 GB installed) unless present"
	$(PY) -m pip install --progress-bar on -e '.[blender]'
	$(PY) -m pytest -q -m blender tests/motion/test_blender.py

## every test, slow ones included
test-all: $(STAMP)
	$(PY) -m pytest -q -m ''

## benchmark rows (skips rows already in benchmarks/results); e.g. make benchmark ARGS="--only skelgnn-1f"
benchmark: $(STAMP)
	$(PY) benchmarks/run.py $(ARGS)

models: $(STAMP)
	$(VENV)/bin/skelgnn models

clean-venv:
	rm -rf $(VENV)
