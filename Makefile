# ganlab: `make install` once, then `make train`, `make test`, `make tensorboard`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# The PyTorch build to install; e.g. make install TORCH="torch torchvision" for the newest release.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install train test test-all tensorboard clean

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

tensorboard: install
	$(VENV)/bin/tensorboard --logdir outputs

clean:  ## remove run outputs and caches (keeps .venv)
	find outputs -mindepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf multirun .pytest_cache
	find . -name __pycache__ -not -path "./$(VENV)/*" -exec rm -rf {} +
