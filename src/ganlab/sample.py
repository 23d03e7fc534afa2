"""sample(cfg): rebuild a trained generator from its checkpoint and write images.

Two modes (`mode=`): `samples` writes `num_samples` images (an .npz array or PNG files, and a grid);
`interpolate` writes a PNG strip of spherical interpolations between seeds. Both use the EMA of
G's weights when the checkpoint holds one (`weights=trained`: the trained weights; `weights=ema`:
require the EMA).

Every value is checked, and `out` is checked writable, before the checkpoint is read; the size a
request needs is checked against the free disk space before any image is generated. Images are
generated and written `CHUNK` at a time (an .npz is streamed into its zip file), so memory does
not grow with `num_samples`.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from PIL import Image
from torch import Tensor, nn
from torchvision.utils import make_grid, save_image

from ganlab import checks
from ganlab.build import build_generator, build_latent
from ganlab.checkpoints import RUN_KEY, load_checkpoint
from ganlab.config_checks import REQUIRED, SAMPLE_SCHEMA, ConfigError, check_accelerator, check_values
from ganlab.ema import averaged_generator_state
from ganlab.latents import GaussianLatent, Latent
from ganlab.sample_points import write_points
from ganlab.sampling import generate_from_noise, interpolate, to_uint8

log = logging.getLogger(__name__)

CHUNK = 1024  # images generated and written at a time; a multiple of 16, so chunked noise equals one draw
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


WEIGHTS = ("auto", "ema", "trained")  # sample.py `weights=`


def load_generator(ckpt_path: str, device: str = "cpu", weights: str = "auto") -> nn.Module:
    """The generator of a ganlab checkpoint, rebuilt from the config saved inside it, in eval mode.
    `weights`: `auto` takes the EMA weights when the run kept an EMA (ema=default), else the trained
    weights; `ema` requires the EMA; `trained` takes the trained weights."""
    if weights not in WEIGHTS:
        raise ConfigError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    checkpoint = load_checkpoint(ckpt_path)
    run = checkpoint[RUN_KEY]
    config = OmegaConf.create(run["config"])
    generator, _ = build_generator(config, tuple(run["image_shape"]), run["num_classes"])  # G reads the latent's size
    averaged = averaged_generator_state(checkpoint)
    if weights == "ema" and averaged is None:
        raise ConfigError(f"weights=ema, but {ckpt_path} holds no EMA of the generator (the run trained without "
                          "ema=default); use weights=trained or weights=auto")
    if averaged is not None and weights != "trained":
        state = averaged
        log.info("using the EMA generator weights (weights=trained: the trained weights)")
    else:
        prefix = "generator."
        state = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    generator.load_state_dict(state)
    generator.num_classes = int(run["num_classes"])  # the classes of the data it was trained on
    generator.image_shape = tuple(run["image_shape"])  # (c, h, w)
    return generator.to(device).eval()


def label_cycle(labels, generator: nn.Module) -> list[int] | None:
    """The classes the images cycle through: `labels=null` all classes (0, 1, ..., K-1), `labels=3`
    class 3 only, `labels=[0,1,2]` the list. None for an unconditional generator."""
    if not getattr(generator, "conditional", False):
        if labels is not None:
            raise ConfigError(f"labels={labels}: this model is unconditional (trained with conditioning=none); "
                              "remove labels=")
        return None
    num_classes = generator.num_classes
    if labels is None:
        classes = list(range(num_classes))
    elif isinstance(labels, (list, tuple)) or (hasattr(labels, "__len__") and not isinstance(labels, (str, bytes))):
        classes = list(labels)
    else:
        classes = [labels]  # one value: checked below like the list's
    bad = [c for c in classes if not checks.is_int(c) or not 0 <= c < num_classes]
    if not classes or bad:
        raise ConfigError(f"labels must be a class index or a list of them in [0, {num_classes - 1}] "
                          f"(the model has {num_classes} classes), got {labels!r}")
    return classes


def labels_of(classes: list[int] | None, start: int, stop: int) -> Tensor | None:
    """The classes of images start..stop-1: (stop - start,) int64, or None (unconditional)."""
    if classes is None:
        return None
    return torch.tensor(classes)[torch.arange(start, stop) % len(classes)]


def requested_labels(labels, n: int, generator: nn.Module) -> Tensor | None:
    """The class of each of n images (see label_cycle); None for an unconditional generator."""
    return labels_of(label_cycle(labels, generator), 0, n)


def load_latent(ckpt_path: str) -> Latent:
    """The latent distribution the checkpoint's generator was trained to read (conf/latent/; N(0, I)
    for a checkpoint written before the group existed)."""
    return build_latent(OmegaConf.create(load_checkpoint(ckpt_path)[RUN_KEY]["config"]))


def image_chunks(generator: nn.Module, n: int, seed: int, device: str, classes: list[int] | None,
                 batch_size: int, chunk: int | None = None, latent: Latent | None = None,
                 truncation: float | None = None) -> Iterator[Tensor]:
    """n images from seeded noise, `chunk` at a time: (b, c, h, w) in [-1, 1] on the CPU. The noise
    is drawn from one seeded stream, `chunk` rows at a time (a multiple of 16 rows: the same numbers
    as one draw of all n rows), so the images do not depend on `chunk` (for N(0, I) noise without
    truncation). `latent`: what G reads (None: N(0, I)); `truncation`: redraw every |z_i| above it."""
    chunk = chunk or CHUNK
    latent = latent or GaussianLatent(generator.latent_dim)
    stream = torch.Generator().manual_seed(seed)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        z = latent.sample(stop - start, generator=stream, truncation=truncation).z
        yield generate_from_noise(generator, z, labels_of(classes, start, stop), device, batch_size)


def output_paths(out: str) -> tuple[Path, Path]:
    """(where the samples go, where the grid goes): x.npz -> x_grid.png; dir/ -> dir_grid.png."""
    path = Path(out)
    stem = path.with_suffix("") if path.suffix == ".npz" else Path(str(path).rstrip("/"))
    return path, stem.with_name(stem.name + "_grid.png")


def check_writable(out: Path, directory: bool) -> None:
    """`out` (a file, or with `directory` a folder of files) can be written: its folder is created
    and a scratch file written and removed there. A ConfigError naming `out` otherwise."""
    folder = out if directory else out.parent
    if directory and out.exists() and not out.is_dir():
        raise ConfigError(f"out={out} is a file; PNG samples go into a directory. Use out=<new dir> or "
                          "out=<file>.npz")
    if not directory and out.is_dir():
        raise ConfigError(f"out={out} is a directory; give a file name (e.g. out={out / 'samples.npz'})")
    blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise ConfigError(f"out={out}: {blocker} is a file, not a directory. Choose another location for out=")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ConfigError(f"out={out}: cannot write in {folder} ({error.strerror or error}). Choose a writable "
                          "location for out=") from error


def check_space(out: Path, n: int, image_shape: tuple[int, int, int]) -> None:
    """Refuses a request whose images (uint8, uncompressed) would not fit in the free disk space."""
    needed = n * int(np.prod(image_shape))
    folder = next(p for p in (out, *out.parents) if p.exists())
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ConfigError(f"num_samples={n} needs about {_size(needed)} ({n} images of {'x'.join(map(str, image_shape))} "
                          f"bytes before compression), more than the {_size(free)} free in {folder}. Ask for fewer "
                          "(num_samples=...) or choose another out=")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000
    return f"{n} B"


def write_samples(cfg: DictConfig, generator: nn.Module, device: str, out: Path,
                  latent: Latent | None = None) -> Path:
    """`num_samples` images from seeded noise to `out` (.npz or a directory of PNGs), plus a grid.
    A conditional generator draws the classes `labels` asks for; the .npz then also holds `y`."""
    n = cfg.num_samples
    classes = label_cycle(cfg.labels, generator)
    out, grid_path = output_paths(str(out))
    if len(generator.image_shape) == 1:  # vector samples (data=ring/grid): float points and their picture
        return write_points(cfg, generator, device, out, grid_path, latent=latent)
    check_space(out, n, generator.image_shape)
    shown: list[Tensor] = []  # the first grid_size images
    chunks = image_chunks(generator, n, cfg.seed, device, classes, cfg.batch_size, latent=latent,
                          truncation=cfg.get("truncation"))

    def pixels() -> Iterator[np.ndarray]:
        kept = 0
        for images in chunks:
            if kept < cfg.grid_size:
                shown.append(images[: cfg.grid_size - kept])
                kept += len(shown[-1])
            yield to_uint8(images).numpy()  # (b, h, w, c)

    c, h, w = generator.image_shape
    if out.suffix == ".npz":
        arrays = {"x": ((n, h, w, c), np.uint8, pixels())}
        if classes is not None:
            arrays["y"] = ((n,), np.int64, (labels_of(classes, s, min(s + CHUNK, n)).numpy()
                                            for s in range(0, n, CHUNK)))
        write_npz(out, arrays)
    else:
        out.mkdir(parents=True, exist_ok=True)
        index = 0
        for batch in pixels():
            for image in batch:
                Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(out / f"{index:06d}.png")
                index += 1
    grid = torch.cat(shown)
    save_image(make_grid(grid, nrow=int(len(grid) ** 0.5), normalize=True, value_range=(-1, 1)), grid_path)
    log.info("wrote %d samples to %s and a grid to %s", n, out, grid_path)
    return out


def write_npz(path: Path, arrays: dict[str, tuple[tuple[int, ...], np.dtype, Iterator[np.ndarray]]]) -> None:
    """An .npz file (a zip of .npy files, as np.savez_compressed writes and np.load reads) from arrays
    given as (shape, dtype, chunks along the first axis), one chunk in memory at a time. Written to a
    temporary name and renamed: an interrupted write leaves no partial file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            for name, (shape, dtype, chunks) in arrays.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                              "shape": tuple(shape)}
                    np.lib.format.write_array_header_2_0(member, header)
                    rows = 0
                    for chunk in chunks:
                        member.write(np.ascontiguousarray(chunk, dtype=dtype).tobytes())
                        rows += len(chunk)
                    if rows != shape[0]:
                        raise RuntimeError(f"{name}: wrote {rows} rows, the header says {shape[0]}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_interpolation(cfg: DictConfig, generator: nn.Module, device: str, out: Path,
                        latent: Latent | None = None) -> Path:
    """A PNG with one row per consecutive pair of `interpolation.seeds`, each row `interpolation.steps`
    images along the spherical path between the two seeds' noise (seed s's end image is the image of
    `mode=samples seed=s num_samples=1`). A conditional generator draws one class per row, as
    `labels` asks."""
    seeds, steps = list(cfg.interpolation.seeds), cfg.interpolation.steps
    labels = requested_labels(cfg.labels, len(seeds) - 1, generator)
    strip = interpolate(generator, seeds, steps, device=device, labels=labels, batch_size=cfg.batch_size,
                        latent=latent, truncation=cfg.get("truncation"))  # (rows, steps, c, h, w)
    save_image(make_grid(strip.flatten(0, 1), nrow=steps, normalize=True, value_range=(-1, 1)), out)
    log.info("wrote an interpolation strip (%d rows x %d steps, seeds %s) to %s", len(seeds) - 1, steps, seeds, out)
    return out


