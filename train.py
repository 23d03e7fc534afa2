"""Train a GAN: `python train.py [group=option ...] [key=value ...]` (see README.md)."""
from typing import Any

import hydra
from omegaconf import DictConfig

from ganlab.cli import report_errors
from ganlab.sweep import in_multirun, objective_value
from ganlab.train import run


def train(cfg: DictConfig) -> Any:
    """The run's final metrics, or the one the config key `objective` names (what Optuna optimises)."""
    return objective_value(run(cfg), cfg.get("objective"))


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> Any:
    # In a multirun an error fails only its job: Hydra records it (sweep summary) and runs the rest.
    return train(cfg) if in_multirun() else report_errors(train, cfg)


if __name__ == "__main__":
    main()
