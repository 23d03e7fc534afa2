"""Reading ganlab checkpoints: the keys ganlab adds to Lightning's checkpoint, and loading and
validating a checkpoint with clear errors. What a resume does with one: ganlab.resume."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab.hparams import flatten

# What ganlab adds to Lightning's checkpoint dict:
RUN_KEY = "ganlab_run"  # the run's config, image shape, classes and overrides (callbacks/run_config.py)
STATE_KEY = "ganlab"  # the step's counters and random-number state (GANModule.on_save_checkpoint)

# Config groups whose values decide the shapes of the saved tensors.
SHAPE_KEYS = ("model", "conditioning", "loss", "data.image_size", "data._target_")


class CheckpointError(ValueError):
    """A checkpoint path that does not exist, is not a ganlab checkpoint, or does not fit the model."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Loads a checkpoint on the CPU, or raises CheckpointError naming the path and the problem."""
    problem = missing_checkpoint(path)
    if problem:
        raise CheckpointError(problem)
    path = Path(path).expanduser()
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # truncated file, not a torch file, ...
        raise CheckpointError(f"ckpt_path={path}: cannot be read as a checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or RUN_KEY not in checkpoint or STATE_KEY not in checkpoint:
        raise CheckpointError(f"ckpt_path={path}: not a ganlab checkpoint (written by another program?)")
    return checkpoint


def missing_checkpoint(path: str | Path) -> str | None:
    """The error message for a checkpoint path that is not a file; None if it is one."""
    path = Path(path).expanduser()
    if path.is_file():
        return None
    if path.is_dir():
        inside = path / "checkpoints" / "last.ckpt"
        hint = f" (this looks like a run directory: ckpt_path={inside})" if inside.is_file() else ""
        return (f"ckpt_path={path} is a directory; give a checkpoint file, e.g. <run>/checkpoints/last.ckpt"
                f"{hint}")
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        return f"ckpt_path={path}: a part of this path is a file, not a directory"
    return (f"ckpt_path={path}: no such file. Checkpoints are written to <run>/checkpoints/last.ckpt "
            "(and iter_XXXXXXX.ckpt).")


def check_resumable(checkpoint: Mapping[str, Any], module: nn.Module, ckpt_path: str | Path,
                    config: Mapping[str, Any]) -> None:
    """Raises CheckpointError, before any work, when the checkpoint's tensors do not fit `module` (the
    model the given config builds), naming the first mismatches and the config values that differ
    from the run that wrote it. Lightning would otherwise fail deep inside load_state_dict."""
    saved = checkpoint.get("state_dict", {})
    here = module.state_dict()
    problems = [f"{name} is missing from the checkpoint" for name in here if name not in saved]
    problems += [f"{name} is in the checkpoint but not in this model" for name in saved if name not in here]
    problems += [f"{name} has shape {tuple(saved[name].shape)} in the checkpoint, {tuple(tensor.shape)} here"
                 for name, tensor in here.items()
                 if name in saved and tuple(saved[name].shape) != tuple(tensor.shape)]
    if not problems:
        return
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    differences = config_differences(checkpoint.get(RUN_KEY, {}).get("config", {}), config)
    differ = ("; the run that wrote it had " + ", ".join(differences)) if differences else ""
    raise CheckpointError(
        f"ckpt_path={ckpt_path} does not fit the model this config builds: {'; '.join(problems[:3])}{more}"
        f"{differ}. Resume with the same model, conditioning, loss and data overrides as that run.")


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any], keys=SHAPE_KEYS,
                       limit: int = 5) -> list[str]:
    """`key=saved value` for the first `limit` dotted keys below `keys` whose values differ."""
    old, new = flatten(saved, separator="."), flatten(current, separator=".")
    names = sorted(k for k in old.keys() | new.keys()
                   if any(k == p or k.startswith(p + ".") for p in keys) and old.get(k) != new.get(k))
    return [f"{k}={old.get(k, '<unset>')}" for k in names[:limit]]


