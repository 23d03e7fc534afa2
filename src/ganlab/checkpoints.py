"""Reading ganlab checkpoints: validation with clear errors, and locating a run's directory."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint path that does not exist or is not a ganlab checkpoint."""


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Loads a checkpoint on the CPU, or raises CheckpointError naming the path and the problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ckpt_path={path}: no such file. Checkpoints are written to "
                              "<run>/checkpoints/last.ckpt (and iter_XXXXXXX.ckpt).")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # truncated file, not a torch file, ...
        raise CheckpointError(f"ckpt_path={path}: cannot be read as a checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or "ganlab_run" not in checkpoint or "ganlab" not in checkpoint:
        raise CheckpointError(f"ckpt_path={path}: not a ganlab checkpoint (written by another program?)")
    return checkpoint


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run directory a checkpoint belongs to (<run>/checkpoints/x.ckpt -> <run>), if it is one."""
    path = Path(ckpt_path).resolve()
    return path.parent.parent if path.parent.name == "checkpoints" else None
