"""Helpers shared by the tests: import them from here (`from helpers import ToyData, compose_config`).
tests/ is on the import path (pyproject.toml: pytest's `pythonpath`)."""
from helpers.configs import CONF, compose_config, options
from helpers.losses import ExplodingLossAt, NaNLossAt
from helpers.toys import (RecordingLogger, ToyData, ToyDiscriminator, ToyGenerator, fit_module,
                          make_toy_module)

__all__ = ["CONF", "ExplodingLossAt", "NaNLossAt", "RecordingLogger", "ToyData", "ToyDiscriminator", "ToyGenerator",
           "compose_config", "fit_module", "make_toy_module", "options"]
