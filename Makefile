# ganlab: `make install` once, then `make train`, `make test`, `make tensorboard`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The PyTorch build to install; e.g. make install TORCH="torch torchvision" for the newest release.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install train test test-all bench tensorboard clean
# make bench: CPU-sized networks whose step is mostly per-step overhead, timed in CPU time (steady on a
# shared machine). On a GPU: make bench BENCH_ARGS="--device cuda --cases dcgan" (bench/README.md).
BENCH_ARGS ?= --device cpu --threads 1 --clock cpu --width 4 --image-size 16 --channels 1 --batch-sizes 64 \
	--iterations 20 --warmup 3 --repeats 3 --num-images 10000

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(TORCH)
	$(PY) -m pip install -e ".[dev]"
	touch $@

train: install  ## quick start: a DCGAN on scikit-learn's digits, CPU, a few minutes
	$(PY) train.py experiment=quickstart

test: install  ## the test suite (a few minutes on 2 CPU cores)
	$(PY) -m pytest

test-all: install  ## also the slow tests
	$(PY) -m pytest -m ""

bench: install  ## training throughput: a plain PyTorch loop vs ganlab's training path (~1 minute on a CPU)
	$(PY) bench/bench.py $(BENCH_ARGS)

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs

clean:  ## remove run outputs and caches (keeps .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf multirun .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
