"""Sample from a trained GAN: `python sample.py ckpt_path=PATH num_samples=N out=PATH` (see README.md)."""
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from ganlab.cli import check_command_line, quiet_console, report_errors
from ganlab.sample import sample

CONF = Path(__file__).resolve().parent / "conf"


@hydra.main(config_path="conf", config_name="sample", version_base="1.3")
def main(cfg: DictConfig) -> None:
    report_errors(sample, cfg)


if __name__ == "__main__":
    quiet_console()
    check_command_line(CONF, "sample", sys.argv[1:])  # a misspelt key: the closest one, before Hydra
    main()
