"""Reading ganlab checkpoints: validation with clear errors, and locating a run's directory."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganlab.hparams import flatten

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
    if not isinstance(checkpoint, dict) or "ganlab_run" not in checkpoint or "ganlab" not in checkpoint:
        raise CheckpointError(f"ckpt_path={path}: not a ganlab checkpoint (written by another program?)")
    return checkpoint


def missing_checkpoint(path: str | Path) -> str | None:
    """The error message for a checkpoint path that is not a file; None if it is one."""
    if Path(path).expanduser().is_file():
        return None
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
    differences = config_differences(checkpoint.get("ganlab_run", {}).get("config", {}), config)
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


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run directory a checkpoint belongs to (<run>/checkpoints/x.ckpt -> <run>), if it is one."""
    path = Path(ckpt_path).resolve()
    return path.parent.parent if path.parent.name == "checkpoints" else None


def training_state(path: str | Path) -> tuple[int, int] | None:
    """(generator iteration, discriminator step) a ganlab checkpoint holds; None if it is not one.
    Memory-mapped: only the small entries are read, whatever the size of the file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        state = checkpoint["ganlab"]
        return int(state["g_iter"]), int(state["d_iter"])
    except Exception:  # noqa: BLE001 - unreadable, truncated, not ganlab's: not a state to compare with
        return None


def is_newest_state(ckpt_path: str | Path) -> bool:
    """Whether the checkpoint holds the newest state of the run it belongs to, so that training can
    continue in that run's directory without overwriting anything: it is the run's `last.ckpt`, or a
    checkpoint saved at the same step (the periodic one written with it). A checkpoint outside a
    run's `checkpoints/` folder belongs to no run: False."""
    path = Path(ckpt_path).resolve()
    if run_dir_of(path) is None:
        return False
    last = path.with_name("last.ckpt")
    if path == last:
        return True
    if last.is_file():
        newest = training_state(last)
    else:  # no last.ckpt (deleted?): the newest of the periodic checkpoints
        states = [s for s in (training_state(p) for p in path.parent.glob("*.ckpt")) if s is not None]
        newest = max(states, default=None)
    return newest is not None and training_state(path) == newest


def resumed_run_dir(ckpt_path: str | None, fresh_dir: str, timestamp: str) -> str:
    """The run directory of `train.py ckpt_path=...` (conf/hydra/default.yaml, `hydra.run.dir`): no
    checkpoint, a fresh directory; the newest state of a run, that run's directory (training continues
    in place); any other checkpoint of a run, a new directory beside it named after the checkpoint
    (`<run>_branch_iter_0000010_<date>_<time>`), so nothing of that run is overwritten; a checkpoint
    outside any run, a fresh directory."""
    if not ckpt_path:
        return fresh_dir
    path = Path(ckpt_path).expanduser()
    run_dir = run_dir_of(path)
    if run_dir is None:
        return fresh_dir
    if is_newest_state(path):
        return str(run_dir)
    return str(branch_dir(run_dir, path, timestamp))


def branch_dir(run_dir: Path, ckpt_path: Path, timestamp: str) -> Path:
    """Where a run resumed from an older checkpoint of `run_dir` goes: beside it, named after both."""
    return run_dir.with_name(f"{run_dir.name}_branch_{ckpt_path.stem}_{timestamp}")


def hydra_output_subdir(ckpt_path: str | None, run_dir: str, timestamp: str) -> str:
    """Where Hydra records a run's config (`hydra.output_subdir`): `.hydra`, except when a resume
    writes into a directory that has one already (a run continued in place), then
    `.hydra/resumed_<date>_<time>`, so the record of how the run started is kept."""
    if ckpt_path and (Path(run_dir) / ".hydra").exists():
        return f".hydra/resumed_{timestamp}"
    return ".hydra"
