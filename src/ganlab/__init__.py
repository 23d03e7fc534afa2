"""ganlab: an experiment framework for generative adversarial networks."""
from pathlib import Path

__version__ = "0.1.0"

CONFIG_DIR = Path(__file__).resolve().parent / "conf"  # the packaged Hydra configs (train.yaml, sample.yaml, groups)