# The CLI's verbs: `mode=samples` or `mode=interpolate`.
MODES: dict[str, Callable[[DictConfig, nn.Module, str, Path, Latent], Path]] = {
    "samples": write_samples,
    "interpolate": write_interpolation,
}


def output_of(cfg: DictConfig) -> Path:
    """Where the mode writes, checked writable: `out`, or by default samples.npz (samples) or
    interpolation.out (interpolate, which writes one image file)."""
    if cfg.mode == "interpolate":
        out = Path(cfg.out or cfg.interpolation.out)
        key = "out" if cfg.out else "interpolation.out"
        if out.suffix.lower() not in IMAGE_SUFFIXES:
            raise ConfigError(f"{key}={out}: mode=interpolate writes one image; give a file name ending in "
                              f"{', '.join(IMAGE_SUFFIXES)} (e.g. {key}=strip.png)")
        check_writable(out, directory=False)
        return out
    out = Path(cfg.out or "samples.npz")
    check_writable(out, directory=out.suffix != ".npz")
    check_writable(output_paths(str(out))[1], directory=False)  # the grid beside it
    return out


def sample(cfg: DictConfig) -> Path:
    check_values(cfg, SAMPLE_SCHEMA, required=REQUIRED)
    check_accelerator(cfg.device, "device")
    out = output_of(cfg)  # before any work: an unwritable `out` fails now, not after generating
    device = ("cuda" if torch.cuda.is_available() else "cpu") if cfg.device == "auto" else cfg.device
    generator = load_generator(cfg.ckpt_path, device, weights=cfg.weights)
    return MODES[cfg.mode](cfg, generator, device, out, load_latent(cfg.ckpt_path))
