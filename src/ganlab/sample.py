"""sample(cfg): rebuild a trained generator from its checkpoint and write images."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torchvision.utils import make_grid, save_image

from ganlab.checkpoints import load_checkpoint
from ganlab.config_checks import ConfigError
from ganlab.sampling import generate, to_uint8

log = logging.getLogger(__name__)


def load_generator(ckpt_path: str, device: str = "cpu") -> torch.nn.Module:
    """The generator of a ganlab checkpoint, rebuilt from the config saved inside it, in eval mode."""
    checkpoint = load_checkpoint(ckpt_path)
    run = checkpoint["ganlab_run"]
    config = OmegaConf.create(run["config"])
    generator = instantiate(config.model.generator, image_shape=tuple(run["image_shape"]),
                            num_classes=run["num_classes"])
    prefix = "generator."
    state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    return generator.to(device).eval()


def output_paths(out: str) -> tuple[Path, Path]:
    """(where the samples go, where the grid goes): x.npz -> x_grid.png; dir/ -> dir_grid.png."""
    path = Path(out)
    stem = path.with_suffix("") if path.suffix == ".npz" else Path(str(path).rstrip("/"))
    return path, stem.with_name(stem.name + "_grid.png")


def sample(cfg: DictConfig) -> Path:
    if not cfg.ckpt_path:
        raise ConfigError("ckpt_path is required, e.g. ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt")
    if isinstance(cfg.num_samples, bool) or not isinstance(cfg.num_samples, int) or cfg.num_samples <= 0:
        raise ConfigError(f"num_samples must be a positive integer, got {cfg.num_samples!r}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    generator = load_generator(cfg.ckpt_path, device)
    images = generate(generator, cfg.num_samples, seed=cfg.seed, device=device, batch_size=cfg.batch_size)
    pixels = to_uint8(images).numpy()  # (n, h, w, c)

    out, grid_path = output_paths(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        np.savez_compressed(out, x=pixels)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(pixels):
            Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(out / f"{i:06d}.png")
    shown = images[: cfg.grid_size]
    save_image(make_grid(shown, nrow=int(len(shown) ** 0.5), normalize=True, value_range=(-1, 1)), grid_path)
    log.info("wrote %d samples to %s and a grid to %s", cfg.num_samples, out, grid_path)
    print(f"wrote {cfg.num_samples} samples to {out} and a grid to {grid_path}")
    return out
