"""Checks of the composed config that fail before any work is done, naming the bad key.

The values no constructor checks itself (ganlab.checks) are checked against `TRAIN_SCHEMA`
(train.py) or `SAMPLE_SCHEMA` (sample.py): a list of (key pattern, rule) pairs, the pattern matched
against every dotted key of the composed config (`*` matches any part, dots included), so a new
network or callback with a `width`, `lr`, `every_n`, ... is checked without being listed. The first
pattern that matches a key decides; null values are left alone (null means "off" or "the default"
wherever the config allows it). `loss.d_steps_per_g_step` is checked here only: run() hands it to
the DataModule and the GANModule.
"""
from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf


class ConfigError(ValueError):
    """A config value that cannot work; the message names the key and says what to do."""


@dataclass(frozen=True)
class Rule:
    """What a value must be: `allowed(value)`, described as `what` in the error message."""

    what: str
    allowed: Callable[[Any], bool]


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)) and math.isfinite(value)


def integer(low: int | None = None, high: int | None = None) -> Rule:
    what = ("a positive integer" if low == 1 and high is None else
            f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]")
    return Rule(what, lambda v: _integer(v) and (low is None or v >= low) and (high is None or v <= high))


def number(low: float = 0.0, high: float | None = None, *, low_open: bool = False, high_open: bool = True) -> Rule:
    if high is None:
        what = f"a {'positive' if low_open and low == 0 else 'non-negative'} number" if low == 0 else f"a number >= {low}"
    else:
        what = f"a number in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    return Rule(what, lambda v: _number(v) and (v > low if low_open else v >= low)
                and (high is None or (v < high if high_open else v <= high)))


def one_of(*choices: Any) -> Rule:
    return Rule("one of " + ", ".join(map(str, choices)), lambda v: v in choices)


def list_of(rule: Rule, length: int | None = None, example: str = "") -> Rule:
    size = f"{length} " if length else "a non-empty list of "
    return Rule(f"{size}{rule.what.removeprefix('a ').removeprefix('an ')}s{example}",
                lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and (length is None or len(v) == length)
                and all(rule.allowed(x) for x in v))


POSITIVE_INT = integer(1)
COUNT = integer(0)
SEED = integer(0, 2**32 - 1)  # what NumPy and Lightning's seed_everything accept
POSITIVE = number(low_open=True)
NON_NEGATIVE = number()
FRACTION = number(0.0, 1.0)  # [0, 1)
FLAG = Rule("true or false", lambda v: isinstance(v, bool))
BETAS = Rule("two numbers in [0, 1), e.g. [0.5,0.999]",
             lambda v: isinstance(v, (list, tuple)) and len(v) == 2 and all(FRACTION.allowed(b) for b in v))
DEVICES = Rule("a positive integer, -1 (all), 'auto' or a list of device indices",
               lambda v: (_integer(v) and (v >= 1 or v == -1)) or v == "auto"
               or (isinstance(v, (list, tuple)) and len(v) > 0 and all(_integer(i) and i >= 0 for i in v)))
PATH = Rule("a path", lambda v: isinstance(v, str) and v != "")

# train.py: (pattern, rule), the first match wins. Values a run computes itself (paths.output_dir,
# _target_, ...) are not listed, nor the arguments a constructor checks itself (ganlab.checks: the
# losses, regularisers, constraints, latents, EMA, schedules, augmentations, packing), which report
# them under their config key; nor the callbacks' and the divergence monitor's arguments, which they check too.
TRAIN_SCHEMA: list[tuple[str, Rule]] = [
    ("seed", SEED), ("*.seed", SEED),
    ("iterations", POSITIVE_INT), ("log_every_n", POSITIVE_INT), ("detect_divergence", FLAG),
    ("ckpt_path", PATH),
    ("model.latent_dim", POSITIVE_INT), ("model.*.latent_dim", POSITIVE_INT), ("model.*.width", POSITIVE_INT),
    ("model.*.hidden", list_of(POSITIVE_INT, example=", e.g. [256,512]")), ("model.*.label_dim", COUNT),
    ("model.*.dropout", FRACTION), ("model.*.spectral_norm", FLAG),
    ("data.download", FLAG), ("data.pin_memory", FLAG),
    ("data.persistent_workers", FLAG), ("data.on_device", FLAG), ("data.skip_corrupt", FLAG),
    ("loss.d_steps_per_g_step", POSITIVE_INT), ("loss.lr", POSITIVE), ("loss.betas", BETAS),
    ("conditioning.label_dim", COUNT),
    ("optim.*.lr", POSITIVE), ("optim.*.betas", BETAS), ("optim.*.eps", POSITIVE),
    ("optim.*.weight_decay", NON_NEGATIVE), ("optim.*.momentum", NON_NEGATIVE), ("optim.*.alpha", FRACTION),
    ("infogan.q_head.hidden", POSITIVE_INT), ("infogan.q_head.learn_std", FLAG),
    ("trainer.devices", DEVICES), ("trainer.num_nodes", POSITIVE_INT),
    ("trainer.accelerator", one_of("auto", "cpu", "gpu", "cuda", "mps", "tpu")),
    ("trainer.enable_progress_bar", FLAG), ("trainer.detect_anomaly", FLAG),
]

