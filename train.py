"""Train a GAN: `python train.py [group=option ...] [key=value ...]` (see README.md)."""
import hydra
from omegaconf import DictConfig

from ganlab.cli import report_errors
from ganlab.train import run


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    return report_errors(run, cfg)


if __name__ == "__main__":
    main()
