"""Resuming a run, in one place: which directory a resumed run writes to, which config it trains
with, what may not change, and the command that continues a stopped run.

`train.py ckpt_path=<run>/checkpoints/X.ckpt` rebuilds the run that wrote X (its saved overrides,
with this command line's on top) and continues it:
- in that run's directory when X holds its newest state (last.ckpt, or the periodic checkpoint
  saved with it); the continuation's config goes to `.hydra/resumed_<date>_<time>/`;
- else as a new branch beside it (`<run>_branch_<X>_<date>_<time>`), so nothing of that run changes.
The seed, the optimiser classes, `data.batch_size` and `loss.d_steps_per_g_step` cannot change:
the saved random-number state, optimiser state and data position only make sense with them.
What ganlab stores in a checkpoint: ganlab.checkpoints (RUN_KEY, STATE_KEY)."""
from __future__ import annotations

import logging
import re
import shlex
import sys
from pathlib import Path
from typing import Any

import torch
from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf, open_dict

from ganlab import run_dirs
from ganlab.checkpoints import RUN_KEY, STATE_KEY, CheckpointError, load_checkpoint
from ganlab.config_checks import ConfigError, check_config

log = logging.getLogger(__name__)

# key -> why a resumed run cannot honour another value
UNCHANGEABLE = {
    "seed": "a resumed run continues the random-number and data-order state saved in the checkpoint, so another "
            "seed would not take effect",
    "optim.generator._target_": "the saved optimiser state belongs to the old optimiser",
    "optim.discriminator._target_": "the saved optimiser state belongs to the old optimiser",
    "data.batch_size": "the saved data position counts batches of the old size, so the run would repeat or skip "
                       "images",
    "loss.d_steps_per_g_step": "the saved data position counts iterations of that many real batches, so the run "
                               "would repeat or skip images",
}


def prepare(cfg: DictConfig, overrides: list[str]) -> tuple[DictConfig, list[str], dict[str, Any] | None]:
    """The config, overrides to save and checkpoint (None: a new run) of the run `cfg` asks for. A
    resume: the checkpoint's run rebuilt, checked and planned (see the module's docstring); a new
    run: refused when its output directory holds another run's files."""
    if not cfg.ckpt_path:
        refuse_occupied(cfg.paths.output_dir)
        return cfg, overrides, None
    checkpoint = load_checkpoint(cfg.ckpt_path)  # a clear error on a bad path
    cfg, overrides = resumed_config(cfg, checkpoint, overrides)
    check_config(cfg)
    check_unchangeable(checkpoint, cfg)
    overrides = plan_resume(cfg, checkpoint, overrides)
    record_config(cfg, [*overrides, f"ckpt_path={cfg.ckpt_path}"])
    return cfg, overrides, checkpoint


def refuse_occupied(output_dir: str | Path) -> None:
    """A new run may not write into a directory that holds another run's checkpoints or metrics."""
    path = Path(output_dir)
    files = [*sorted((path / "checkpoints").glob("*.ckpt"))[:1], *[p for p in [path / "metrics.json"] if p.exists()]]
    if files:
        raise ConfigError(f"the run directory {path} already holds another run ({files[0]}): a new run needs its own "
                          "directory. Leave hydra.run.dir / paths.output_dir unset (a new outputs/runs/<date>_<time>), "
                          f"or continue that run with ckpt_path={path / 'checkpoints' / 'last.ckpt'}")


def continue_command(ckpt_path: str | Path) -> str:
    """The command that continues a run from `ckpt_path`, as this process was started (with its
    config directories)."""
    return " ".join([program(), *config_dir_arguments(config_dirs()), f"ckpt_path={Path(ckpt_path).resolve()}"])


def program() -> str:
    """How this process was started: `python train.py`, `python -m ganlab`, `ganlab-train`."""
    script = sys.argv[0] if sys.argv else ""
    name = Path(script).name
    if name == "__main__.py":
        return f"python -m {Path(script).parent.name}"
    if name.endswith(".py") and not name.startswith("pytest"):
        return f"python {script}"
    if name.startswith("ganlab"):
        return name
    return "python train.py"


def config_dirs() -> list[str]:
    """The config directories this run's command line added to ganlab's (`--config-dir DIR`, or
    `hydra.searchpath=[...]`), as Hydra's search path names them (file:///abs/dir, pkg://module); a
    resume must add them again: its saved overrides may name configs only they hold."""
    if not HydraConfig.initialized():
        return []
    return [f"{source.schema}://{source.path}" for source in HydraConfig.get().runtime.config_sources
            if "command-line" in source.provider]


def config_dir_arguments(dirs: list[str]) -> list[str]:
    """The command-line arguments that add `dirs` (config_dirs()) to the search path."""
    files = [d.removeprefix("file://") for d in dirs if d.startswith("file://")]
    others = [d for d in dirs if not d.startswith("file://")]
    arguments = [f"--config-dir {shlex.quote(d)}" for d in files]
    return arguments + ([shlex.quote(f"hydra.searchpath=[{','.join(others)}]")] if others else [])


