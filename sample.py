"""Sample from a trained GAN: `python sample.py ckpt_path=PATH num_samples=N out=PATH` (see README.md)."""
import hydra
from omegaconf import DictConfig

from ganlab.cli import report_errors
from ganlab.sample import sample


@hydra.main(config_path="conf", config_name="sample", version_base="1.3")
def main(cfg: DictConfig) -> None:
    report_errors(sample, cfg)


if __name__ == "__main__":
    main()
