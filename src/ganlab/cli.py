"""Entry-point helpers: user errors become one clear message instead of a traceback."""
from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from hydra.errors import InstantiationException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from ganlab.checkpoints import CheckpointError
from ganlab.config_checks import ConfigError, check_writable_dir
from ganlab.module import DivergenceError

log = logging.getLogger("ganlab")

# Errors caused by the user's config, files or data, reported without a traceback.
USER_ERRORS = (ConfigError, CheckpointError, FileNotFoundError, NotADirectoryError, PermissionError,
               InstantiationException, DivergenceError)
EXIT_USER_ERROR = 2


def report_errors(function: Callable[..., Any], *args: Any) -> Any:
    """Calls function(*args); a user error is printed as one `error: ...` message on stderr (and
    recorded in the run's log file) and exits with status 2. GANLAB_TRACEBACK=1 shows the traceback."""
    try:
        return function(*args)
    except USER_ERRORS as error:
        if os.environ.get("GANLAB_TRACEBACK"):
            raise
        message = user_message(error)
        _record_in_log_files(message)
        print(f"error: {message}\n(set GANLAB_TRACEBACK=1 for the full traceback)", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


def user_message(error: BaseException) -> str:
    """The message of a user error. Hydra wraps what a constructor raised in an InstantiationException
    ("Error in call to target ...", the exception's repr, "full_key: ..."): that becomes
    `<config key> (<class>): <message>`, or just the message of an error that already names its key."""
    if not isinstance(error, InstantiationException):
        return str(error).strip()
    cause = error.__cause__
    if cause is None:
        return str(error).strip()
    if isinstance(cause, USER_ERRORS):
        return user_message(cause)
    text = str(error)
    key = re.search(r"^full_key: (\S+)", text, re.MULTILINE)
    target = re.search(r"target '([^']+)'", text)
    where = key.group(1) if key else "config"
    if target:
        where += f" ({target.group(1).rsplit('.', 1)[-1]})"
    return f"{where}: {str(cause).strip() or type(cause).__name__}"


def _record_in_log_files(message: str) -> None:
    """Writes the error to the run's log file (train.log) only: the console gets it once, on stderr."""
    record = log.makeRecord(log.name, logging.ERROR, __file__, 0, message, None, None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


class CheckOutputDir(Callback):
    """A Hydra callback (conf/hydra/default.yaml, `hydra.callbacks`): before Hydra creates the run
    directory and its log file, checks that it can be created and written, so an unwritable location
    is one `error: ...` message (exit status 2) rather than a traceback from inside Hydra."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config, "hydra.sweep.dir")

    @staticmethod
    def _check(config: DictConfig, key: str) -> None:
        path = OmegaConf.select(config, key)
        if path is None:
            return
        try:
            check_writable_dir(str(path), key)
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            # Hydra turns a callback's exceptions into warnings and carries on; SystemExit stops it.
            raise SystemExit(EXIT_USER_ERROR) from None