def command_line() -> list[str]:
    """This run's command-line overrides (empty outside a Hydra app, e.g. in tests calling run())."""
    if not HydraConfig.initialized():
        return []
    # as typed: an override's value may hold an interpolation (lr=${optim.discriminator.lr}), not resolved here
    return [str(o) for o in OmegaConf.to_container(HydraConfig.get().overrides.task, resolve=False)]


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(saved: list[str], given: list[str]) -> list[str]:
    """The run's saved overrides with this command line's on top: a given key replaces the saved
    override of the same key, and a given node (`model=mlp`) also drops the saved overrides below it
    (`model.generator.width=16` belonged to the model it replaces)."""
    merged = {_key(o): o for o in saved}
    for override in given:
        key = _key(override)
        merged = {k: o for k, o in merged.items() if not k.startswith(key + ".")}
        merged.pop(key, None)
        merged[key] = override
    return list(merged.values())


def resumed_config(cfg: DictConfig, checkpoint: dict[str, Any], overrides: list[str]) -> tuple[DictConfig, list[str]]:
    """Resuming rebuilds the run that wrote the checkpoint: its command-line overrides, then this
    command line's `overrides` (e.g. `iterations=20000` to extend the budget) on top, composed again;
    so `train.py ckpt_path=...` alone continues a run started with any overrides. Returns the config
    and the merged overrides. Outside a Hydra app (tests calling run()), `cfg` is used as given."""
    saved = checkpoint[RUN_KEY].get("overrides")
    if saved is None or not HydraConfig.initialized():
        return cfg, overrides
    missing = [d for d in checkpoint[RUN_KEY].get("config_dirs", []) if d not in config_dirs()]
    if missing:  # its overrides may name configs only those directories hold, or shadow ganlab's
        raise CheckpointError(
            f"ckpt_path={cfg.ckpt_path} was written by a run started with the config "
            f"{'directory' if len(missing) == 1 else 'directories'} {' '.join(config_dir_arguments(missing))}, "
            f"which this command line does not add; resume with: "
            f"{' '.join([program(), *config_dir_arguments(missing), *overrides, f'ckpt_path={cfg.ckpt_path}'])}")
    merged = merge_overrides(list(saved), overrides)
    log.info("resuming %s with the overrides: %s", cfg.ckpt_path, " ".join(merged))
    try:
        composed = compose(config_name=HydraConfig.get().job.config_name,
                           overrides=[*merged, f"ckpt_path={cfg.ckpt_path}"])
    except ConfigCompositionException as error:  # a saved override this command line's config lacks
        key = re.search(r"override '([^']+)'", str(error))
        raise CheckpointError(
            f"ckpt_path={cfg.ckpt_path} does not fit the model this config builds: the run that wrote it "
            f"was trained with {' '.join(saved) or 'no overrides'}, and "
            f"{key.group(1) if key else 'one of them'} does not exist in the config of "
            f"{' '.join(overrides) or 'this command line'}. Resume with the same model, conditioning, loss and "
            "data overrides as that run.") from error
    return composed, merged


def check_unchangeable(checkpoint: dict[str, Any], cfg: DictConfig) -> None:
    """Refuses overrides a resumed run could not honour (UNCHANGEABLE), in one line naming the key."""
    saved = OmegaConf.create(checkpoint[RUN_KEY].get("config", {}))
    for key, why in UNCHANGEABLE.items():
        old, new = OmegaConf.select(saved, key), OmegaConf.select(cfg, key)
        if old is not None and old != new:
            raise CheckpointError(f"{key}={new} cannot change when resuming (the checkpoint's run has {old}): {why}. "
                                  f"Start a new run for it, or resume without that override.")


def plan_resume(cfg: DictConfig, checkpoint: dict[str, Any], overrides: list[str]) -> list[str]:
    """Continues the checkpoint's run in place when it holds the run's newest state, or else trains a
    new branch in the run directory Hydra chose (conf/hydra/default.yaml), recording `branched_from`
    in its config and overrides; logs which. Returns the overrides to save."""
    ckpt = Path(cfg.ckpt_path).resolve()
    output_dir, source = Path(cfg.paths.output_dir).resolve(), run_dir_of(ckpt)
    g_iter = int(checkpoint[STATE_KEY]["g_iter"])
    if source == output_dir:
        if not is_newest_state(ckpt):
            raise CheckpointError(
                f"ckpt_path={ckpt} is older than the newest checkpoint of its run {source}: continuing there "
                "would overwrite the later checkpoints and TensorBoard steps. Leave hydra.run.dir unset to train a "
                "new branch beside the run, or resume from checkpoints/last.ckpt.")
        log.info("resuming: continuing run %s in place from %s (generator iteration %d)", source, ckpt.name, g_iter)
        return overrides
    if any((output_dir / "checkpoints").glob("*.ckpt")):
        raise CheckpointError(f"the run directory {output_dir} already holds checkpoints of another run; a run "
                              f"branched from {ckpt} needs a new directory (leave hydra.run.dir unset)")
    log.info("resuming: branching a new run %s from %s (generator iteration %d); %s is left untouched",
             output_dir, ckpt, g_iter, source or ckpt)
    with open_dict(cfg):
        cfg.branched_from = str(ckpt)
    return [o for o in overrides if _key(o) != "branched_from"] + [f"+branched_from={ckpt}"]


