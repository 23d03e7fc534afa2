"""Sample from a trained GAN: `python sample.py ckpt_path=PATH num_samples=N out=PATH` (see README.md)."""
import sys

import hydra
from omegaconf import DictConfig

from ganlab import CONFIG_DIR
from ganlab.cli import check_command_line, quiet_console, report_errors
from ganlab.sample import sample


@hydra.main(config_path=str(CONFIG_DIR), config_name="sample", version_base="1.3")
def main(cfg: DictConfig) -> None:
    report_errors(sample, cfg)


if __name__ == "__main__":
    quiet_console()
    check_command_line(CONFIG_DIR, "sample", sys.argv[1:])  # a misspelt key: the closest one, before Hydra
    main()
