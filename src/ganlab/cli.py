"""Entry-point helpers: user errors become one clear message instead of a traceback; the command
line is checked for unknown keys before Hydra runs; the console is kept free of library noise."""
from __future__ import annotations

import difflib
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hydra.errors import ConfigCompositionException, InstantiationException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ganlab import interrupt, run_dirs
from ganlab.checkpoints import CheckpointError, missing_checkpoint
from ganlab.checks import BadValue
from ganlab.config_checks import ConfigError, check_writable_dir, leaves
from ganlab.divergence import DivergenceError
from ganlab.resume import hydra_output_subdir, resumed_run_dir, run_dir_of
from ganlab.sweep import JobFailed, in_multirun, job_dirname

log = logging.getLogger("ganlab")

# Errors caused by the user's config, files or data, reported without a traceback.
USER_ERRORS = (ConfigError, CheckpointError, FileNotFoundError, NotADirectoryError, PermissionError,
               InstantiationException, DivergenceError)
EXIT_USER_ERROR = 2

# conf/hydra/default.yaml: where a run (or a resumed one) writes, decided (and claimed) before Hydra creates it.
OmegaConf.register_new_resolver("ganlab_run_dir", resumed_run_dir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("ganlab_sweep_dir", run_dirs.fresh_sweep_dir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("ganlab_hydra_subdir", hydra_output_subdir, use_cache=True, replace=True)
OmegaConf.register_new_resolver("ganlab_job_dirname", job_dirname, use_cache=True, replace=True)  # sweep jobs


def report_errors(function: Callable[..., Any], *args: Any) -> Any:
    """Calls function(*args); a user error is printed as one `error: ...` message on stderr (and
    recorded in the run's log file) and exits with status 2. In a job of a sweep it fails that job
    only (JobFailed: Hydra records it and runs the others; summary.csv keeps the error).
    GANLAB_TRACEBACK=1 shows the traceback."""
    try:
        return function(*args)
    except USER_ERRORS as error:
        if os.environ.get("GANLAB_TRACEBACK"):
            raise
        report(user_message(error))
        if in_multirun():  # the job's directory keeps its row of the sweep summary
            raise JobFailed("the job failed with the error above (every job's status and error: summary.csv "
                            "in the sweep directory)") from error
        interrupt.discard_created()  # a run that never started leaves no empty run directory behind
        raise SystemExit(EXIT_USER_ERROR) from None


def report(message: str) -> None:
    """The one-line `error: ...` on stderr, also recorded in the run's log file."""
    _record_in_log_files(message)
    print(f"error: {message}\n(set GANLAB_TRACEBACK=1 for the full traceback)", file=sys.stderr)


def user_message(error: BaseException) -> str:
    """The message of a user error. Hydra wraps what a constructor raised in an InstantiationException
    ("Error in call to target ...", the exception's repr, "full_key: ..."): that becomes
    `<config key> (<class>): <message>`, `<config key>.<argument> must be ...` for a value a constructor
    refused (ganlab.checks), or just the message of an error that already names its key."""
    if not isinstance(error, InstantiationException):
        return str(error).strip()
    cause = error.__cause__
    if cause is None:
        return str(error).strip()
    text = str(error)
    key = re.search(r"^full_key: (\S+)", text, re.MULTILINE)
    if isinstance(cause, BadValue) and key:
        return str(cause.under(key.group(1)))
    target = re.search(r"target '([^']+)'", text)
    where = key.group(1) if key else "config"
    if target:
        where += f" ({target.group(1).rsplit('.', 1)[-1]})"
    if isinstance(cause, USER_ERRORS):
        message = user_message(cause)  # named by its key already, or else named here by the node's
        named = not key or not isinstance(cause, ConfigError) or message.startswith(key.group(1).split(".")[0])
        return message if named else f"{where}: {message}"
    return f"{where}: {str(cause).strip() or type(cause).__name__}"


def _record_in_log_files(message: str) -> None:
    """Writes the error to the run's log file (train.log) only: the console gets it once, on stderr."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


# --- the command line, before Hydra --------------------------------------------------------------

# (config, key) -> what to type instead: keys that a config group of the same name shadows.
RENAMED = {
    ("sample", "ema"): "sample.py chooses the generator's weights with weights=trained (the trained weights), "
                       "weights=ema (require the EMA) or weights=auto (the default: the EMA when the run kept one)",
}


def check_command_line(config_dir: str | Path, config_name: str, args: Sequence[str]) -> None:
    """Exits with one `error: ...` line (status 2) when an override names a key the config does not
    have, naming the closest key that exists (`optim.generator.lrr=1` -> `optim.generator.lr`).
    Hydra alone would only suggest appending the key with `+`. A user's config directory
    (`--config-dir DIR`, `hydra.searchpath=[...]`) is searched as Hydra searches it. Sweeps, Hydra's
    other keys and flags are left to Hydra."""
    args, config_dirs = split_config_dirs(args)
    if any(a.startswith("-") for a in args if a not in ("-m", "--multirun")):
        return  # --help, --cfg, -cn ...: Hydra's business
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides([a for a in args if a not in ("-m", "--multirun")])
    except Exception:  # noqa: BLE001 - a syntax error: Hydra explains it
        return
    search_path = [str(entry) for o in parsed if o.get_key_element() == "hydra.searchpath"
                   for entry in (o.value() if isinstance(o.value(), list) else [o.value()])]
    search_path += [f"file://{Path(d).resolve()}" for d in config_dirs]
    plain = [o.input_line for o in parsed if not o.is_sweep_override() and not o.is_hydra_override()]
    for override in plain:
        replacement = RENAMED.get((config_name, override.split("=", 1)[0].lstrip("+~")))
        if replacement:
            print(f"error: {override}: {replacement}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR)
    if search_path:
        plain.append("hydra.searchpath=[" + ",".join(f"'{entry}'" for entry in search_path) + "]")
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            compose(config_name, overrides=plain)
            return
    except ConfigCompositionException as error:
        match = re.match(r"Could not override '([^']+)'", str(error))
        if match is None:
            return  # e.g. an unknown option of a group: Hydra's message lists the options
        key = match.group(1)
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            others = [o for o in plain if o.split("=", 1)[0] != key]
            try:
                config = compose(config_name, overrides=others)
            except Exception:  # noqa: BLE001
                return
        print(f"error: {unknown_key_message(key, config)}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None
    except Exception:  # noqa: BLE001 - anything else: Hydra reports it as usual
        return
    finally:
        GlobalHydra.instance().clear()


def split_config_dirs(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Hydra's `--config-dir DIR` / `--config-dir=DIR` / `-cd DIR` (a user's config directory, searched
    after the packaged configs) taken out of `args`: (the other arguments, the directories)."""
    rest: list[str] = []
    dirs: list[str] = []
    items = iter(args)
    for arg in items:
        if arg in ("--config-dir", "-cd"):
            dirs.append(next(items, ""))
        elif arg.startswith("--config-dir="):
            dirs.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
    return rest, dirs


def check_checkpoint_exists(args: Sequence[str]) -> None:
    """`train.py ckpt_path=<no such file>`: one `error: ...` line (status 2) before Hydra creates a run
    directory for a run that cannot start."""
    paths = [a.split("=", 1)[1] for a in args if a.lstrip("+").startswith("ckpt_path=")]
    if len(paths) == 1 and paths[0] not in ("", "null") and "," not in paths[0]:
        problem = missing_checkpoint(paths[0])
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            raise SystemExit(EXIT_USER_ERROR)


def config_keys(config: DictConfig) -> list[str]:
    """Every dotted key of the config: nodes and leaves."""
    keys = []
    for key, _ in leaves(OmegaConf.to_container(config, resolve=False)):
        parts = key.split(".")
        keys.extend(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return list(dict.fromkeys(keys))


def unknown_key_message(key: str, config: DictConfig) -> str:
    keys = config_keys(config)
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}?" if close else (
        "keys there: " + ", ".join(k for k in keys if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0] and "." in k)
        if "." in key else "see conf/ for the keys")
    return f"{key} is not a config key; {hint} (to add a new key on purpose: +{key}=...)"


