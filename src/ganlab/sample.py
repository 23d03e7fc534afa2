"""sample(cfg): rebuild a trained generator from its checkpoint and write images.

Two modes (`mode=`): `samples` writes `num_samples` images (an .npz array or PNG files, and a grid);
`interpolate` writes a PNG strip of spherical interpolations between seeds. Both use the EMA of
G's weights when the checkpoint holds one (`ema=false`: the trained weights).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from ganlab.callbacks.ema import ema_state_of
from ganlab.checkpoints import load_checkpoint
from ganlab.config_checks import ConfigError
from ganlab.sampling import generate, interpolate, to_uint8

log = logging.getLogger(__name__)


def load_generator(ckpt_path: str, device: str = "cpu", ema: bool | None = None) -> nn.Module:
    """The generator of a ganlab checkpoint, rebuilt from the config saved inside it, in eval mode.
    `ema`: None takes the EMA weights when the run kept an EMA (callbacks/ema), else the trained
    weights; True requires the EMA; False takes the trained weights."""
    checkpoint = load_checkpoint(ckpt_path)
    run = checkpoint["ganlab_run"]
    config = OmegaConf.create(run["config"])
    generator = instantiate(config.model.generator, image_shape=tuple(run["image_shape"]),
                            num_classes=run["num_classes"])
    averaged = ema_state_of(checkpoint)
    if ema and averaged is None:
        raise ConfigError(f"ema=true, but {ckpt_path} holds no EMA of the generator (the run trained without "
                          "callbacks/ema=...); use ema=false or ema=null")
    if averaged is not None and ema is not False:
        state = averaged
        log.info("using the EMA generator weights (ema=false: the trained weights)")
    else:
        prefix = "generator."
        state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    generator.num_classes = int(run["num_classes"])  # the classes of the data it was trained on
    return generator.to(device).eval()


def requested_labels(labels, n: int, generator: nn.Module) -> Tensor | None:
    """The class of each of n images: `labels=null` spreads them evenly over the classes (0, 1, ...,
    K-1, 0, 1, ...), `labels=3` asks for class 3 only, `labels=[0,1,2]` cycles through the list.
    None for an unconditional generator."""
    if not getattr(generator, "conditional", False):
        if labels is not None:
            raise ConfigError(f"labels={labels}: this model is unconditional (trained with conditioning=none); "
                              "remove labels=")
        return None
    num_classes = generator.num_classes
    classes = list(range(num_classes)) if labels is None else (
        [labels] if isinstance(labels, int) else list(labels))
    bad = [c for c in classes if isinstance(c, bool) or not isinstance(c, int) or not 0 <= c < num_classes]
    if not classes or bad:
        raise ConfigError(f"labels must be a class index or a list of them in [0, {num_classes - 1}] "
                          f"(the model has {num_classes} classes), got {labels!r}")
    return torch.tensor(classes)[torch.arange(n) % len(classes)]  # (n,)


def output_paths(out: str) -> tuple[Path, Path]:
    """(where the samples go, where the grid goes): x.npz -> x_grid.png; dir/ -> dir_grid.png."""
    path = Path(out)
    stem = path.with_suffix("") if path.suffix == ".npz" else Path(str(path).rstrip("/"))
    return path, stem.with_name(stem.name + "_grid.png")


def write_samples(cfg: DictConfig, generator: nn.Module, device: str) -> Path:
    """`num_samples` images from seeded noise to `out` (.npz or a directory of PNGs), plus a grid.
    A conditional generator draws the classes `labels` asks for; the .npz then also holds `y`."""
    if isinstance(cfg.num_samples, bool) or not isinstance(cfg.num_samples, int) or cfg.num_samples <= 0:
        raise ConfigError(f"num_samples must be a positive integer, got {cfg.num_samples!r}")
    labels = requested_labels(cfg.labels, cfg.num_samples, generator)
    images = generate(generator, cfg.num_samples, seed=cfg.seed, device=device, labels=labels,
                      batch_size=cfg.batch_size)
    pixels = to_uint8(images).numpy()  # (n, h, w, c)

    out, grid_path = output_paths(cfg.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".npz":
        arrays = {"x": pixels} if labels is None else {"x": pixels, "y": labels.numpy().astype(np.int64)}
        np.savez_compressed(out, **arrays)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(pixels):
            Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(out / f"{i:06d}.png")
    shown = images[: cfg.grid_size]
    save_image(make_grid(shown, nrow=int(len(shown) ** 0.5), normalize=True, value_range=(-1, 1)), grid_path)
    log.info("wrote %d samples to %s and a grid to %s", cfg.num_samples, out, grid_path)
    return out


def write_interpolation(cfg: DictConfig, generator: nn.Module, device: str) -> Path:
    """A PNG with one row per consecutive pair of `interpolation.seeds`, each row `interpolation.steps`
    images along the spherical path between the two seeds' noise (seed s's end image is the image of
    `mode=samples seed=s num_samples=1`). A conditional generator draws one class per row, as
    `labels` asks."""
    seeds, steps = list(cfg.interpolation.seeds), cfg.interpolation.steps
    if len(seeds) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"interpolation.seeds must be a list of at least 2 integers, got {seeds!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ConfigError(f"interpolation.steps must be an integer >= 2 (both ends included), got {steps!r}")
    labels = requested_labels(cfg.labels, len(seeds) - 1, generator)
    strip = interpolate(generator, seeds, steps, device=device, labels=labels,
                        batch_size=cfg.batch_size)  # (rows, steps, c, h, w)
    out = Path(cfg.interpolation.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(strip.flatten(0, 1), nrow=steps, normalize=True, value_range=(-1, 1)), out)
    log.info("wrote an interpolation strip (%d rows x %d steps, seeds %s) to %s", len(seeds) - 1, steps, seeds, out)
    return out


# The CLI's verbs: `mode=samples` or `mode=interpolate`.
MODES: dict[str, Callable[[DictConfig, nn.Module, str], Path]] = {
    "samples": write_samples,
    "interpolate": write_interpolation,
}


def sample(cfg: DictConfig) -> Path:
    if not cfg.ckpt_path:
        raise ConfigError("ckpt_path is required, e.g. ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt")
    if cfg.mode not in MODES:
        raise ConfigError(f"mode={cfg.mode!r} is not a mode; choose one of {sorted(MODES)}")
    if cfg.ema not in (None, True, False):
        raise ConfigError(f"ema must be true, false or null (EMA if the checkpoint has one), got {cfg.ema!r}")
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    generator = load_generator(cfg.ckpt_path, device, ema=cfg.ema)
    return MODES[cfg.mode](cfg, generator, device)
