"""Shared pytest fixtures. The helpers themselves live in tests/helpers/ (import them from there);
the fixtures hand out their factories (`toy_module(**options)`, `toy_data(**options)`,
`fit(module, ...)`, `compose_train(*overrides)`), so each test builds exactly what it needs."""
from __future__ import annotations

import pytest
from hydra.core.hydra_config import HydraConfig

from helpers import ToyData, compose_config, fit_module, make_toy_module


@pytest.fixture(autouse=True)
def no_hydra_run_config():
    """Each test starts outside a Hydra run: run() reads the command line from HydraConfig when set."""
    HydraConfig.instance().cfg = None
    yield
    HydraConfig.instance().cfg = None


@pytest.fixture
def toy_module():
    return make_toy_module


@pytest.fixture
def toy_data():
    return ToyData


@pytest.fixture
def fit():
    return fit_module


@pytest.fixture
def compose_train():
    return compose_config