def record_config(cfg: DictConfig, overrides: list[str]) -> None:
    """A resumed run's config and overrides in its Hydra output folder (`.hydra/` of a branch,
    `.hydra/resumed_<date>_<time>/` of a run continued in place): the composed truth, where Hydra wrote
    what the command line alone composes."""
    if not HydraConfig.initialized() or HydraConfig.get().output_subdir is None:
        return
    folder = Path(HydraConfig.get().runtime.output_dir) / HydraConfig.get().output_subdir
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / "config.yaml")
    OmegaConf.save(OmegaConf.create(list(overrides)), folder / "overrides.yaml")


def run_dir_of(ckpt_path: str | Path) -> Path | None:
    """The run directory a checkpoint belongs to (<run>/checkpoints/x.ckpt -> <run>), if it is one."""
    path = Path(ckpt_path).resolve()
    return path.parent.parent if path.parent.name == "checkpoints" else None


def training_state(path: str | Path) -> tuple[int, int] | None:
    """(generator iteration, discriminator step) a ganlab checkpoint holds; None if it is not one.
    Memory-mapped: only the small entries are read, whatever the size of the file."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        state = checkpoint[STATE_KEY]
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


def resumed_run_dir(ckpt_path: str | None, fresh: str, timestamp: str) -> str:
    """The run directory of `train.py [ckpt_path=...]` (conf/hydra/default.yaml, `hydra.run.dir`): no
    checkpoint, `fresh` (claimed for this run: `fresh_2`, ... when another run has it); the newest
    state of a run, that run's directory (training continues in place); any other checkpoint of a
    run, a new directory beside it named after the checkpoint
    (`<run>_branch_iter_0000010_<date>_<time>`), so nothing of that run is overwritten; a checkpoint
    outside any run, a fresh directory."""
    path = Path(ckpt_path).expanduser() if ckpt_path else None
    run_dir = run_dir_of(path) if path is not None else None
    if run_dir is None:
        return run_dirs.fresh_dir(fresh)
    if is_newest_state(path):
        return str(run_dir)
    return run_dirs.fresh_dir(str(branch_dir(run_dir, path, timestamp)))


def branch_dir(run_dir: Path, ckpt_path: Path, timestamp: str) -> Path:
    """Where a run resumed from an older checkpoint of `run_dir` goes: beside it, named after both."""
    return run_dir.with_name(f"{run_dir.name}_branch_{ckpt_path.stem}_{timestamp}")


def hydra_output_subdir(ckpt_path: str | None, run_dir: str, timestamp: str) -> str:
    """Where Hydra records a run's config (`hydra.output_subdir`): `.hydra`, except for a run continued
    in place (the directory of `ckpt_path`'s run), then `.hydra/resumed_<date>_<time>`, so the record
    of how the run started is kept."""
    if ckpt_path and run_dir_of(Path(ckpt_path).expanduser()) == Path(run_dir).resolve():
        return f".hydra/resumed_{timestamp}"
    return ".hydra"


def tensorboard_version(cfg: DictConfig, checkpoint: dict[str, Any]) -> str | None:
    """The TensorBoard run (the logger's `version`) a run continued in place logs to: the one that
    logged its latest steps, when none of them lies past the checkpoint (after a graceful stop: the
    curves simply go on); else, as after kill -9, a new `resumed_from_iter_XXXXXXX` beside it, so the
    killed process's values past the checkpoint stay as they were and no (tag, step) gets a second,
    different value. None: not continued in place, or no TensorBoard logs yet (the config's own)."""
    output_dir = Path(cfg.paths.output_dir).resolve()
    if run_dir_of(Path(cfg.ckpt_path)) != output_dir:
        return None
    root = output_dir / "tensorboard"
    g_iter = int(checkpoint[STATE_KEY]["g_iter"])
    newest: tuple[int, str] | None = None  # (largest step, version) over the runs there
    for folder in sorted({p.parent for p in root.rglob("events.out.tfevents.*")}):
        step = _last_step(folder)
        if newest is None or step >= newest[0]:
            newest = (step, "" if folder == root else str(folder.relative_to(root)))
    if newest is None:
        return None
    if newest[0] <= g_iter:
        return newest[1] or None
    name = f"resumed_from_iter_{g_iter:07d}"
    version = next(v for v in (name if n == 1 else f"{name}_{n}" for n in range(1, 10_000)) if not (root / v).exists())
    log.info("resuming: TensorBoard has steps past generator iteration %d (a process killed after the checkpoint); "
             "this run logs to %s, the earlier values stay as they were", g_iter, root / version)
    return version


def _last_step(folder: Path) -> int:
    """The largest step of the TensorBoard events in `folder` (0 if none can be read)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    step = 0
    for path in folder.glob("events.out.tfevents.*"):
        try:
            for event in EventFileLoader(str(path)).Load():
                if event.HasField("summary"):
                    step = max(step, int(event.step))
        except Exception:  # noqa: BLE001 - a truncated last record (the process was killed mid-write)
            continue
    return step
