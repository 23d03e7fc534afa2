"""Train a GAN: `python train.py [group=option ...] [key=value ...]` (see README.md)."""
from ganlab.interrupt import guard_startup

guard_startup()  # from here until the first training step, Ctrl-C / SIGTERM stop at once, cleanly

import sys  # noqa: E402 - the imports below take seconds: the guard comes first
from typing import Any  # noqa: E402

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from ganlab import CONFIG_DIR  # noqa: E402
from ganlab.cli import check_checkpoint_exists, check_command_line, quiet_console, report_errors  # noqa: E402
from ganlab.sweep import objective_value  # noqa: E402
from ganlab.train import run  # noqa: E402

def train(cfg: DictConfig) -> Any:
    """The run's final metrics, or the one the config key `objective` names (what Optuna optimises)."""
    return objective_value(run(cfg), cfg.get("objective"))


@hydra.main(config_path=str(CONFIG_DIR), config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> Any:
    # In a multirun an error fails only its job: Hydra records it (sweep summary) and runs the rest.
    return report_errors(train, cfg)


if __name__ == "__main__":
    quiet_console()
    check_command_line(CONFIG_DIR, "train", sys.argv[1:])  # a misspelt key: the closest one, before Hydra
    check_checkpoint_exists(sys.argv[1:])  # no run directory for a resume that cannot start
    main()
