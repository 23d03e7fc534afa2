"""Entry-point helpers: user errors become one clear message instead of a traceback."""
from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from hydra.errors import InstantiationException

from ganlab.checkpoints import CheckpointError
from ganlab.config_checks import ConfigError
from ganlab.module import DivergenceError

log = logging.getLogger("ganlab")

# Errors caused by the user's config, files or data, reported without a traceback.
USER_ERRORS = (ConfigError, CheckpointError, FileNotFoundError, NotADirectoryError, PermissionError,
               InstantiationException, DivergenceError)


def report_errors(function: Callable[..., Any], *args: Any) -> Any:
    """Calls function(*args); a user error is printed as `error: ...` and exits with status 2.
    Set GANLAB_TRACEBACK=1 to see the full traceback instead."""
    try:
        return function(*args)
    except USER_ERRORS as error:
        if os.environ.get("GANLAB_TRACEBACK"):
            raise
        message = str(error).strip()
        log.error(message)
        print(f"error: {message}\n(set GANLAB_TRACEBACK=1 for the full traceback)", file=sys.stderr)
        raise SystemExit(2) from None
