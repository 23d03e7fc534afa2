# ganlab: `make install` once, then `make train`, `make test`, `make tensorboard`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The PyTorch build to install; e.g. make install TORCH="torch torchvision" for the newest release.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install train test test-all bench quality tensorboard clean
# make bench: CPU-sized networks whose step is mostly per-step overhead, timed in CPU time (steady on a
# shared machine). On a GPU: make bench BENCH_ARGS="--device cuda --cases dcgan" (bench/README.md).
BENCH_ARGS ?= --device cpu --threads 1 --clock cpu --width 4 --image-size 16 --channels 1 --batch-sizes 64 \
	--iterations 20 --warmup 3 --repeats 3 --num-images 10000

# make quality: every loss x conditioning on MNIST at one budget, 3 seeds, one torch thread per job, scored
# by the MNIST classifier (callbacks/metrics=classifier), then a markdown table of mean +- std
# (bench/quality_table.py). The full grid is 72 jobs: hours on a CPU; shrink it with the variables, e.g.
# make quality DATA_ROOT=/datasets QUALITY_LOSSES=gan,hinge QUALITY_SEEDS=0 QUALITY_ITERATIONS=500
DATA_ROOT ?= data
QUALITY_LOSSES ?= gan,wgan_clip,wgan_gp,ebgan,lsgan,hinge
QUALITY_CONDITIONING ?= none,concat,projection,acgan
QUALITY_SEEDS ?= 0,1,2
QUALITY_ITERATIONS ?= 4000
QUALITY_ARGS ?=   # more overrides for every job, e.g. callbacks.metrics.num_samples=5000
QUALITY_STAMP := $(shell date +%Y-%m-%d_%H-%M-%S)
QUALITY_DIR ?= outputs/quality/$(QUALITY_STAMP)

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

quality: install  ## loss x conditioning on MNIST, 3 seeds, classifier FID/IS/class accuracy table (CPU: hours)
	OMP_NUM_THREADS=1 $(PY) train.py -m experiment=mnist_quality data.root=$(DATA_ROOT) \
		loss=$(QUALITY_LOSSES) conditioning=$(QUALITY_CONDITIONING) seed=$(QUALITY_SEEDS) \
		iterations=$(QUALITY_ITERATIONS) hydra.sweep.dir=$(QUALITY_DIR) $(QUALITY_ARGS); \
	status=$$?; $(PY) bench/quality_table.py $(QUALITY_DIR)/summary.csv; exit $$status

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs

clean:  ## remove run outputs and caches (keeps .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf multirun .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
