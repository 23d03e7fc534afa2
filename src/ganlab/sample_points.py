"""sample.py for vector data (data=ring / data=grid): the generated points as float32 in an .npz
(`x` of shape (N, d)) and their picture on the mixture the run trained on (the scatter over the
modes beside the mode histogram, without D: the checkpoint's generator only)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torchvision.utils import save_image

from ganlab.checkpoints import RUN_KEY, load_checkpoint
from ganlab.config_checks import ConfigError
from ganlab.mixture_plot import mixture_frame
from ganlab.sampling import generate

log = logging.getLogger(__name__)


def write_points(cfg: DictConfig, generator: nn.Module, device: str, out: Path, picture_path: Path,
                 latent=None) -> Path:
    if out.suffix != ".npz":
        raise ConfigError(f"out={out}: this model generates points of shape {tuple(generator.image_shape)}, not "
                          "images; write them to an .npz file (e.g. out=points.npz)")
    points = generate(generator, cfg.num_samples, seed=cfg.seed, device=device, batch_size=cfg.batch_size,
                      latent=latent, truncation=cfg.get("truncation"))  # (n, d); latent None: N(0, I)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, x=points.numpy().astype(np.float32))
    data = instantiate(OmegaConf.create(load_checkpoint(cfg.ckpt_path)[RUN_KEY]["config"]).data)
    if hasattr(data, "means"):  # a mixture of Gaussians: the picture against its modes
        picture = mixture_frame(points, data.means, data.sigma, title=f"{cfg.num_samples:,} points (seed {cfg.seed})")
        save_image(picture.float() / 255, picture_path)
        log.info("wrote %d points to %s and their picture to %s", cfg.num_samples, out, picture_path)
    else:
        log.info("wrote %d points to %s", cfg.num_samples, out)
    return out