# --- the console -----------------------------------------------------------------------------------

class _DropLightningTips(logging.Filter):
    """Lightning's advertising ("💡 Tip: ... try installing [litlogger] ..."); everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip:")


def quiet_console() -> None:
    """Drops two messages that mean nothing to a ganlab user, and only those: Lightning's tips about
    its cloud products and PyTorch's deprecation of `LeafSpec` (raised inside Lightning's own code)."""
    for name in ("lightning_fabric.utilities.rank_zero", "pytorch_lightning.utilities.rank_zero",
                 "lightning.pytorch.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropLightningTips) for f in logger.filters):
            logger.addFilter(_DropLightningTips())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)


class CheckOutputDir(Callback):
    """A Hydra callback (conf/hydra/default.yaml, `hydra.callbacks`): before Hydra creates the run (or
    sweep) directory and its log file, checks that it can be created and written, and claims it for
    this run (ganlab.run_dirs): a directory that holds another run is refused with one `error: ...`
    message (exit status 2), unless this is that run resumed in place. A directory this creates is
    removed again if start-up fails or is interrupted."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, key: str) -> None:
        path = OmegaConf.select(config, key)  # the default resolves (and claims) a fresh directory
        if path is None:
            return
        new = not Path(str(path)).exists()
        try:
            check_writable_dir(str(path), key)
        except ConfigError as error:
            _refuse(str(error))
        ckpt_path = OmegaConf.select(config, "ckpt_path") if key == "hydra.run.dir" else None
        resumed_here = ckpt_path and run_dir_of(Path(str(ckpt_path)).expanduser()) == Path(str(path)).resolve()
        marker = run_dirs.SWEEP_MARKER if key == "hydra.sweep.dir" else run_dirs.MARKER
        if not resumed_here and not run_dirs.claim_named(str(path), marker):
            what = "sweep" if key == "hydra.sweep.dir" else "run"
            cont = ("" if what == "sweep" else
                    f"; to continue that run: ckpt_path={Path(str(path)) / 'checkpoints' / 'last.ckpt'}")
            _refuse(f"{key}={path} already holds another {what}: a new {what} needs its own directory (nothing of "
                    f"the other is overwritten). Leave {key} unset for a new dated one, or choose another{cont}")
        if new:
            interrupt.created_during_startup(Path(str(path)))


def _refuse(message: str) -> None:
    # Hydra turns a callback's exceptions into warnings and carries on; SystemExit stops it.
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(EXIT_USER_ERROR) from None
