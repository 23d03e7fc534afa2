"""Shared pytest fixtures. The helpers themselves live in tests/helpers/ (import them from there);
the fixtures hand out their factories (`toy_module(**options)`, `toy_data(**options)`,
`fit(module, ...)`, `compose_train(*overrides)`), so each test builds exactly what it needs."""
from __future__ import annotations

import pytest

from helpers import ToyData, compose_config, fit_module, make_toy_module


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