# sample.py
SAMPLE_SCHEMA: list[tuple[str, Rule]] = [
    ("ckpt_path", Rule("a checkpoint path, e.g. ckpt_path=outputs/runs/<run>/checkpoints/last.ckpt",
                       lambda v: isinstance(v, str) and v != "")),
    ("mode", one_of("samples", "interpolate")), ("weights", one_of("auto", "ema", "trained")),
    ("labels", Rule("a class index or a list of them, e.g. labels=3 or labels=[0,1,2]",
                    lambda v: _integer(v) or (isinstance(v, (list, tuple)) and len(v) > 0 and all(_integer(c) for c in v)))), ("num_samples", POSITIVE_INT), ("seed", SEED),
    ("batch_size", POSITIVE_INT), ("grid_size", POSITIVE_INT), ("out", PATH),
    ("device", Rule("auto, cpu, cuda or cuda:<index>",
                    lambda v: isinstance(v, str) and (v in ("auto", "cpu", "cuda")
                                                      or (v.startswith("cuda:") and v[5:].isdigit())))),
    ("interpolation.seeds", Rule("a list of at least 2 integers in [0, 4294967295], e.g. [0,1,2,3]",
                                 lambda v: isinstance(v, (list, tuple)) and len(v) >= 2 and all(SEED.allowed(s) for s in v))),
    ("interpolation.steps", integer(2)), ("interpolation.out", PATH), ("truncation", POSITIVE),
]
REQUIRED = {"ckpt_path"}  # sample.py: keys that may not be null


def leaves(config: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf below `config`."""
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from leaves(value, name + ".")
        else:
            yield name, value


def check_values(cfg: DictConfig | Mapping[str, Any], schema: list[tuple[str, Rule]], required=()) -> None:
    """Raises ConfigError `<key> must be <what>, got <value>` for the first value `schema` refuses."""
    config = OmegaConf.to_container(cfg, resolve=False) if isinstance(cfg, DictConfig) else cfg
    for key, value in leaves({k: v for k, v in config.items() if k != "hydra"}):
        rule = next((rule for pattern, rule in schema if fnmatchcase(key, pattern)), None)
        if rule is None:
            continue
        if isinstance(cfg, DictConfig):  # the resolved value (an interpolation Hydra alone resolves: None)
            value = OmegaConf.select(cfg, key, throw_on_resolution_failure=False)
            value = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
        if value is None:
            if key in required:
                raise ConfigError(f"{key} is required: {rule.what}")
            continue
        if not rule.allowed(value):
            raise ConfigError(f"{key} must be {rule.what}, got {value!r}")


def check_config(cfg: DictConfig) -> None:
    """Raises ConfigError for values that would fail later, or train nothing (train.py)."""
    check_values(cfg, TRAIN_SCHEMA)
    check_accelerator(OmegaConf.select(cfg, "trainer.accelerator"), "trainer.accelerator")


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def check_accelerator(accelerator: str | None, key: str) -> None:
    """A GPU asked for (trainer=gpu, trainer=ddp, sample.py device=cuda) on a machine without one."""
    if accelerator is None or not str(accelerator).startswith(("gpu", "cuda")) or gpu_available():
        return
    instead = ("device=cpu (or device=auto: the GPU where there is one)" if key == "device" else
               "trainer=cpu (trainer=ddp_cpu for data-parallel processes on the CPU; trainer=default picks "
               "the GPU where there is one)")
    raise ConfigError(f"{key}={accelerator}: this machine has no GPU (PyTorch sees no CUDA device); use {instead}")


def check_labels(cfg: DictConfig, num_classes: int) -> None:
    """A conditional model needs labelled data; says which setting provides labels."""
    if cfg.conditioning.uses_labels and num_classes < 1:
        data = str(cfg.data._target_).rsplit(".", 1)[-1]
        raise ConfigError(
            f"the chosen conditioning needs class labels, but the data ({data}) provides none. Use labelled "
            "data (data=mnist, data=cifar10, an image folder with one subfolder per class, or CelebA "
            "attributes: data.condition_on=[Smiling]) or conditioning=none")


def check_writable_dir(path: str | Path, key: str, hint: str = "") -> Path:
    """Creates the directory `path` if needed and writes a scratch file in it; a ConfigError naming
    `key` otherwise (read-only or full file system, no permission, a file in the way, /proc ...)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        own = f" or {key}=<dir>" if key.startswith("hydra.") else ""
        raise ConfigError(f"cannot write the output directory {path} ({key}): {reason}{hint}. Choose a writable "
                          f"location: paths.log_dir=<dir> (every run goes below it){own}.") from error
    return path
