"""Every run gets a directory of its own: a directory is claimed atomically before Hydra writes to
it, so no run writes into another run's files, whether they start in the same second (shell loops,
SLURM job arrays) or name the same `hydra.run.dir`.

The claim is the exclusive creation of the file Hydra writes there first: `os.mkdir(<run>/.hydra)`
(a run's config record) or `<sweep>/multirun.yaml` (a sweep's), which fails when it exists, so a
directory holding a run or sweep (new or old) cannot be claimed again. Imports nothing heavy
(train.py's start-up guard comes first)."""
from __future__ import annotations

import itertools
import os
from pathlib import Path

from ganlab import interrupt

MARKER = ".hydra"  # a run directory's Hydra record (a folder); its creation is the claim
SWEEP_MARKER = "multirun.yaml"  # a sweep directory's Hydra record (a file; Hydra writes it again)
_claimed: dict[str, str] = {}  # wanted directory -> the one this process claimed for it


def secondary_process() -> bool:
    """Whether this is a process of a data-parallel run other than its first (Lightning's DDP
    launcher, torchrun and SLURM tasks set these variables): it shares the run directory its first
    process claimed, and claims nothing itself."""
    return any(os.environ.get(name, "0") not in ("", "0") for name in ("LOCAL_RANK", "RANK", "NODE_RANK", "SLURM_PROCID"))


def claim(directory: str | Path, marker: str = MARKER) -> bool:
    """Makes `directory` (and its parents) and claims it for this process by creating `marker` there;
    False when another run or sweep holds it (the marker exists). OSError when it cannot be created."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    try:  # atomic: exactly one process creates it
        if marker == MARKER:
            (path / marker).mkdir()
        else:
            os.close(os.open(path / marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def holds_run(directory: str | Path) -> bool:
    """Whether `directory` holds a run's files: its Hydra record, checkpoints or final metrics."""
    path = Path(directory)
    return (any((path / name).exists() for name in (MARKER, SWEEP_MARKER, "metrics.json"))
            or any((path / "checkpoints").glob("*.ckpt")))


def fresh_dir(wanted: str, marker: str = MARKER) -> str:
    """`wanted`, or the first of `wanted_2`, `wanted_3`, ... this process could claim: the directory of
    a new run (conf/hydra/default.yaml: runs/<date>_<time>, sweeps, branches of a resumed run). The
    same answer for the same `wanted` within a process (Hydra resolves the key more than once). A
    location that cannot be written is returned unclaimed: the output-directory check reports it."""
    if wanted in _claimed:
        return _claimed[wanted]
    if secondary_process():
        return wanted
    for number in itertools.count(1):
        candidate = wanted if number == 1 else f"{wanted}_{number}"
        new = not Path(candidate).exists()
        try:
            if claim(candidate, marker):
                break
        except OSError:
            return wanted
    if new:
        interrupt.created_during_startup(Path(candidate))  # removed again if start-up fails
    _claimed[wanted] = candidate
    return candidate


def fresh_sweep_dir(wanted: str) -> str:
    """`fresh_dir` for a sweep's directory (conf/hydra/default.yaml, `hydra.sweep.dir`)."""
    return fresh_dir(wanted, SWEEP_MARKER)


def claimed_here(directory: str | Path) -> bool:
    """Whether this process claimed `directory` (through `fresh_dir`)."""
    return str(directory) in _claimed.values()


def claim_named(directory: str | Path, marker: str = MARKER) -> bool:
    """Claims a directory the user named (hydra.run.dir=..., hydra.sweep.dir=...): False when it holds
    a run already. Remembered like `fresh_dir`'s."""
    key = str(directory)
    if claimed_here(key) or secondary_process():
        return True
    if holds_run(key) or not claim(key, marker):
        return False
    _claimed[key] = key
    return True
